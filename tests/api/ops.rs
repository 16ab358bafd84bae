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
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let served: BTreeSet<String> = hotline::http::endpoints()
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "documented routes that are not served: {stale:?}"
    );
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
