//! Who a request or a client is: auth records, and the authenticator that makes them from
//! tokens.

pub(crate) mod cookie;
#[cfg(feature = "jwt")]
mod jwt;

pub use cookie::{DEFAULT_COOKIE, is_same_origin};
#[cfg(feature = "jwt")]
pub use jwt::{JwtAuth, MintError};

/// The key under which a client's auth record is stored in its store, as in PocketBase:
/// `client.get::<AuthRecord>(AUTH_KEY)`.
pub const AUTH_KEY: &str = "auth";

use std::sync::Arc;

use http::HeaderMap;
use http::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The collection name PocketBase gives its superusers.
pub const SUPERUSERS: &str = "_superusers";

/// An authenticated user, as PocketBase's auth records look: an id, the collection it belongs
/// to, and any fields (`email`, `verified`, `username`, or your own such as `role`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRecord {
    id: String,
    #[serde(rename = "collectionName", default = "users")]
    collection: String,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

fn users() -> String {
    "users".to_owned()
}

impl AuthRecord {
    /// A record of the `users` collection with the given id and no fields.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            collection: users(),
            fields: Map::new(),
        }
    }

    /// A superuser record with the given id.
    #[must_use]
    pub fn superuser(id: impl Into<String>) -> Self {
        Self::new(id).in_collection(SUPERUSERS)
    }

    /// Moves the record into another collection.
    #[must_use]
    pub fn in_collection(mut self, collection: impl Into<String>) -> Self {
        self.collection = collection.into();
        self
    }

    /// Sets a field, e.g. `.with("email", "ann@example.com")` or `.with("role", "moderator")`.
    ///
    /// `id` and `collectionName` are not fields: use [`AuthRecord::new`] and
    /// [`AuthRecord::in_collection`].
    #[must_use]
    pub fn with(mut self, field: impl Into<String>, value: impl Into<Value>) -> Self {
        let field = field.into();
        if field != "id" && field != "collectionName" {
            self.fields.insert(field, value.into());
        }
        self
    }

    /// The record's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The collection the record belongs to (`users` unless set).
    #[must_use]
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Any field of the record, `None` when it has no such field.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }

    /// A text field, `None` when missing or not text.
    #[must_use]
    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_str)
    }

    /// The `email` field.
    #[must_use]
    pub fn email(&self) -> Option<&str> {
        self.get_str("email")
    }

    /// The `username` field.
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.get_str("username")
    }

    /// The `verified` field; false when missing.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether the record is a superuser (belongs to PocketBase's `_superusers` collection).
    #[must_use]
    pub fn is_superuser(&self) -> bool {
        self.collection == SUPERUSERS
    }

    /// Whether two records are the same principal: same id in the same collection.
    #[must_use]
    pub fn same_principal(&self, other: &AuthRecord) -> bool {
        self.id == other.id && self.collection == other.collection
    }

    /// The fields other than `id` and `collectionName`.
    #[must_use]
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

/// Turns a request's token into an auth record.
///
/// It runs on every realtime `POST` and every request whose auth a handler asks for, so it
/// should verify a self-contained token (a signature, as [`JwtAuth`] does)
/// rather than wait on a database. An invalid or expired token is `None`: the request is a
/// guest, never an error, as in PocketBase.
///
/// Any `Fn(&str) -> Option<AuthRecord>` is an authenticator.
pub trait Authenticator: Send + Sync + 'static {
    /// The record the token stands for, or `None` for a guest.
    fn authenticate(&self, token: &str) -> Option<AuthRecord>;
}

impl<F> Authenticator for F
where
    F: Fn(&str) -> Option<AuthRecord> + Send + Sync + 'static,
{
    fn authenticate(&self, token: &str) -> Option<AuthRecord> {
        self(token)
    }
}

/// The authenticator of a server that has none: everyone is a guest.
pub(crate) struct Guests;

impl Authenticator for Guests {
    fn authenticate(&self, _token: &str) -> Option<AuthRecord> {
        None
    }
}

/// The token of a request: the `Authorization` header, raw (as the JS SDK sends it) or after
/// `Bearer `.
pub(crate) fn token_from_headers(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
        _ => value.trim(),
    };
    (!token.is_empty()).then_some(token)
}

/// The auth of the request that sends a message, which the default filter compares with each
/// client's. Extract it in a handler; `RequestAuth::guest()` when there is no request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestAuth(Option<Arc<AuthRecord>>);

impl RequestAuth {
    /// No authenticated user.
    #[must_use]
    pub fn guest() -> Self {
        Self(None)
    }

    /// The given user.
    #[must_use]
    pub fn user(record: AuthRecord) -> Self {
        Self(Some(Arc::new(record)))
    }

    /// The record, `None` for a guest.
    #[must_use]
    pub fn record(&self) -> Option<&AuthRecord> {
        self.0.as_deref()
    }
}

impl From<Option<AuthRecord>> for RequestAuth {
    fn from(record: Option<AuthRecord>) -> Self {
        Self(record.map(Arc::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn raw_and_bearer_tokens() {
        assert_eq!(token_from_headers(&headers("abc.def")), Some("abc.def"));
        assert_eq!(
            token_from_headers(&headers("Bearer abc.def")),
            Some("abc.def")
        );
        assert_eq!(token_from_headers(&headers("bearer  abc")), Some("abc"));
        assert_eq!(token_from_headers(&headers("Bearer ")), None);
        assert_eq!(token_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn record_fields_and_json_shape() {
        let record = AuthRecord::new("u1")
            .with("email", "ann@example.com")
            .with("verified", true)
            .with("role", "moderator")
            .with("id", "ignored");
        assert_eq!(record.id(), "u1");
        assert_eq!(record.email(), Some("ann@example.com"));
        assert!(record.verified());
        assert_eq!(record.get_str("role"), Some("moderator"));
        assert!(!record.is_superuser());
        assert!(AuthRecord::superuser("s").is_superuser());
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["collectionName"], "users");
        assert_eq!(json["id"], "u1");
        let back: AuthRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
