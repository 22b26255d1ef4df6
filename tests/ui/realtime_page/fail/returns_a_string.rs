#[axum_realtime::realtime_page]
async fn post_chat(body: String) -> String {
    body
}

fn main() {}
