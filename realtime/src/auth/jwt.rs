//! Signed tokens: an [`Authenticator`] that mints and verifies HS256 JSON Web Tokens.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::{AuthRecord, Authenticator};

/// Mints and verifies HS256 tokens carrying an [`AuthRecord`].
///
/// The application mints a token at login ([`JwtAuth::mint`]) and hands it to the client, which
/// sends it in `Authorization`; the realtime endpoint and [`RequestAuth`](crate::RequestAuth)
/// verify it. A token with a bad signature, or past its expiry, is a guest.
///
/// ```
/// use axum_realtime::auth::{AuthRecord, Authenticator, JwtAuth};
///
/// let auth = JwtAuth::new(b"a secret of at least 32 bytes!!!");
/// let token = auth.mint(&AuthRecord::new("u1").with("username", "ann")).unwrap();
/// let record = auth.authenticate(&token).unwrap();
/// assert_eq!(record.username(), Some("ann"));
/// assert!(auth.authenticate("forged").is_none());
/// ```
pub struct JwtAuth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
    #[serde(rename = "collectionName")]
    collection: String,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// Why a token could not be minted.
#[derive(Debug)]
pub struct MintError(jsonwebtoken::errors::Error);

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot mint an auth token: {}", self.0)
    }
}

impl std::error::Error for MintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl JwtAuth {
    /// Tokens signed with `secret`, valid for 14 days (PocketBase's default for auth tokens).
    /// Use a secret of at least 32 random bytes.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: Duration::from_hours(14 * 24),
        }
    }

    /// Sets how long minted tokens stay valid.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// A signed token for `record`, valid for the configured time.
    ///
    /// # Errors
    ///
    /// Fails if the record cannot be encoded, which does not happen for records made with
    /// [`AuthRecord`]'s methods.
    pub fn mint(&self, record: &AuthRecord) -> Result<String, MintError> {
        let now = unix_now();
        let claims = Claims {
            sub: record.id().to_owned(),
            iat: now,
            exp: now.saturating_add(self.ttl.as_secs()),
            collection: record.collection().to_owned(),
            fields: record.fields().clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(MintError)
    }
}

impl Authenticator for JwtAuth {
    fn authenticate(&self, token: &str) -> Option<AuthRecord> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let record = claims
            .fields
            .into_iter()
            .fold(AuthRecord::new(claims.sub), |record, (field, value)| {
                record.with(field, value)
            });
        Some(record.in_collection(claims.collection))
    }
}

impl fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip_keeps_every_field() {
        let auth = JwtAuth::new(SECRET);
        let record = AuthRecord::superuser("root")
            .with("email", "root@example.com")
            .with("role", "admin");
        let back = auth.authenticate(&auth.mint(&record).unwrap()).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn wrong_secret_and_expiry_mean_guest() {
        let auth = JwtAuth::new(SECRET);
        let token = auth.mint(&AuthRecord::new("u1")).unwrap();
        assert!(
            JwtAuth::new(b"another secret, also 32 bytes!!!")
                .authenticate(&token)
                .is_none()
        );
        let expired = JwtAuth::new(SECRET).with_ttl(Duration::ZERO);
        let token = expired.mint(&AuthRecord::new("u1")).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(auth.authenticate(&token).is_none());
    }
}
