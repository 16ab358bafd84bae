//! The business calendar's years through the API: shipped files, admins' edits with history.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, JsonOk, TestApp};
use crate::on_both_backends;

on_both_backends!(calendar_years_are_read_and_edited_by_admins);

async fn calendar_years_are_read_and_edited_by_admins(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, operator) = app.user_with_token(&admin, "op1", &["operator"]).await;
    let y2025 = app
        .get("/api/v1/calendar/2025", Some(&operator))
        .await
        .json_ok()
        .await;
    assert_eq!(y2025["source"], "file");
    let holidays = y2025["holidays"].as_array().expect("holidays");
    assert!(holidays.contains(&json!("2025-10-08")));
    assert!(y2025["workdays"]
        .as_array()
        .expect("w")
        .contains(&json!("2025-09-28")));
    let res = app.get("/api/v1/calendar/2031", Some(&operator)).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // only admins edit
    let next = json!({"holidays": ["2027-01-01", "2027-10-01"], "workdays": ["2027-09-26"]});
    let res = app
        .put_json("/api/v1/calendar/2027", &operator, next.clone())
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // refused: a date of another year, a make-up day on a weekday, a day both off and worked
    for bad in [
        json!({"holidays": ["2028-01-01"], "workdays": []}),
        json!({"holidays": [], "workdays": ["2027-09-27"]}),
        json!({"holidays": ["2027-09-26"], "workdays": ["2027-09-26"]}),
        json!({"holidays": ["not a date"], "workdays": []}),
    ] {
        let res = app.put_json("/api/v1/calendar/2027", &admin, bad).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let stored = app
        .put_json("/api/v1/calendar/2027", &admin, next)
        .await
        .json_ok()
        .await;
    assert_eq!(stored["source"], "edited");
    let got = app
        .get("/api/v1/calendar/2027", Some(&operator))
        .await
        .json_ok()
        .await;
    assert_eq!(got["holidays"], json!(["2027-01-01", "2027-10-01"]));
    // an edit of a shipped year overrides the file; the history names who and what was before
    let edit = json!({"holidays": ["2025-01-01"], "workdays": []});
    app.put_json("/api/v1/calendar/2025", &admin, edit)
        .await
        .json_ok()
        .await;
    let history = app
        .get("/api/v1/calendar/2025/history", Some(&admin))
        .await
        .json_ok()
        .await;
    let me: Value = app.get("/api/v1/me", Some(&admin)).await.json_ok().await;
    assert_eq!(history[0]["changed_by"], me["id"]);
    assert_eq!(history[0]["before"]["source"], "file");
    assert!(history[0]["before"]["holidays"]
        .as_array()
        .is_some_and(|h| h.len() > 10));
    assert_eq!(history[0]["after"]["holidays"], json!(["2025-01-01"]));
    let all = app
        .get("/api/v1/calendar", Some(&operator))
        .await
        .json_ok()
        .await;
    let years: Vec<i64> = all
        .as_array()
        .expect("years")
        .iter()
        .filter_map(|y| y["year"].as_i64())
        .collect();
    assert_eq!(years, vec![2025, 2026, 2027]);
}
