//! The body of `POST /api/realtime`: read within a size limit and a deadline, parsed with each
//! field bounded as it is read, and validated as PocketBase validates it.
//!
//! PocketBase decodes the whole body before it checks its limits (1000 keys, 2500 bytes a
//! key); done that way, one body of 8 million one-character keys costs hundreds of megabytes
//! before it is refused. Here nothing is kept that validation would refuse: at most 1000 keys
//! of at most 2500 bytes, and a client id of at most 255 bytes, beside the body itself. What is
//! not kept is still read, so that what parses and the errors reported are PocketBase's.

use std::borrow::Cow;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Body;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body::Body as _;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, Error, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::wire::api_error::{ApiError, field_error, out_of_range, too_long};
use crate::wire::sse;

#[cfg(test)]
mod tests;

const MAX_CLIENT_ID: usize = 255;
const MAX_SUBSCRIPTIONS: usize = 1000;
const MAX_KEY: usize = 2500;

/// The largest body read: 4 MiB. The largest set PocketBase accepts, 1000 keys of 2500 bytes,
/// is 2.5 MB as its clients send it (`JSON.stringify` escapes only quotes, backslashes and
/// control characters, and the SDK's option-bearing keys are `encodeURIComponent`'d ASCII);
/// 4 MiB leaves 1.6 MiB for escapes, whitespace and the client id. PocketBase's own 32 MiB is
/// one limit for every route, file uploads included; a subscription body never needs it, and
/// every concurrent POST may hold a buffer this large.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// How long a client may take to send its body. A real one is a few hundred bytes sent at
/// once, and a full 2.5 MB set takes 20 s at 1 Mbit/s; a client trickling its body holds a
/// handler and its buffer no longer than this.
const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// `{"clientId": "...", "subscriptions": ["chat", ...]}`, as JSON or as a form, with what
/// validation needs to know of what was not kept. Lengths are checked in bytes, as PocketBase
/// checks them.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct SubscribeRequest {
    /// Empty when the body's is over 255 bytes (`client_id_too_long`).
    pub(crate) client_id: String,
    /// The body's first 1000 keys, in order. A key over 2500 bytes is an empty placeholder
    /// (its index is in `too_long_keys`), so indices stay the body's.
    pub(crate) subscriptions: Vec<String>,
    client_id_too_long: bool,
    key_count: usize,
    too_long_keys: Vec<usize>,
}

impl SubscribeRequest {
    /// Reads the body whole, within [`MAX_BODY`] and [`BODY_DEADLINE`].
    pub(crate) async fn read_body(body: Body) -> Result<Vec<u8>, ApiError> {
        read_within(body, MAX_BODY, BODY_DEADLINE).await
    }

    /// Parses a JSON or form body, by its content type as PocketBase does (multipart forms,
    /// which no realtime client sends, are refused).
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if body.is_empty() {
            // PocketBase reads nothing from an empty body: the request is then "blank".
            Ok(Self::default())
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            Ok(Self::from_form(body))
        } else if content_type.starts_with("application/json") {
            // Only the first JSON value is read, as in PocketBase; trailing bytes are ignored.
            serde_json::Deserializer::from_slice(body)
                .into_iter::<Fields>()
                .next()
                .and_then(Result::ok)
                .map(Self::from)
                .ok_or_else(ApiError::bad_request)
        } else {
            Err(ApiError::bad_request())
        }
    }

    fn from_form(body: &[u8]) -> Self {
        let mut fields = Fields::default();
        for (name, value) in form_urlencoded::parse(body) {
            match &*name {
                // The last one counts, as in PocketBase.
                "clientId" => fields.client_id = ClientId::new(value),
                // Commas are not split: `chat,news` is one key, as in PocketBase.
                "subscriptions" => fields.subscriptions.push(value),
                _ => {}
            }
        }
        fields.into()
    }

    /// PocketBase's field validation; every failing field is reported at once.
    pub(crate) fn validate(&self) -> Result<(), ApiError> {
        let mut data = Map::new();
        if self.client_id_too_long {
            data.insert("clientId".into(), out_of_range(1, MAX_CLIENT_ID));
        } else if self.client_id.is_empty() {
            data.insert(
                "clientId".into(),
                field_error("validation_required", "Cannot be blank."),
            );
        }
        if self.key_count > MAX_SUBSCRIPTIONS {
            data.insert("subscriptions".into(), too_long(MAX_SUBSCRIPTIONS));
        } else {
            let mut bad: Vec<(String, Value)> = Vec::new();
            for (index, key) in self.subscriptions.iter().enumerate() {
                if self.too_long_keys.binary_search(&index).is_ok() {
                    bad.push((index.to_string(), too_long(MAX_KEY)));
                } else if !key.is_empty() && !sse::is_valid_event_name(key) {
                    bad.push((
                        index.to_string(),
                        field_error(
                            "validation_invalid_subscription",
                            "Must not contain line breaks or NUL characters.",
                        ),
                    ));
                }
            }
            if !bad.is_empty() {
                // Go orders map keys as strings ("10" before "2"); so do we, whatever serde's map.
                bad.sort_by(|a, b| a.0.cmp(&b.0));
                data.insert(
                    "subscriptions".into(),
                    Value::Object(bad.into_iter().collect()),
                );
            }
        }
        if data.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(data))
        }
    }
}

/// Reads `body` into one buffer of at most `limit` bytes, within `deadline`. Too large: 413
/// as PocketBase answers it; unreadable or too slow: 400, as PocketBase answers a body it
/// could not read.
async fn read_within(body: Body, limit: usize, deadline: Duration) -> Result<Vec<u8>, ApiError> {
    // A declared length over the limit is refused before a byte is read, as in PocketBase.
    if body.size_hint().lower() > limit as u64 {
        return Err(ApiError::too_large());
    }
    tokio::time::timeout(deadline, collect(body, limit))
        .await
        .map_err(|_| ApiError::bad_request())?
}

async fn collect(mut body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    // The buffer never grows past what may still come: the declared length, or the limit.
    let most = body
        .size_hint()
        .upper()
        .and_then(|declared| usize::try_from(declared).ok())
        .map_or(limit, |declared| declared.min(limit));
    let mut buffer = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame.map_err(|_| ApiError::bad_request())?.into_data() else {
            continue; // trailers
        };
        if data.len() > limit - buffer.len() {
            return Err(ApiError::too_large());
        }
        if buffer.capacity() - buffer.len() < data.len() {
            // By doubling, not to the declared length at once: a client that declares a large
            // body and sends little costs little.
            let wanted = (buffer.len() + data.len()).max((buffer.capacity() * 2).min(most));
            buffer.reserve_exact(wanted - buffer.len());
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer)
}

/// The body's fields, each bounded as it is read. Derived, so that what parses and what does
/// not stays serde's: an array `[id, keys]` is a body too, a repeated field is an error.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    #[serde(default)]
    client_id: ClientId,
    #[serde(default)]
    subscriptions: Keys,
}

impl From<Fields> for SubscribeRequest {
    fn from(fields: Fields) -> Self {
        let (client_id, client_id_too_long) = match fields.client_id {
            ClientId::Kept(id) => (id, false),
            ClientId::TooLong => (String::new(), true),
        };
        Self {
            client_id,
            subscriptions: fields.subscriptions.kept,
            client_id_too_long,
            key_count: fields.subscriptions.count,
            too_long_keys: fields.subscriptions.too_long,
        }
    }
}

/// A client id as read: past 255 bytes, validation only needs to know it was too long.
#[derive(Debug)]
enum ClientId {
    Kept(String),
    TooLong,
}

impl Default for ClientId {
    fn default() -> Self {
        Self::Kept(String::new())
    }
}

impl ClientId {
    fn new(id: Cow<'_, str>) -> Self {
        if id.len() > MAX_CLIENT_ID {
            Self::TooLong
        } else {
            Self::Kept(id.into_owned())
        }
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = ClientId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a client id")
            }
            fn visit_str<E: Error>(self, id: &str) -> Result<ClientId, E> {
                Ok(ClientId::new(Cow::Borrowed(id)))
            }
            fn visit_string<E: Error>(self, id: String) -> Result<ClientId, E> {
                Ok(ClientId::new(Cow::Owned(id)))
            }
        }
        deserializer.deserialize_string(Text)
    }
}

/// The subscription keys as read: the first 1000 are kept (a key over 2500 bytes as an empty
/// placeholder, its index in `too_long`), the rest only counted: past 1000, validation
/// reports the count alone.
#[derive(Debug, Default)]
struct Keys {
    kept: Vec<String>,
    too_long: Vec<usize>,
    count: usize,
}

impl Keys {
    fn push(&mut self, key: Cow<'_, str>) {
        if self.count < MAX_SUBSCRIPTIONS {
            if key.len() > MAX_KEY {
                self.too_long.push(self.count);
                self.kept.push(String::new());
            } else {
                self.kept.push(key.into_owned());
            }
        }
        self.count += 1;
    }
}

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `null` is no keys, as in PocketBase.
        deserializer.deserialize_option(KeyList)
    }
}

/// Visits `null` or the array of keys, element by element: every element must still be a
/// string, kept or not.
struct KeyList;

impl<'de> Visitor<'de> for KeyList {
    type Value = Keys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of subscription keys or null")
    }

    fn visit_none<E: Error>(self) -> Result<Keys, E> {
        Ok(Keys::default())
    }

    fn visit_unit<E: Error>(self) -> Result<Keys, E> {
        Ok(Keys::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Keys, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Keys, A::Error> {
        let mut keys = Keys::default();
        while seq.next_element_seed(Key(&mut keys))?.is_some() {}
        Ok(keys)
    }
}

/// One element of the array, handed to [`Keys::push`] as `serde_json` read it: borrowed from
/// the body, or from its scratch buffer when it had escapes, so it is copied only if kept.
struct Key<'a>(&'a mut Keys);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_string(self)
    }
}

impl Visitor<'_> for Key<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a subscription key")
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<(), E> {
        self.0.push(Cow::Borrowed(key));
        Ok(())
    }

    fn visit_string<E: Error>(self, key: String) -> Result<(), E> {
        self.0.push(Cow::Owned(key));
        Ok(())
    }
}
