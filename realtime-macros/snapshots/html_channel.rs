#[derive(Template)]
#[template(
    path = "chat.html",
    block = "messages",
    askama = my_realtime::__private::askama
)]
struct MessageHtml {
    messages: [Message; 1],
}
#[automatically_derived]
impl my_realtime::Channel for MessageHtml {
    const NAME: &'static str = "chat-html";
}
#[automatically_derived]
impl my_realtime::HtmlChannel for MessageHtml {}
#[automatically_derived]
impl my_realtime::__private::PageChannel for MessageHtml {
    type Channel = Self;
    type Kind = my_realtime::__private::HtmlKind;
}
#[automatically_derived]
#[allow(dead_code)]
impl MessageHtml {
    /// Renders this template once and broadcasts it on channel `chat-html` with the default filter (the sender's own user, or everyone when a guest sends): [`HtmlChannel::capture`](my_realtime::HtmlChannel::capture).
    fn capture(
        &self,
        rt: &my_realtime::Realtime,
        sender: &my_realtime::RequestAuth,
    ) -> ::core::result::Result<
        my_realtime::capture::Captured,
        my_realtime::capture::CaptureError,
    > {
        <Self as my_realtime::HtmlChannel>::capture(self, rt, sender)
    }
    /// Renders this template once and broadcasts it on channel `chat-html` to the subscribers `filter` (an `axum_realtime::Filter`) accepts on every node: [`HtmlChannel::capture_to`](my_realtime::HtmlChannel::capture_to).
    fn capture_to(
        &self,
        rt: &my_realtime::Realtime,
        filter: impl my_realtime::IntoFilter,
    ) -> ::core::result::Result<
        my_realtime::capture::Captured,
        my_realtime::capture::CaptureError,
    > {
        <Self as my_realtime::HtmlChannel>::capture_to(self, rt, filter)
    }
    /// Renders this template once and broadcasts it on channel `chat-html` to the subscribers on this node that `filter` (any closure) accepts: [`HtmlChannel::capture_local`](my_realtime::HtmlChannel::capture_local).
    fn capture_local<F>(
        &self,
        rt: &my_realtime::Realtime,
        filter: F,
    ) -> ::core::result::Result<
        my_realtime::capture::Captured,
        my_realtime::capture::CaptureError,
    >
    where
        F: ::core::ops::Fn(&my_realtime::ClientId, &my_realtime::Client) -> bool,
    {
        <Self as my_realtime::HtmlChannel>::capture_local(self, rt, filter)
    }
}
my_realtime::__private::inventory::submit! {
    my_realtime::__private::channel_info("chat-html",
    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(MessageHtml)),
    my_realtime::channel::ChannelKind::Html, 0usize, 0u64,)
}
