//! PocketBase's error responses, byte for byte.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};

/// A PocketBase API error: `{"data":{...},"message":"...","status":N}`.
#[derive(Debug, PartialEq)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: &'static str,
    data: Map<String, Value>,
}

const GENERIC: &str = "Something went wrong while processing your request.";

impl ApiError {
    pub(crate) fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST, GENERIC)
    }

    /// A body over the size limit, answered as PocketBase's body limit answers it.
    pub(crate) fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large.")
    }

    pub(crate) fn validation(data: Map<String, Value>) -> Self {
        Self {
            data,
            ..Self::bad_request()
        }
    }

    pub(crate) fn new(status: StatusCode, message: &'static str) -> Self {
        Self {
            status,
            message,
            data: Map::new(),
        }
    }
}

/// One field's validation error, as PocketBase's validators word it.
pub(crate) fn field_error(code: &str, message: &str) -> Value {
    json!({ "code": code, "message": message })
}

/// A length error, with the limits PocketBase reports.
pub(crate) fn too_long(max: usize) -> Value {
    json!({
        "code": "validation_length_too_long",
        "message": format!("The length must be no more than {max}."),
        "params": { "max": max, "min": 0 },
    })
}

/// A length error with both bounds.
pub(crate) fn out_of_range(min: usize, max: usize) -> Value {
    json!({
        "code": "validation_length_out_of_range",
        "message": format!("The length must be between {min} and {max}."),
        "params": { "max": max, "min": min },
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // serde_json's maps keep keys sorted, which matches Go's encoding of PocketBase's.
        let body = json!({
            "data": self.data,
            "message": self.message,
            "status": self.status.as_u16(),
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        (self.status, [(CONTENT_TYPE, "application/json")], bytes).into_response()
    }
}
