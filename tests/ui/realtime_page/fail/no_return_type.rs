#[axum_realtime::realtime_page]
async fn post_chat(body: String) {
    let _ = body;
}

fn main() {}
