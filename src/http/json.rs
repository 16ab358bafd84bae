//! The JSON body extractor of every handler: one rule for every string the API accepts.
//!
//! The body is read within `server.max_json_bytes`, parsed (syntax errors: 400
//! `malformed_json`), every string in it checked by [`crate::validate::json_strings`] (a NUL or a
//! string over [`crate::validate::MAX_STRING_CHARS`]: 422 `invalid_body` naming the field), then
//! deserialised into the handler's type with the path of any wrong-typed field (422
//! `invalid_body`: "citizen.phone: invalid type: integer `5`, expected a string").

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AppError;

/// A JSON request body, validated as described in the module comment.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn unsupported_content_type(content_type: &str) -> AppError {
    AppError::Unsupported {
        code: "unsupported_media_type",
        message: format!(
            "expected Content-Type: application/json, got '{}'",
            if content_type.is_empty() {
                "none"
            } else {
                content_type
            }
        ),
    }
}

pub fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Parses a JSON document into `T` under the rules above.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        AppError::bad_request("malformed_json", format!("body is not valid JSON: {e}"))
    })?;
    crate::validate::json_strings(&value)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        AppError::Validation {
            code: "invalid_body",
            message: if path == "." {
                format!("body: {inner}")
            } else {
                format!("{path}: {inner}")
            },
        }
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ct = content_type(req);
        let limit = super::extract::app_state(req)
            .map(|s| s.settings.server.max_json_bytes)
            .unwrap_or(256 * 1024);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json(&ct) {
                return Err(unsupported_content_type(&ct));
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    super::errors::payload_too_large(limit)
                } else {
                    AppError::bad_request("bad_request", format!("cannot read the body: {e}"))
                }
            })?;
            parse(&bytes).map(Json)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        phone: String,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        kind: String,
        citizen: Option<Inner>,
    }

    fn code_and_message<T: std::fmt::Debug>(r: Result<T, AppError>) -> (String, String) {
        let e = r.expect_err("refused");
        (e.code().to_string(), e.to_string())
    }

    #[test]
    fn type_errors_name_the_field() {
        let (code, msg) = code_and_message(parse::<Outer>(br#"{"kind": 5}"#));
        assert_eq!(code, "invalid_body");
        assert!(msg.starts_with("kind: invalid type: integer `5`"), "{msg}");
        let (code, msg) =
            code_and_message(parse::<Outer>(br#"{"kind": "a", "citizen": {"phone": 1}}"#));
        assert_eq!(code, "invalid_body");
        assert!(msg.starts_with("citizen.phone:"), "{msg}");
        let (code, msg) = code_and_message(parse::<Outer>(b"[1,2]"));
        assert_eq!(code, "invalid_body");
        assert!(msg.contains("invalid type"), "{msg}");
        let (code, msg) = code_and_message(parse::<Outer>(b"7"));
        assert_eq!(code, "invalid_body");
        assert!(msg.starts_with("body: invalid type: integer `7`"), "{msg}");
        let (code, _) = code_and_message(parse::<Outer>(b"{nope"));
        assert_eq!(code, "malformed_json");
        let (code, msg) = code_and_message(parse::<Outer>(br#"{"kind": "a\u0000b"}"#));
        assert_eq!(code, "invalid_body");
        assert!(msg.starts_with("kind:"), "{msg}");
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
    }
}
