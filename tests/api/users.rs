use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, JsonOk, TestApp};
use crate::on_both_backends;

on_both_backends!(
    keyset_pagination_walks_every_row,
    user_validation,
    user_filters
);

async fn keyset_pagination_walks_every_row(app: TestApp) {
    let admin = app.admin_token().await;
    for i in 0..6 {
        app.create_user(&admin, &format!("user{i}"), &["operator"])
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=3&cursor={c}"),
            None => "/api/v1/users?limit=3".to_string(),
        };
        let res = app.get(&path, Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.expect("page");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().expect("username").to_string()),
        );
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "7 users in pages of 3");
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7, "no row twice");
    assert_eq!(seen[0], "admin", "creation order");
}

async fn user_validation(app: TestApp) {
    let admin = app.admin_token().await;
    app.create_user(&admin, "taken", &["operator"]).await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "taken", "password": "long enough pw", "roles": ["operator"]}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "username_taken").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "Bad Name", "password": "long enough pw", "roles": ["operator"]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "nopass", "password": "short", "roles": ["operator"]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "norole", "password": "long enough pw", "roles": []}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "boss", "password": "long enough pw", "roles": ["boss"]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let res = app
        .get(
            &format!("/api/v1/users/{}", uuid::Uuid::new_v4()),
            Some(&admin),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // an admin cannot lock themselves out
    let me: Value = app.get("/api/v1/me", Some(&admin)).await.json_ok().await;
    let res = app
        .patch(
            &format!("/api/v1/users/{}", me["id"].as_str().expect("id")),
            Some(&admin),
            json!({"active": false}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "self_lockout").await;
}

async fn user_filters(app: TestApp) {
    let admin = app.admin_token().await;
    app.create_user(&admin, "op1", &["operator"]).await;
    let id = app
        .create_user(&admin, "op2", &["operator", "dispatcher"])
        .await;
    app.create_user(&admin, "staff1", &["supervisor"]).await;
    app.patch(
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        json!({"active": false}),
    )
    .await;

    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|u| u["username"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let page = app
        .get("/api/v1/users?role=operator", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(names(page), vec!["op1", "op2"]);
    let page = app
        .get("/api/v1/users?role=operator&active=true", Some(&admin))
        .await
        .json_ok()
        .await;
    assert_eq!(names(page), vec!["op1"]);
    let res = app.get("/api/v1/users?role=boss", Some(&admin)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
}
