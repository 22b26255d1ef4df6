//! Typed channels: a type that is a channel's payload, and the registry of every channel in
//! the program.
//!
//! [`#[channel("name")]`](macro@crate::channel) implements [`Channel`] and either
//! [`JsonChannel`](crate::JsonChannel) (whose `send` / `send_to` send the value as JSON) or,
//! on an askama template, [`HtmlChannel`](crate::HtmlChannel) (whose `capture` /
//! `capture_to` broadcast the rendered HTML).

use std::collections::HashMap;
use std::fmt;

/// A typed channel: the implementing type is the payload, [`Channel::NAME`] the topic it is
/// sent on. Implemented by [`#[channel("name")]`](macro@crate::channel), never by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a realtime channel",
    label = "not a channel payload",
    note = "declare it with `#[axum_realtime::channel(\"name\")]` on the struct"
)]
pub trait Channel {
    /// The channel's name: the topic clients subscribe to.
    const NAME: &'static str;
}

/// What the payload of a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// A serializable value, sent as JSON.
    Json,
    /// An askama template, sent as its rendered HTML in a JSON string.
    Html,
}

/// One channel declared with [`#[channel]`](macro@crate::channel) somewhere in the program.
#[derive(Debug)]
pub struct ChannelInfo {
    /// The channel's name.
    pub name: &'static str,
    /// The payload type's path, e.g. `my_app::chat::ChatMsg`.
    pub type_path: &'static str,
    /// What the payload is.
    pub kind: ChannelKind,
    /// What the channel keeps of its recent sends, for clients that reconnect
    /// (`#[channel("chat", history = 100, ttl_secs = 300)]`); `None` keeps nothing.
    pub history: Option<ChannelHistory>,
}

/// How much of its past a channel keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelHistory {
    /// The most sends kept.
    pub count: usize,
    /// How long each is kept.
    pub ttl: std::time::Duration,
}

inventory::collect!(ChannelInfo);

/// Every channel the program declares, in no particular order.
pub fn channels() -> impl Iterator<Item = &'static ChannelInfo> {
    inventory::iter::<ChannelInfo>.into_iter()
}

/// Two payload types declared the same channel name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateChannel {
    /// The name both declare.
    pub name: &'static str,
    /// The two payload types.
    pub types: [&'static str; 2],
}

impl fmt::Display for DuplicateChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "channel `{}` is declared by two types, `{}` and `{}`; a channel name belongs to \
             one payload type, so rename one of them",
            self.name, self.types[0], self.types[1]
        )
    }
}

impl std::error::Error for DuplicateChannel {}

/// Checks that no two types share a channel name.
pub(crate) fn check_unique<'a>(
    channels: impl IntoIterator<Item = &'a ChannelInfo>,
) -> Result<(), DuplicateChannel> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for info in channels {
        if let Some(first) = seen.insert(info.name, info.type_path)
            && first != info.type_path
        {
            let mut types = [first, info.type_path];
            types.sort_unstable();
            return Err(DuplicateChannel {
                name: info.name,
                types,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn info(name: &'static str, type_path: &'static str) -> ChannelInfo {
        ChannelInfo {
            name,
            type_path,
            kind: ChannelKind::Json,
            history: None,
        }
    }

    #[test]
    fn two_types_on_one_name_are_refused() {
        let channels = [
            info("chat", "a::Chat"),
            info("news", "a::News"),
            info("chat", "b::Other"),
        ];
        let err = check_unique(&channels).unwrap_err();
        assert_eq!(err.name, "chat");
        assert_eq!(err.types, ["a::Chat", "b::Other"]);
        assert!(check_unique(&channels[..2]).is_ok());
    }
}
