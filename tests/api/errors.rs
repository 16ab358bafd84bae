//! Every refusal of the HTTP layer answers the JSON error body with its documented code.

use reqwest::StatusCode;

use crate::helpers::{assert_error, TestApp};
use crate::on_both_backends;

on_both_backends!(http_errors_are_json, request_id_is_echoed);

async fn http_errors_are_json(app: TestApp) {
    let admin = app.admin_token().await;

    // unknown route
    let res = app.get("/api/v1/nowhere", Some(&admin)).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.get("/favicon.ico", None).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // wrong method on a known path
    let res = app
        .client
        .delete(app.url("/api/v1/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("req");
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let res = app.get("/api/v1/auth/login", None).await;
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;

    // malformed JSON
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("req");
    assert_error(res, StatusCode::BAD_REQUEST, "malformed_json").await;

    // well-formed JSON of the wrong shape
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body("{\"username\": 5}")
        .send()
        .await
        .expect("req");
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;

    // wrong content type, and none at all
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "text/plain")
        .body("{\"username\": \"a\", \"password\": \"b\"}")
        .send()
        .await
        .expect("req");
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .body("{}")
        .send()
        .await
        .expect("req");
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // oversized body (limit 1 MiB)
    let big = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .expect("req");
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // bad path value
    let res = app.get("/api/v1/users/not-a-uuid", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;

    // bad query values
    let res = app.get("/api/v1/users?limit=abc", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/users?limit=501", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/users?limit=0", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/users?active=maybe", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/users?cursor=garbage!", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_cursor").await;
}

async fn request_id_is_echoed(app: TestApp) {
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .expect("req");
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );
    let res = app.get("/api/v1/nowhere", None).await;
    let generated = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        uuid::Uuid::parse_str(&generated).is_ok(),
        "generated id {generated}"
    );
}
