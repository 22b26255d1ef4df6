// An HTML channel is captured, not sent: code generic over JSON channels refuses a template.
use axum_realtime::{JsonChannel, Realtime, RequestAuth, channel};

#[channel("chat-html")]
#[template(source = "<p>{{ text }}</p>", ext = "html")]
struct MessageHtml {
    text: String,
}

fn notify<T: JsonChannel>(message: &T, rt: &Realtime) {
    let _ = message.send(rt, &RequestAuth::guest());
}

fn main() {
    let rt = Realtime::new();
    notify(&MessageHtml { text: "hi".into() }, &rt);
}
