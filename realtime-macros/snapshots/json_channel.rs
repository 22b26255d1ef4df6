#[derive(::axum_realtime::__private::serde::Serialize)]
#[serde(crate = "::axum_realtime::__private::serde")]
pub struct ChatMsg {
    pub user: String,
    pub text: String,
}
#[automatically_derived]
impl ::axum_realtime::Channel for ChatMsg {
    const NAME: &'static str = "chat";
}
#[automatically_derived]
impl ::axum_realtime::JsonChannel for ChatMsg {}
#[automatically_derived]
impl ::axum_realtime::__private::PageChannel for ChatMsg {
    type Channel = Self;
    type Kind = ::axum_realtime::__private::JsonKind;
}
#[automatically_derived]
#[allow(dead_code)]
impl ChatMsg {
    /// Sends this message on channel `chat` with the default filter (the sender's own user, or everyone when a guest sends): [`JsonChannel::send`](::axum_realtime::JsonChannel::send).
    pub fn send(
        &self,
        rt: &::axum_realtime::Realtime,
        sender: &::axum_realtime::RequestAuth,
    ) -> ::core::result::Result<::axum_realtime::Delivery, ::axum_realtime::SendError> {
        <Self as ::axum_realtime::JsonChannel>::send(self, rt, sender)
    }
    /// Sends this message on channel `chat` to the subscribers `filter` (an `axum_realtime::Filter`) accepts on every node: [`JsonChannel::send_to`](::axum_realtime::JsonChannel::send_to).
    pub fn send_to(
        &self,
        rt: &::axum_realtime::Realtime,
        filter: impl ::axum_realtime::IntoFilter,
    ) -> ::core::result::Result<::axum_realtime::Delivery, ::axum_realtime::SendError> {
        <Self as ::axum_realtime::JsonChannel>::send_to(self, rt, filter)
    }
    /// Sends this message on channel `chat` to the subscribers on this node that `filter` (any closure) accepts: [`JsonChannel::send_local`](::axum_realtime::JsonChannel::send_local).
    pub fn send_local<F>(
        &self,
        rt: &::axum_realtime::Realtime,
        filter: F,
    ) -> ::core::result::Result<::axum_realtime::Delivery, ::axum_realtime::SendError>
    where
        F: ::core::ops::Fn(&::axum_realtime::ClientId, &::axum_realtime::Client) -> bool,
    {
        <Self as ::axum_realtime::JsonChannel>::send_local(self, rt, filter)
    }
}
::axum_realtime::__private::inventory::submit! {
    ::axum_realtime::__private::channel_info("chat",
    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(ChatMsg)),
    ::axum_realtime::channel::ChannelKind::Json, 0usize, 0u64,)
}
