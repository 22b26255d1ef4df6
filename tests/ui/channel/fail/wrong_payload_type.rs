use axum_realtime::{Realtime, RequestAuth, channel};

#[channel("chat")]
struct ChatMsg {
    text: String,
}

#[channel("news")]
struct NewsItem {
    headline: String,
}

fn main() {
    let rt = Realtime::new();
    let news = NewsItem { headline: "up".into() };
    let _ = ChatMsg::send(&news, &rt, &RequestAuth::guest());
}
