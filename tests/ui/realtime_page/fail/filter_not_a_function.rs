#[axum_realtime::channel("chat")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: String,
}

#[axum_realtime::realtime_page(filter = true)]
async fn post_chat(body: String) -> MessageHtml {
    MessageHtml { text: body }
}

fn main() {}
