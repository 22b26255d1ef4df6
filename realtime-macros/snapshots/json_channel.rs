#[derive(::realtime::__private::serde::Serialize)]
#[serde(crate = "::realtime::__private::serde")]
pub struct ChatMsg {
    pub user: String,
    pub text: String,
}
impl ::realtime::Channel for ChatMsg {
    const NAME: &'static str = "chat";
}
#[allow(dead_code)]
impl ChatMsg {
    /// Sends this message on channel `chat` with the seed's default filter: when `sender` is authenticated, only clients authenticated as the same user receive it; when `sender` is a guest, every subscriber does.
    ///
    /// # Errors
    ///
    /// If the message cannot be encoded as JSON; nothing is sent then.
    pub fn send(
        &self,
        rt: &::realtime::Realtime,
        sender: &::realtime::RequestAuth,
    ) -> ::core::result::Result<::realtime::Delivery, ::realtime::SendError> {
        ::realtime::__private::send_json(self, rt, ::realtime::default_for(sender))
    }
    /// Sends this message on channel `chat` to the subscribers `filter` accepts.
    ///
    /// # Errors
    ///
    /// If the message cannot be encoded as JSON; nothing is sent then.
    pub fn send_to<F>(
        &self,
        rt: &::realtime::Realtime,
        filter: F,
    ) -> ::core::result::Result<::realtime::Delivery, ::realtime::SendError>
    where
        F: ::core::ops::Fn(&::realtime::ClientId, &::realtime::Client) -> bool,
    {
        ::realtime::__private::send_json(self, rt, filter)
    }
}
::realtime::__private::inventory::submit! {
    ::realtime::__private::channel_info("chat", ::core::concat!(::core::module_path!(),
    "::", ::core::stringify!(ChatMsg)), false,)
}
