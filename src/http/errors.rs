//! Makes every refusal of the HTTP layer (bad JSON, bad query or path, wrong content type,
//! oversized body, unknown route, wrong method) answer with the service's JSON error body.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::error::AppError;

pub fn payload_too_large(limit: usize) -> AppError {
    AppError::Http {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "payload_too_large",
        message: format!("the body is larger than the limit of {limit} bytes"),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match err {
            QueryPayloadError::Deserialize(e) => format!("query: {e}"),
            other => format!("query: {other}"),
        };
        AppError::bad_request("invalid_query", message).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let message = match err {
            PathError::Deserialize(e) => format!("path: {e}"),
            other => format!("path: {other}"),
        };
        AppError::bad_request("invalid_path", message).into()
    })
}

/// The app's default service: no route matches. A path that exists with other methods answers
/// 405 with `Allow`; anything else 404.
pub async fn no_route(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let allowed: Vec<&str> = super::route_patterns()
        .iter()
        .filter(|(pattern, _)| pattern.is_match(req.path()))
        .flat_map(|(_, methods)| methods.iter().map(|m| m.as_str()))
        .collect();
    if allowed.is_empty() {
        return Err(AppError::NotFound(format!(
            "no route for {} {}",
            req.method(),
            req.path()
        )));
    }
    let error = AppError::Http {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!(
            "{} is not allowed on {}; allowed: {}",
            req.method(),
            req.path(),
            allowed.join(", ")
        ),
    };
    let mut response = error.error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    Ok(response)
}

/// Last line of defence for error responses produced without our body (e.g. by actix itself):
/// replaces them with the JSON error body, keeping the status.
pub fn ensure_json_error<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // Open311 answers its errors as XML or JSON documents of its own
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/xml"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let message = status.canonical_reason().unwrap_or("error").to_string();
    let (req, _) = res.into_parts();
    let body: actix_web::HttpResponse<BoxBody> = AppError::Http {
        status,
        code,
        message,
    }
    .error_response();
    let res = ServiceResponse::new(req, body).map_into_right_body::<B>();
    Ok(ErrorHandlerResponse::Response(res))
}
