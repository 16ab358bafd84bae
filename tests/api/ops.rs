use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    health_and_readiness,
    metrics_count_requests,
    docs_and_openapi_cover_every_route
);

async fn health_and_readiness(app: TestApp) {
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ready");
}

async fn metrics_count_requests(app: TestApp) {
    app.get("/healthz", None).await;
    app.get("/api/v1/me", None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.expect("text");
    assert!(
        text.contains(
            r#"hotline_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/me",status="401""#),
        "{text}"
    );
    assert!(
        text.contains("hotline_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"hotline_db_pool_connections{state="idle"}"#),
        "{text}"
    );
}

async fn docs_and_openapi_cover_every_route(app: TestApp) {
    let res = app.get("/docs", None).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "docs page: {html}");
    // the page's assets are served by the binary itself, not from the internet
    assert!(
        !html.contains("https://"),
        "docs page references the network"
    );
    let res = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.expect("openapi");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    // the served document is the one collected from the route registration
    let collected = serde_json::to_value(hotline::http::document()).expect("document");
    assert_eq!(doc["paths"], collected["paths"]);
    assert!(documented.len() >= 50, "{} operations", documented.len());
    // and every documented operation is routed: never "no route" (404) or 405
    let id = uuid::Uuid::new_v4().to_string();
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", &id)
            .replace("{attachment_id}", &id)
            .replace("{action}", "note")
            .replace("{dataset}", "departments")
            .replace("{year}", "2025");
        let res = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
                app.url(&concrete),
            )
            .send()
            .await
            .expect("request");
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("no route"),
            "{method} {path}: {status} {body}"
        );
    }
    // a known path with another method is 405 with Allow; an unknown path 404
    let res = app
        .client
        .delete(app.url("/api/v1/tickets"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = res
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let res = app.get("/api/v1/nothing-here", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // the document is whole: every reference resolves
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    match (k.as_str(), item.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_string()),
                        _ => refs(item, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    let unresolved: BTreeSet<&String> = all
        .iter()
        .filter(|r| {
            let pointer = r.trim_start_matches('#');
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(unresolved.is_empty(), "unresolved $ref: {unresolved:?}");
    // the action body is optional (`sign` takes none)
    let act = &doc["paths"]["/api/v1/tickets/{id}/{action}"]["post"]["requestBody"];
    assert_ne!(act["required"], true, "{act}");
}
