//! Client ids: the only handle a `POST /api/realtime` has on a stream, so they must be
//! unguessable.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LEN: usize = 40;

/// The id of one connected stream: 40 characters of `[A-Za-z0-9]` from the operating system's
/// cryptographic random source, as PocketBase makes them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(Arc<str>);

impl ClientId {
    /// Makes a fresh random id.
    ///
    /// # Panics
    ///
    /// Panics if the operating system has no random source to offer, which leaves no safe way
    /// to name a client.
    #[must_use]
    pub fn random() -> Self {
        Self::on_node("")
    }

    /// A fresh id that starts with `node` (a node's tag, of characters of the same alphabet),
    /// the rest random: any node can tell where the client lives. A tag of 8 characters leaves
    /// 32 random ones, 190 bits.
    pub(crate) fn on_node(node: &str) -> Self {
        let mut id = String::with_capacity(LEN);
        id.push_str(&node[..node.len().min(LEN / 2)]);
        let mut bytes = [0u8; 64];
        while id.len() < LEN {
            getrandom::fill(&mut bytes).expect("the operating system's random source failed");
            // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
            for &b in bytes.iter().filter(|&&b| b < 248) {
                if id.len() == LEN {
                    break;
                }
                id.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
        Self(id.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ClientId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for ClientId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<String> for ClientId {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<&str> for ClientId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_forty_alphanumerics_and_distinct() {
        let ids: HashSet<_> = (0..1000).map(|_| ClientId::random()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids {
            assert_eq!(id.as_str().len(), 40);
            assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
}
