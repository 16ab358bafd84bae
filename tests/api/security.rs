//! Regression tests for the defects found when the service was attacked from outside (issue 8),
//! each through the HTTP API on both backends. docs/security.md describes what they hold.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, password_of, spawn_app_with, token_of, Backend, JsonOk, TestApp,
};
use crate::on_both_backends;
use crate::organisation::department;
use crate::tickets::{
    act_raw, client_key, get_ticket, hotline_call, new_ticket, org, submit, upload,
};

on_both_backends!(
    department_admin_manages_department_accounts_only,
    phone_numbers_normalised_validated_and_masked,
    nul_and_oversized_text_refused_at_the_edge,
    unknown_methods_share_one_metrics_series,
    throttle_counts_parallel_attempts_before_checking,
    own_password_change_is_throttled,
    concurrent_commands_without_if_match_all_succeed,
    security_headers_and_attachment_disposition,
    field_limits,
    weak_passwords_refused,
    json_type_errors_name_the_field,
    no_constraint_names_in_answers,
);

async fn department_admin_manages_department_accounts_only(app: TestApp) {
    let admin = app.admin_token().await;
    let gov = department(&app, &admin, "GOV", "county", None).await;
    let water = department(&app, &admin, "WATER", "utility", Some(&gov)).await;
    let create = |name: &'static str, roles: Value| {
        let (app, admin, water) = (&app, admin.clone(), water.clone());
        async move {
            let res = app
                .post(
                    "/api/v1/users",
                    Some(&admin),
                    json!({"username": name, "password": password_of(name), "roles": roles, "department_id": water}),
                )
                .await;
            let body: Value = res.json().await.expect("user");
            body["id"].as_str().expect("id").to_string()
        }
    };
    create("wadmin", json!(["department_admin"])).await;
    let staff = create("wstaff", json!(["department_staff"])).await;
    let boss = create("boss", json!(["admin"])).await;
    let disp = create("disp", json!(["dispatcher", "department_staff"])).await;
    let sup = create("sup", json!(["supervisor"])).await;
    let wadmin = token_of(&app.login("wadmin", &password_of("wadmin")).await);
    // hotline and admin accounts placed in the department are out of the department admin's reach
    for target in [&boss, &disp, &sup] {
        let res = app
            .post(
                &format!("/api/v1/users/{target}/password"),
                Some(&wadmin),
                json!({"password": "Taken-Over-9#account"}),
            )
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
        let res = app
            .patch(
                &format!("/api/v1/users/{target}"),
                Some(&wadmin),
                json!({"active": false}),
            )
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    app.login("boss", &password_of("boss")).await;
    app.login("disp", &password_of("disp")).await;
    // granting a hotline role is refused; managing department staff works
    let res = app
        .patch(
            &format!("/api/v1/users/{staff}"),
            Some(&wadmin),
            json!({"roles": ["supervisor"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&wadmin),
            json!({"username": "w2", "password": password_of("w2"), "roles": ["dispatcher"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            &format!("/api/v1/users/{staff}/password"),
            Some(&wadmin),
            json!({"password": "Fresh-Start-7#water"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .patch(
            &format!("/api/v1/users/{staff}"),
            Some(&wadmin),
            json!({"roles": ["department_admin"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn phone_numbers_normalised_validated_and_masked(app: TestApp) {
    let o = org(&app).await;
    let mut call = hotline_call(&o.category);
    call["citizen"]["phone"] = json!("+86 138-1234-5678");
    call["call"]["caller_number"] = json!("１３８ １２３４ ５６７８");
    let a = new_ticket(&app, &o.operator, call).await;
    let mut call = hotline_call(&o.category);
    call["citizen"]["phone"] = json!("138 1234 5678");
    call["call"]["caller_number"] = json!("5231234");
    let b = new_ticket(&app, &o.operator, call).await;
    // a 7-digit local number is almost all hidden
    assert_eq!(b["call"]["caller_number"], "*****34");
    assert_eq!(a["citizen"]["phone"], "1******5678");
    // the repeat-caller lookup finds both, whatever the spelling
    for spelling in [
        "13812345678",
        "138 1234 5678",
        "+86 138-1234-5678",
        "0086-13812345678",
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/tickets"))
            .query(&[("phone", spelling)])
            .bearer_auth(&o.operator)
            .send()
            .await
            .expect("search");
        assert_eq!(res.status(), StatusCode::OK);
        let page: Value = res.json().await.expect("page");
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(2),
            "{spelling}"
        );
    }
    // stored normalised, the typed form kept for the record, shown only on reveal
    let id = a["id"].as_str().expect("id");
    let events: Value = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert!(events["items"][0]["payload"].get("raw_input").is_none());
    let full: Value = app
        .post(
            &format!("/api/v1/tickets/{id}/reveal"),
            Some(&o.operator),
            json!({"reason": "callback"}),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(full["citizen_phone"], "13812345678");
    assert_eq!(full["caller_number"], "13812345678");
    assert_eq!(full["raw_input"]["citizen.phone"], "+86 138-1234-5678");
    // a landline with its area code
    let mut call = hotline_call(&o.category);
    call["citizen"]["phone"] = json!("0536-1234567");
    let c = new_ticket(&app, &o.operator, call).await;
    assert_eq!(c["citizen"]["phone"], "0536-******7");
    // what is not a number is refused with the forms that are accepted
    for bad in [
        "12",
        "call me",
        "10000000000",
        "+86 1",
        "138123456789012345",
    ] {
        let mut call = hotline_call(&o.category);
        call["citizen"]["phone"] = json!(bad);
        let res = app.post("/api/v1/tickets", Some(&o.operator), call).await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("citizen.phone:")),
            "{body}"
        );
    }
}

async fn nul_and_oversized_text_refused_at_the_edge(app: TestApp) {
    let o = org(&app).await;
    let key = client_key(&app, &o.admin, json!(["tickets:submit", "tickets:read"])).await;
    // query parameters, cursors and paths
    for query in [
        "q=a%00b",
        "phone=138%0012345678",
        "number=HL%00",
        "cursor=%00abc",
        "q=%01",
    ] {
        let res = app
            .get(&format!("/api/v1/tickets?{query}"), Some(&o.operator))
            .await;
        assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
    let res = app
        .get("/api/v1/citizen/tickets?open_id=o%00x", Some(&key))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let long = "x".repeat(20_000);
    let res = app
        .get(&format!("/api/v1/tickets?q={long}"), Some(&o.operator))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    let res = app.get("/api/v1/tickets/%00", Some(&o.operator)).await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_path").await;
    // JSON bodies: any string, even unauthenticated
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "ad\u{0}min", "password": "x"}),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("username:")),
        "{body}"
    );
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "a".repeat(3000), "password": "x"}),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let mut call = hotline_call(&o.category);
    call["description"] = json!("停水\u{0}三天");
    let res = app.post("/api/v1/tickets", Some(&o.operator), call).await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("description:")),
        "{body}"
    );
    let mut call = hotline_call(&o.category);
    call["call"]["caller_number"] = json!("1".repeat(20_000));
    let res = app.post("/api/v1/tickets", Some(&o.operator), call).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = submit(&app, &key, Some("k1"), &json!({"kind": "help", "title": "t", "description": "d", "citizen": {"open_id": "o".repeat(20_000)}})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = submit(&app, &key, Some("k2"), &json!({"kind": "help", "title": "t", "description": "d", "citizen": {"open_id": "o\u{0}x"}})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // a NUL in an action's text
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let res = act_raw(&app, &o.operator, &t, "note", json!({"text": "a\u{0}b"})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    // a CSV import carrying a NUL
    let res = app
        .client
        .post(app.url("/api/v1/import/departments"))
        .bearer_auth(&o.admin)
        .header("content-type", "text/csv")
        .body("code,name,level,parent_code\nX1,bad\0name,department,\n")
        .send()
        .await
        .expect("import");
    assert!(res.status().is_client_error(), "{}", res.status());
}

async fn unknown_methods_share_one_metrics_series(app: TestApp) {
    for i in 0..50 {
        let method = Method::from_bytes(format!("M{i:06}").as_bytes()).expect("method");
        app.client
            .request(method, app.url(&format!("/healthz/x{i}")))
            .send()
            .await
            .expect("request");
    }
    let metrics = app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        !metrics.contains("M000001"),
        "an arbitrary method became a label"
    );
    assert!(
        !metrics.contains("/healthz/x1"),
        "an arbitrary path became a label"
    );
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

async fn throttle_counts_parallel_attempts_before_checking(app: TestApp) {
    // 40 parallel wrong passwords: at most 5 (the per-account limit) are ever checked
    let attempts = (0..40).map(|_| app.login_raw("admin", "wrong password!"));
    let statuses: Vec<StatusCode> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 5, "{checked} checked: {statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
    // the per-address limit (20) holds the same way across accounts
    let names: Vec<String> = (0..40).map(|i| format!("guess{i}")).collect();
    let attempts = names.iter().map(|n| app.login_raw(n, "wrong password!"));
    let statuses: Vec<StatusCode> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 20, "{checked} checked");
}

async fn own_password_change_is_throttled(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, token) = app.user_with_token(&admin, "dina", &["operator"]).await;
    let change = |current: String| {
        app.post(
            "/api/v1/me/password",
            Some(&token),
            json!({"current_password": current, "new_password": "Brand-New-Lantern-42"}),
        )
    };
    for _ in 0..5 {
        let res = change("not it at all".into()).await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let res = change("not it at all".into()).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // locked: even the right one waits
    let res = change(password_of("dina")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn concurrent_commands_without_if_match_all_succeed(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let notes = (0..20).map(|i| {
        act_raw(
            &app,
            &o.operator,
            &t,
            "note",
            json!({"text": format!("note {i}")}),
        )
    });
    let statuses: Vec<StatusCode> = join_all(notes).await.iter().map(|r| r.status()).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let id = t["id"].as_str().expect("id");
    let now = get_ticket(&app, &o.operator, id).await;
    assert_eq!(now["version"], 21);
    // with a stale If-Match: still 412
    let res = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{id}/note")))
        .bearer_auth(&o.operator)
        .header("If-Match", "\"3\"")
        .json(&json!({"text": "late"}))
        .send()
        .await
        .expect("note");
    assert_error(res, StatusCode::PRECONDITION_FAILED, "version_mismatch").await;
    // parallel single-file uploads (the default limit is 9 files a ticket)
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR concurrent";
    let (app_ref, operator) = (&app, &o.operator);
    let uploads = (0..8).map(|i| {
        let name = format!("p{i}.png");
        async move {
            upload(app_ref, operator, id, &[(name.as_str(), png)])
                .await
                .status()
        }
    });
    let statuses: Vec<StatusCode> = join_all(uploads).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    // 10 parallel merges into one ticket
    let mut sources = Vec::new();
    for _ in 0..10 {
        sources.push(new_ticket(&app, &o.operator, hotline_call(&o.category)).await);
    }
    let merges = sources
        .iter()
        .map(|s| act_raw(&app, &o.operator, s, "merge", json!({"into": id})));
    let answers = join_all(merges).await;
    for res in answers {
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let after = get_ticket(&app, &o.operator, id).await;
    assert_eq!(after["version"], 21 + 8 + 10);
}

const GIF_HTML: &[u8] = b"GIF89a<html><script>alert(document.cookie)</script></html>";

async fn security_headers_and_attachment_disposition(app: TestApp) {
    let res = app.get("/healthz", None).await;
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(header(&res, "x-frame-options"), "DENY");
    assert!(header(&res, "content-security-policy").contains("default-src 'none'"));
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-security-policy").contains("script-src 'self'"));
    let res = app.login_raw("admin", crate::helpers::ADMIN_PASSWORD).await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let id = t["id"].as_str().expect("id");
    let res = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&o.operator))
        .await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    let res = upload(
        &app,
        &o.operator,
        id,
        &[("x.html", GIF_HTML), ("a.pdf", b"%PDF-1.4 x")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let added: Value = res.json().await.expect("added");
    assert_eq!(added[0]["filename"], "x.gif");
    let gif = app
        .get(
            &format!(
                "/api/v1/tickets/{id}/attachments/{}",
                added[0]["id"].as_str().expect("id")
            ),
            Some(&o.operator),
        )
        .await;
    assert_eq!(header(&gif, "content-type"), "image/gif");
    assert_eq!(
        header(&gif, "content-disposition"),
        "inline; filename*=UTF-8''x.gif"
    );
    assert_eq!(header(&gif, "x-content-type-options"), "nosniff");
    let pdf = app
        .get(
            &format!(
                "/api/v1/tickets/{id}/attachments/{}",
                added[1]["id"].as_str().expect("id")
            ),
            Some(&o.operator),
        )
        .await;
    assert!(header(&pdf, "content-disposition").starts_with("attachment;"));
}

async fn field_limits(app: TestApp) {
    let o = org(&app).await;
    let cases = [
        (
            "call.call_id",
            json!({"call": {"call_id": "c".repeat(129)}}),
        ),
        (
            "call.call_id",
            json!({"call": {"call_id": "id with spaces"}}),
        ),
        (
            "citizen.open_id",
            json!({"citizen": {"open_id": "o".repeat(129)}}),
        ),
        (
            "citizen.name",
            json!({"citizen": {"name": "名".repeat(101)}}),
        ),
        (
            "citizen.address",
            json!({"citizen": {"address": "址".repeat(501)}}),
        ),
        ("title", json!({"title": "t".repeat(201)})),
    ];
    for (field, patch) in cases {
        let mut call = json!({"kind": "help", "title": "t", "description": "d"});
        for (k, v) in patch.as_object().expect("obj") {
            call[k] = v.clone();
        }
        let res = app.post("/api/v1/tickets", Some(&o.operator), call).await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{field}: {body}"
        );
    }
}

async fn weak_passwords_refused(app: TestApp) {
    let admin = app.admin_token().await;
    for weak in ["1234567890", "password12", "olga-is-me-1", "qwertyuiop"] {
        let res = app
            .post(
                "/api/v1/users",
                Some(&admin),
                json!({"username": "olga", "password": weak, "roles": ["operator"]}),
            )
            .await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("password:")),
            "{weak}: {body}"
        );
    }
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "olga", "password": "olga", "roles": ["operator"]}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn json_type_errors_name_the_field(app: TestApp) {
    let o = org(&app).await;
    let res = app
        .post(
            "/api/v1/tickets",
            Some(&o.operator),
            json!({"kind": 5, "title": "t", "description": "d"}),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("kind: invalid type: integer `5`")),
        "{body}"
    );
    let res = app
        .post(
            "/api/v1/tickets",
            Some(&o.operator),
            json!({"kind": "help", "title": "t", "description": "d", "citizen": {"phone": 138}}),
        )
        .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("citizen.phone:")),
        "{body}"
    );
    let res = app
        .post("/api/v1/tickets", Some(&o.operator), json!([1, 2]))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("login");
    assert_error(res, StatusCode::BAD_REQUEST, "malformed_json").await;
}

async fn no_constraint_names_in_answers(app: TestApp) {
    let admin = app.admin_token().await;
    department(&app, &admin, "DUP", "county", None).await;
    let res = app
        .post(
            "/api/v1/departments",
            Some(&admin),
            json!({"code": "DUP", "name": "again", "level": "county"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.expect("body");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        !message.contains("constraint") && !message.contains("_key") && !message.contains("UNIQUE"),
        "{message}"
    );
}

// ---- not per backend ------------------------------------------------------------------------

/// Refused uploads write nothing; the sweep removes files no row refers to.
#[actix_web::test]
async fn refused_uploads_leave_no_files() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.tickets.attachments_per_ticket = 2)
        .await
        .expect("app");
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let id = t["id"].as_str().expect("id");
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR kept";
    assert_eq!(
        upload(&app, &o.operator, id, &[("a.png", png)])
            .await
            .status(),
        StatusCode::CREATED
    );
    let big = {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.resize(1 << 20, 7);
        b
    };
    for i in 0..5u8 {
        let mut body = big.clone();
        body.push(i);
        let res = upload(&app, &o.operator, id, &[("b.png", &body), ("c.png", &body)]).await;
        assert_error(res, StatusCode::CONFLICT, "too_many_attachments").await;
        let res = upload(
            &app,
            &o.operator,
            id,
            &[("d.png", &body), ("e.exe", b"MZ\x90\0")],
        )
        .await;
        assert_error(
            res,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_attachment_type",
        )
        .await;
    }
    let files = walk(&app.data_dir().join("attachments"));
    assert_eq!(files.len(), 1, "{files:?}");
    // file modes: private
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(mode(files[0].parent().expect("dir")), 0o700);
        assert_eq!(mode(&app.data_dir().join("hotline.db")), 0o600);
    }
    // an orphan (a crash between the move into place and the commit) is swept
    let orphan = app
        .data_dir()
        .join("attachments")
        .join("ab")
        .join("ab".repeat(32));
    std::fs::create_dir_all(orphan.parent().expect("dir")).expect("dir");
    std::fs::write(&orphan, b"orphan").expect("write");
    let tmp = app
        .data_dir()
        .join("attachments")
        .join("tmp")
        .join("leftover");
    std::fs::create_dir_all(tmp.parent().expect("dir")).expect("dir");
    std::fs::write(&tmp, b"tmp").expect("write");
    let dir = app.data_dir().to_path_buf();
    let removed = hotline::db::run(&app.state.pool, move |c| {
        hotline::tickets::attachments::sweep_orphans(c, &dir, std::time::Duration::ZERO)
    })
    .await
    .expect("sweep");
    assert_eq!(removed, 2);
    assert_eq!(walk(&app.data_dir().join("attachments")).len(), 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
