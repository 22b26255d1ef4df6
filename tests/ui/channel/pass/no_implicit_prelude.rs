// Generated code names everything by absolute paths.
#![no_implicit_prelude]

#[::realtime::channel("chat")]
struct ChatMsg {
    text: ::std::string::String,
}

#[::realtime::channel("chat-html")]
#[template(source = "{{ text }}", ext = "html")]
struct MessageHtml {
    text: ::std::string::String,
}

fn main() {
    let rt = ::realtime::Realtime::new();
    let msg = ChatMsg { text: ::std::string::String::new() };
    let _ = msg.send(&rt, &::realtime::RequestAuth::guest());
    let page = MessageHtml { text: ::std::string::String::new() };
    let _ = page.capture_to(&rt, ::realtime::everyone);
}
