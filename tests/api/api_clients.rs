use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};
use crate::on_both_backends;

on_both_backends!(api_key_principal, api_client_validation);

async fn create_client(app: &TestApp, admin: &str, name: &str, scopes: Value) -> Value {
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(admin),
            json!({"name": name, "scopes": scopes}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.expect("client")
}

async fn api_key_principal(app: TestApp) {
    let admin = app.admin_token().await;
    let created = create_client(
        &app,
        &admin,
        "wechat-gateway",
        json!(["tickets:submit", "tickets:read"]),
    )
    .await;
    let key = created["api_key"].as_str().expect("api_key").to_string();
    assert!(key.starts_with("hlk_"));
    let id = created["id"].as_str().expect("id").to_string();

    // as a bearer token
    let res = app.get("/api/v1/me", Some(&key)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("me");
    assert_eq!(me["kind"], "api_client");
    assert_eq!(me["name"], "wechat-gateway");
    assert_eq!(me["scopes"], json!(["tickets:submit", "tickets:read"]));
    // and in X-Api-Key
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("X-Api-Key", &key)
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);

    // the key is never shown again
    let res = app
        .get(&format!("/api/v1/api-clients/{id}"), Some(&admin))
        .await;
    let shown: Value = res.json().await.expect("client");
    assert!(shown.get("api_key").is_none());
    assert!(shown["last_used_at"].is_string());

    // an API client is not staff
    let res = app.get("/api/v1/users", Some(&key)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.post("/api/v1/auth/logout", Some(&key), json!({})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // a wrong key, then a disabled client
    let mut forged = key.clone();
    forged.pop();
    forged.push(if key.ends_with('A') { 'B' } else { 'A' });
    let res = app.get("/api/v1/me", Some(&forged)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    let res = app
        .patch(
            &format!("/api/v1/api-clients/{id}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/api/v1/me", Some(&key)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "api_client_disabled").await;

    let res = app.get("/api/v1/api-clients", Some(&admin)).await;
    let page: Value = res.json().await.expect("page");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert!(page["next_cursor"].is_null());
}

async fn api_client_validation(app: TestApp) {
    let admin = app.admin_token().await;
    create_client(&app, &admin, "gateway", json!(["tickets:submit"])).await;
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(&admin),
            json!({"name": "gateway", "scopes": ["tickets:submit"]}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "name_taken").await;
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(&admin),
            json!({"name": "other", "scopes": []}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(&admin),
            json!({"name": "other", "scopes": ["everything"]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
}
