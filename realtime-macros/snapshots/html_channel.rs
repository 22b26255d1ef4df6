#[derive(Template)]
#[template(
    path = "chat.html",
    block = "messages",
    askama = my_realtime::__private::askama
)]
struct MessageHtml {
    messages: [Message; 1],
}
impl my_realtime::Channel for MessageHtml {
    const NAME: &'static str = "chat-html";
}
impl my_realtime::HtmlChannel for MessageHtml {}
#[allow(dead_code)]
impl MessageHtml {
    /// Renders this template once and broadcasts the HTML on channel `chat-html` with the seed's default filter; the result answers the requester with the same HTML.
    ///
    /// # Errors
    ///
    /// If the template fails to render; nothing is broadcast then.
    fn capture(
        &self,
        rt: &my_realtime::Realtime,
        sender: &my_realtime::RequestAuth,
    ) -> ::core::result::Result<my_realtime::capture::Captured, my_realtime::capture::CaptureError> {
        my_realtime::capture::capture(self, rt, my_realtime::filter::same_user_or_all(sender))
    }
    /// Renders this template once and broadcasts the HTML on channel `chat-html` to the subscribers `filter` accepts; the result answers the requester with the same HTML.
    ///
    /// # Errors
    ///
    /// If the template fails to render; nothing is broadcast then.
    fn capture_to<F>(
        &self,
        rt: &my_realtime::Realtime,
        filter: F,
    ) -> ::core::result::Result<my_realtime::capture::Captured, my_realtime::capture::CaptureError>
    where
        F: ::core::ops::Fn(&my_realtime::ClientId, &my_realtime::Client) -> bool,
    {
        my_realtime::capture::capture(self, rt, filter)
    }
}
my_realtime::__private::inventory::submit! {
    my_realtime::__private::channel_info("chat-html",
    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(MessageHtml)),
    true,)
}
