//! The request context: accepts or generates `X-Request-Id`, opens the tracing span every log
//! line of the request is written in, echoes the id, logs the outcome and feeds the metrics.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use tracing::Instrument;

use crate::error::AppError;
use crate::state::AppState;
use crate::validate;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-given id is kept if it is short and printable; otherwise a UUID is generated.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = request_id(&req);
    let started = Instant::now();
    let method = method_label(req.method()).to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method,
        path = %req.path().chars().take(200).collect::<String>());
    let state = req.app_data::<web::Data<AppState>>().cloned();

    let result = next.call(req).instrument(span.clone()).await;
    // Handlers' errors arrive here as responses already; an Err only comes from a failing
    // middleware, and actix renders it after us.
    let mut res = match result {
        Ok(res) => res,
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            if let Some(state) = &state {
                state.metrics.observe(
                    &method,
                    "unmatched",
                    status,
                    started.elapsed().as_secs_f64(),
                );
            }
            span.in_scope(|| tracing::warn!(status, error = %e, "request failed in middleware"));
            return Err(e);
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let status = res.status().as_u16();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .observe(&method, &route, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(status, route = %route, latency_ms = elapsed.as_secs_f64() * 1000.0, "request finished");
    });
    Ok(res)
}

/// The method as a metrics label: the standard ones by name, any other as `OTHER`, so that
/// unauthenticated clients cannot create series at will.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map(|m| m.as_str())
        .unwrap_or("OTHER")
}

/// The edge rule for the path and the query string: no NUL or other control character, and
/// no query value over `validate::MAX_QUERY_VALUE_CHARS` (JSON bodies: `http::json`).
fn check_path_and_query(req: &ServiceRequest) -> Result<(), AppError> {
    let path = req.path();
    let lower = path.to_ascii_lowercase();
    let encoded_control = (0..0x20u8).any(|b| lower.contains(&format!("%{b:02x}")));
    if encoded_control || path.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "invalid_path",
            "path: control characters (such as NUL) are not accepted",
        ));
    }
    let query = req.query_string();
    if query.is_empty() {
        return Ok(());
    }
    // a query that does not decode is left to the handler's extractor to refuse
    if let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
        for (key, value) in pairs {
            validate::text_ok(&value, validate::MAX_QUERY_VALUE_CHARS)
                .and_then(|()| validate::text_ok(&key, 100))
                .map_err(|why| {
                    let key: String = key.chars().filter(|c| !c.is_control()).take(50).collect();
                    AppError::bad_request("invalid_query", format!("{key}: {why}"))
                })?;
        }
    }
    Ok(())
}

pub async fn input_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(e) = check_path_and_query(&req) {
        let res = e.error_response();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The interactive API document's page loads its own scripts and styles (vendored, offline).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Everything else is data: nothing on it may run, load or be framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'none'; sandbox";

/// Security headers on every answer; `Cache-Control: no-store` on every API answer that does
/// not set its own (tokens and personal data must not sit in caches).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let api = req.path().starts_with("/api/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let mut set_default = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set_default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(header::X_FRAME_OPTIONS, "DENY");
    set_default(header::REFERRER_POLICY, "no-referrer");
    set_default(
        header::CONTENT_SECURITY_POLICY,
        if docs { DOCS_CSP } else { API_CSP },
    );
    if api {
        set_default(header::CACHE_CONTROL, "no-store");
    }
    Ok(res)
}
