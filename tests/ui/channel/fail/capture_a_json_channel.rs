// A JSON channel is sent, not captured: capture belongs to HTML channels.
use axum_realtime::{Realtime, RequestAuth, channel};

#[channel("notifications")]
struct Notice {
    text: String,
}

fn main() {
    let rt = Realtime::new();
    let notice = Notice { text: "saved".into() };
    let _ = notice.capture(&rt, &RequestAuth::guest());
    let _ = axum_realtime::capture::capture(&notice, &rt, axum_realtime::everyone);
}
