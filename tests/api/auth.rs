use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, password_of, token_of, TestApp, ADMIN_PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    login_success_and_me,
    login_failure,
    login_throttled_per_account,
    login_throttled_per_address,
    refresh_rotates_and_refuses_old_token,
    logout_ends_session,
    disabled_user_is_refused,
    password_change_ends_sessions,
    expired_access_token_is_refused,
    missing_or_malformed_credentials,
    role_checks,
);

async fn login_success_and_me(app: TestApp) {
    let pair = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert!(pair["refresh_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("hlr_")));
    let res = app.get("/api/v1/me", Some(&token_of(&pair))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("me");
    assert_eq!(me["kind"], "user");
    assert_eq!(me["username"], "admin");
    assert_eq!(me["roles"], json!(["admin"]));
    assert!(me.get("password_hash").is_none());
}

async fn login_failure(app: TestApp) {
    let res = app.login_raw("admin", "wrong password!").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // an unknown user gets the very same answer
    let res = app.login_raw("nobody", "wrong password!").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

async fn login_throttled_per_account(app: TestApp) {
    for _ in 0..5 {
        let res = app.login_raw("admin", "wrong password!").await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // locked: even the right password is refused, with Retry-After
    let res = app.login_raw("admin", ADMIN_PASSWORD).await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(retry > 0 && retry <= 900, "retry after {retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // the lock ends after the lockout
    app.state.clock.advance(Duration::seconds(901));
    app.login("admin", ADMIN_PASSWORD).await;
}

async fn login_throttled_per_address(app: TestApp) {
    // 20 failures from one address, spread over accounts that are each below their own limit
    for i in 0..20 {
        let res = app
            .login_raw(&format!("guess{}", i % 5), "wrong password!")
            .await;
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let res = app.login_raw("admin", ADMIN_PASSWORD).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn refresh_rotates_and_refuses_old_token(app: TestApp) {
    let first = app.login("admin", ADMIN_PASSWORD).await;
    let r1 = first["refresh_token"].as_str().expect("r1").to_string();
    let res = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.expect("pair");
    let r2 = second["refresh_token"].as_str().expect("r2").to_string();
    assert_ne!(r1, r2);
    let res = app.get("/api/v1/me", Some(&token_of(&second))).await;
    assert_eq!(res.status(), StatusCode::OK);

    // the old token is refused, and its reuse ends the session
    let res = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "refresh_token_reused").await;
    let res = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": r2}))
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let res = app.get("/api/v1/me", Some(&token_of(&second))).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;

    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": "hlr_made_up"}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
}

async fn logout_ends_session(app: TestApp) {
    let pair = app.login("admin", ADMIN_PASSWORD).await;
    let token = token_of(&pair);
    let other_session = app.admin_token().await;
    let res = app
        .post("/api/v1/auth/logout", Some(&token), json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get("/api/v1/me", Some(&token)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // other sessions of the same user go on
    let res = app.get("/api/v1/me", Some(&other_session)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn disabled_user_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_token(&admin, "olga", &["operator"]).await;
    assert_eq!(
        app.get("/api/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/api/v1/me", Some(&token)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let res = app.login_raw("olga", &password_of("olga")).await;
    // a disabled account does not confirm its password: the same answer as a wrong one
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    let res = app
        .patch(
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            json!({"active": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    app.login("olga", &password_of("olga")).await;
}

async fn password_change_ends_sessions(app: TestApp) {
    let admin = app.admin_token().await;
    let (id, token) = app.user_with_token(&admin, "dina", &["dispatcher"]).await;
    let res = app
        .post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": "not it at all", "new_password": "a brand new password"}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": password_of("dina"), "new_password": "short"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": password_of("dina"), "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get("/api/v1/me", Some(&token)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let res = app.login_raw("dina", &password_of("dina")).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let token = token_of(&app.login("dina", "a brand new password").await);

    // an admin resetting the password ends the sessions too
    let res = app
        .post(
            &format!("/api/v1/users/{id}/password"),
            Some(&admin),
            json!({"password": "reset by the admin"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get("/api/v1/me", Some(&token)).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_revoked").await;
    app.login("dina", "reset by the admin").await;
}

async fn expired_access_token_is_refused(app: TestApp) {
    let pair = app.login("admin", ADMIN_PASSWORD).await;
    app.state.clock.advance(Duration::seconds(901));
    let res = app.get("/api/v1/me", Some(&token_of(&pair))).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "token_expired").await;
    // the refresh token still works and gives a fresh access token
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh: Value = res.json().await.expect("pair");
    assert_eq!(
        app.get("/api/v1/me", Some(&token_of(&fresh)))
            .await
            .status(),
        StatusCode::OK
    );
}

async fn missing_or_malformed_credentials(app: TestApp) {
    let res = app.get("/api/v1/me", None).await;
    assert!(res.headers().contains_key("www-authenticate"));
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let res = app.get("/api/v1/me", Some("not.a.jwt")).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .expect("request");
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn role_checks(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, operator) = app.user_with_token(&admin, "oscar", &["operator"]).await;
    let res = app.get("/api/v1/users", Some(&operator)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(&operator),
            json!({"name": "x-gw", "scopes": ["tickets:submit"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&operator),
            json!({"username": "eve", "password": password_of("eve"), "roles": ["admin"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // a supervisor may read accounts but not create them
    let (_, supervisor) = app.user_with_token(&admin, "sue", &["supervisor"]).await;
    assert_eq!(
        app.get("/api/v1/users", Some(&supervisor)).await.status(),
        StatusCode::OK
    );
    let res = app
        .post(
            "/api/v1/users",
            Some(&supervisor),
            json!({"username": "eve", "password": password_of("eve"), "roles": ["admin"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}
