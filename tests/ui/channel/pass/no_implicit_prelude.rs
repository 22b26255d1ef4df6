// Generated code names everything by absolute paths.
#![no_implicit_prelude]

#[::axum_realtime::channel("chat")]
struct ChatMsg {
    text: ::std::string::String,
}

#[::axum_realtime::channel("chat-html")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: ::std::string::String,
}

fn main() {
    let rt = ::axum_realtime::Realtime::new();
    let msg = ChatMsg { text: ::std::string::String::new() };
    let _ = msg.send(&rt, &::axum_realtime::RequestAuth::guest());
    let page = MessageHtml { text: ::std::string::String::new() };
    let _ = page.capture_to(&rt, ::axum_realtime::everyone);
}
