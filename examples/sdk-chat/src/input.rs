//! What `POST /chat` accepts: a JSON or form body with `user` and `text` (or the seed's
//! `message`), validated into a [`ChatMessage`]. Every refusal is an [`ApiError`], never a panic.

use axum::Form;
use axum::extract::{FromRequest, Json, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::ChatMessage;

/// The longest name accepted, in characters (after trimming).
pub const MAX_USER_CHARS: usize = 40;

/// The longest message accepted, in characters (after trimming).
pub const MAX_TEXT_CHARS: usize = 1000;

/// The largest request body `POST /chat` reads, in bytes; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A refused request: its status and a JSON body `{"error": "...", "field": "..."}` (`field`
/// names the offending input, when there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub error: String,
    /// The input it is about (`user` or `text`).
    pub field: Option<&'static str>,
}

impl ApiError {
    /// A 400 about one field.
    fn invalid(field: &'static str, error: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: Some(field),
        }
    }

    /// Any status, about the request as a whole.
    #[must_use]
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            field: None,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.error,
            field: self.field,
        };
        (self.status, Json(body)).into_response()
    }
}

/// The body of `POST /chat`, before validation. Missing fields are empty strings, so that
/// they get the same message as blank ones.
#[derive(Debug, Default, Deserialize)]
pub struct ChatInput {
    /// Who writes.
    #[serde(default)]
    pub user: String,
    /// What they write; the seed's form calls it `message`.
    #[serde(default, alias = "message")]
    pub text: String,
}

impl ChatInput {
    /// Reads a JSON (`application/json`) or form (`application/x-www-form-urlencoded`) body.
    ///
    /// # Errors
    ///
    /// 415 for another content type, 413 for a body over [`MAX_BODY_BYTES`] (when the route
    /// has that limit), 400 for a body that does not parse.
    pub async fn read(request: Request) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime == "application/json" || mime.ends_with("+json") {
            Json::<Self>::from_request(request, &())
                .await
                .map(|Json(input)| input)
                .map_err(|rejection| body_error(rejection.status(), &rejection.body_text()))
        } else if mime == "application/x-www-form-urlencoded" {
            Form::<Self>::from_request(request, &())
                .await
                .map(|Form(input)| input)
                .map_err(|rejection| body_error(rejection.status(), &rejection.body_text()))
        } else {
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Send JSON (`application/json`) or a form (`application/x-www-form-urlencoded`).",
            ))
        }
    }

    /// Trims and checks both fields.
    ///
    /// # Errors
    ///
    /// A 400 naming the first field that is blank, too long or holds control characters
    /// (a name must be one line; a message may hold line breaks and tabs).
    pub fn validate(&self) -> Result<ChatMessage, ApiError> {
        let user = self.user.trim();
        if user.is_empty() {
            return Err(ApiError::invalid("user", "Please enter a name."));
        }
        if user.chars().count() > MAX_USER_CHARS {
            return Err(ApiError::invalid(
                "user",
                format!("The name is too long (at most {MAX_USER_CHARS} characters)."),
            ));
        }
        if user.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "user",
                "The name must be a single line without control characters.",
            ));
        }

        // Browsers submit a textarea's line breaks as CRLF in forms: store plain LFs.
        let text = self.text.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(ApiError::invalid("text", "The message is empty."));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(ApiError::invalid(
                "text",
                format!("The message is too long (at most {MAX_TEXT_CHARS} characters)."),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ApiError::invalid(
                "text",
                "The message holds control characters.",
            ));
        }
        Ok(ChatMessage {
            text: text.to_owned(),
            user: user.to_owned(),
        })
    }
}

/// A body that could not be read: too large stays a 413, anything else is a 400.
fn body_error(status: StatusCode, detail: &str) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            format!("The request body is too large (at most {MAX_BODY_BYTES} bytes)."),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("The request body is invalid: {detail}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(user: &str, text: &str) -> Result<ChatMessage, ApiError> {
        ChatInput {
            user: user.to_owned(),
            text: text.to_owned(),
        }
        .validate()
    }

    #[test]
    fn trims_and_keeps_line_breaks() {
        let message = check("  ann ", "\r\n one\r\ntwo\rthree\t \n").unwrap();
        assert_eq!(message.user, "ann");
        assert_eq!(message.text, "one\ntwo\nthree");
    }

    #[test]
    fn refuses_blank_long_and_control_input() {
        let field = |user: &str, text: &str| check(user, text).unwrap_err().field;
        assert_eq!(field("", "hi"), Some("user"));
        assert_eq!(field(" \t", "hi"), Some("user"));
        assert_eq!(field("ann", ""), Some("text"));
        assert_eq!(field("ann", " \n\r\n "), Some("text"));
        assert_eq!(field("a\nb", "hi"), Some("user"));
        assert_eq!(field("ann", "nul \0 inside"), Some("text"));
        assert_eq!(field("ann", "bell \u{7}"), Some("text"));
        let long_name = "é".repeat(MAX_USER_CHARS + 1);
        assert_eq!(field(&long_name, "hi"), Some("user"));
        let long_text = "é".repeat(MAX_TEXT_CHARS + 1);
        assert_eq!(field("ann", &long_text), Some("text"));
        // Limits count characters, not bytes.
        assert!(check(&"é".repeat(MAX_USER_CHARS), &"é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert_eq!(check("", "").unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
