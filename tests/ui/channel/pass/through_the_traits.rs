// The methods `#[channel]` gives are those of `JsonChannel` and `HtmlChannel`: code generic
// over channels calls them through the traits, and importing a trait leaves the inherent
// call unambiguous.
use axum_realtime::{Delivery, HtmlChannel, JsonChannel, Realtime, RequestAuth, channel};

#[channel("chat")]
struct ChatMsg {
    text: String,
}

#[channel("chat-html")]
#[template(source = "<p>{{ text }}</p>", ext = "html")]
struct MessageHtml {
    text: String,
}

fn announce<T: JsonChannel>(message: &T, rt: &Realtime) -> Delivery {
    message.send_to(rt, axum_realtime::everyone).unwrap()
}

fn render_and_broadcast<T: HtmlChannel>(page: &T, rt: &Realtime) -> String {
    page.capture(rt, &RequestAuth::guest()).unwrap().html
}

fn main() {
    let rt = Realtime::new();
    let msg = ChatMsg { text: "hi".into() };
    assert_eq!(announce(&msg, &rt).reached, 0);
    let _ = msg.send(&rt, &RequestAuth::guest()).unwrap();
    let _ = JsonChannel::send(&msg, &rt, &RequestAuth::guest()).unwrap();
    let page = MessageHtml { text: "<b>".into() };
    assert_eq!(render_and_broadcast(&page, &rt), "<p>&#60;b&#62;</p>");
    let _ = HtmlChannel::capture_to(&page, &rt, axum_realtime::everyone).unwrap();
    let _ = HtmlChannel::capture_local(&page, &rt, |_, _| true).unwrap();
    let _ = JsonChannel::send_local(&msg, &rt, |_, _| true).unwrap();
}
