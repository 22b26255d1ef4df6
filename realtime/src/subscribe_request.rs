//! The body of `POST /api/realtime` and PocketBase's validation of it.

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api_error::{ApiError, field_error, out_of_range, too_long};
use crate::frame;

const MAX_CLIENT_ID: usize = 255;
const MAX_SUBSCRIPTIONS: usize = 1000;
const MAX_KEY: usize = 2500;

/// `{"clientId": "...", "subscriptions": ["chat", ...]}`, as JSON or as a form. Lengths are
/// checked in bytes, as PocketBase checks them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscribeRequest {
    #[serde(default)]
    pub(crate) client_id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) subscriptions: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl SubscribeRequest {
    /// Bodies larger than this are refused before parsing: 1000 keys of 2500 characters in
    /// JSON, with room for escaping.
    pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

    /// Parses a JSON or form body, by its content type as PocketBase does (multipart forms,
    /// which no realtime client sends, are refused).
    pub(crate) fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, ApiError> {
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
                .into_iter::<Self>()
                .next()
                .and_then(Result::ok)
                .ok_or_else(ApiError::bad_request)
        } else {
            Err(ApiError::bad_request())
        }
    }

    fn from_form(body: &[u8]) -> Self {
        let mut request = Self::default();
        for (name, value) in form_urlencoded::parse(body) {
            match &*name {
                "clientId" => request.client_id = value.into_owned(),
                // Commas are not split: `chat,news` is one key, as in PocketBase.
                "subscriptions" => request.subscriptions.push(value.into_owned()),
                _ => {}
            }
        }
        request
    }

    /// PocketBase's field validation; every failing field is reported at once.
    pub(crate) fn validate(&self) -> Result<(), ApiError> {
        let mut data = Map::new();
        if self.client_id.is_empty() {
            data.insert(
                "clientId".into(),
                field_error("validation_required", "Cannot be blank."),
            );
        } else if self.client_id.len() > MAX_CLIENT_ID {
            data.insert("clientId".into(), out_of_range(1, MAX_CLIENT_ID));
        }
        if self.subscriptions.len() > MAX_SUBSCRIPTIONS {
            data.insert("subscriptions".into(), too_long(MAX_SUBSCRIPTIONS));
        } else {
            let mut bad: Vec<(String, Value)> = Vec::new();
            for (index, key) in self.subscriptions.iter().enumerate() {
                if key.len() > MAX_KEY {
                    bad.push((index.to_string(), too_long(MAX_KEY)));
                } else if !key.is_empty() && !frame::is_valid_event_name(key) {
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
