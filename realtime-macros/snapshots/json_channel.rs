#[derive(::axum_realtime::__private::serde::Serialize)]
#[serde(crate = "::axum_realtime::__private::serde")]
pub struct ChatMsg {
    pub user: String,
    pub text: String,
}
impl ::axum_realtime::Channel for ChatMsg {
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
        rt: &::axum_realtime::Realtime,
        sender: &::axum_realtime::RequestAuth,
    ) -> ::core::result::Result<::axum_realtime::Delivery, ::axum_realtime::SendError> {
        ::axum_realtime::__private::send_json(self, rt, ::axum_realtime::filter::same_user_or_all(sender))
    }
    /// Sends this message on channel `chat` to the subscribers `filter` accepts.
    ///
    /// # Errors
    ///
    /// If the message cannot be encoded as JSON; nothing is sent then.
    pub fn send_to<F>(
        &self,
        rt: &::axum_realtime::Realtime,
        filter: F,
    ) -> ::core::result::Result<::axum_realtime::Delivery, ::axum_realtime::SendError>
    where
        F: ::core::ops::Fn(&::axum_realtime::ClientId, &::axum_realtime::Client) -> bool,
    {
        ::axum_realtime::__private::send_json(self, rt, filter)
    }
}
::axum_realtime::__private::inventory::submit! {
    ::axum_realtime::__private::channel_info("chat", ::core::concat!(::core::module_path!(),
    "::", ::core::stringify!(ChatMsg)), false,)
}
