//! Indicators on a constructed data set whose expected figures are worked out by hand (see
//! docs/indicators.md for the formulas), with the controllable clock, on both backends.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::callbacks::{attempt, call_back, claim, pending};
use crate::deadlines::bj;
use crate::helpers::{assert_error, JsonOk, TestApp};
use crate::on_both_backends;
use crate::tickets::{act, hotline_call, new_ticket, org};

on_both_backends!(
    indicators_match_the_hand_computed_figures,
    the_callback_audit_lists_late_callbacks,
    ten_tickets_in_one_village_raise_one_hot_spot,
    ledgers_as_csv_and_xlsx,
    a_ledger_export_job_reports_progress_and_serves_its_file,
);

fn rate(v: &Value) -> (i64, i64) {
    (
        v["numerator"].as_i64().expect("numerator"),
        v["denominator"].as_i64().expect("denominator"),
    )
}

async fn indicators_match_the_hand_computed_figures(app: TestApp) {
    let o = org(&app).await;
    // Tuesday 11 November 2025, 09:00 Beijing: four calls
    app.state.clock.set(bj(11, 9, 0));
    let mut tickets = Vec::new();
    for _ in 0..3 {
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        tickets.push(
            act(
                &app,
                &o.dispatcher,
                &t,
                "dispatch",
                json!({"department_id": o.water}),
            )
            .await,
        );
    }
    let mut consult = hotline_call(&o.category);
    consult["kind"] = json!("consultation");
    let t4 = new_ticket(&app, &o.operator, consult).await;
    act(
        &app,
        &o.operator,
        &t4,
        "direct_answer",
        json!({"reply": "可网上缴费"}),
    )
    .await;
    // t1: signed and answered in time, the citizen satisfied → closed
    let t1 = act(&app, &o.water_staff, &tickets[0], "sign", json!({})).await;
    let t1 = act(
        &app,
        &o.water_staff,
        &t1,
        "reply",
        json!({"reply": "已修复"}),
    )
    .await;
    let t1 = call_back(&app, &o.operator, &t1, "satisfied", true).await;
    assert_eq!(t1["status"], "closed");
    // t2: signed an hour late (due 12 Nov 09:00), answered, the citizen dissatisfied → redo
    app.state.clock.set(bj(12, 10, 0));
    let ops = app.token_for("operator1").await;
    let water = app.token_for("water-staff").await;
    let sup = app.token_for("supervisor1").await;
    let t2 = act(&app, &water, &tickets[1], "sign", json!({})).await;
    let t2 = act(&app, &water, &t2, "reply", json!({"reply": "已处理"})).await;
    let t2 = call_back(&app, &ops, &t2, "dissatisfied", false).await;
    assert_eq!(t2["status"], "in_progress");
    // t3: never signed (its sign-for is overdue and open)

    let q = "/api/v1/stats/indicators?from=2025-11-11&to=2025-11-12";
    let s = app.get(q, Some(&sup)).await.json_ok().await;
    assert_eq!(s["volume"]["total"], 4);
    assert_eq!(s["volume"]["by_channel"], json!({"hotline": 4}));
    assert_eq!(
        s["volume"]["by_kind"],
        json!({"consultation": 1, "help": 3})
    );
    let r = &s["rates"];
    assert_eq!(
        rate(&r["sign_on_time"]),
        (1, 3),
        "t1 met; t2 late; t3 open and overdue counts as late"
    );
    assert_eq!(
        rate(&r["on_time_completion"]),
        (2, 2),
        "handling met by t1 and t2; open ones not yet due"
    );
    assert_eq!(rate(&r["satisfaction"]), (1, 2));
    assert_eq!(rate(&r["resolution"]), (1, 2));
    assert_eq!(rate(&r["redo"]), (1, 3), "t2 of the replied t1, t2, t4");
    assert_eq!(rate(&r["direct_answer"]), (1, 4));
    assert_eq!(rate(&r["returns"]), (0, 3));
    assert_eq!(rate(&r["extension"]), (0, 3));
    assert_eq!(rate(&r["reopen"]), (0, 1));
    assert!((r["sign_on_time"]["value"].as_f64().expect("value") - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        s["overdue_now"],
        json!({"callback": 1, "sign": 1}),
        "t3's sign-for, t4's callback"
    );
    assert_eq!(
        s["series"],
        json!([
            {"bucket": "2025-11-11", "created": 4, "closed": 1},
            {"bucket": "2025-11-12", "created": 0, "closed": 0}
        ])
    );
    let month = app
        .get(&format!("{q}&series=month"), Some(&sup))
        .await
        .json_ok()
        .await;
    assert_eq!(
        month["series"],
        json!([{"bucket": "2025-11", "created": 4, "closed": 1}])
    );

    // the department subtree: the water company's three tickets; a department sees its own only
    let w = app
        .get(&format!("{q}&department_id={}", o.water), Some(&sup))
        .await
        .json_ok()
        .await;
    assert_eq!(w["volume"]["total"], 3);
    assert_eq!(rate(&w["rates"]["direct_answer"]), (0, 3));
    let own = app.get(q, Some(&water)).await.json_ok().await;
    assert_eq!(own["volume"]["total"], 3, "the water company's own subtree");
    let edu = app.token_for("edu-staff").await;
    let res = app
        .get(&format!("{q}&department_id={}", o.water), Some(&edu))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let none = app.get(q, Some(&edu)).await.json_ok().await;
    assert_eq!(none["volume"]["total"], 0);
    // filters and bad input
    let k = app
        .get(&format!("{q}&kind=consultation"), Some(&sup))
        .await
        .json_ok()
        .await;
    assert_eq!(k["volume"]["total"], 1);
    let outside = app
        .get(
            "/api/v1/stats/indicators?from=2025-11-13&to=2025-11-30",
            Some(&sup),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(outside["volume"]["total"], 0);
    assert_eq!(
        outside["rates"]["satisfaction"]["value"],
        Value::Null,
        "0/0 is no figure"
    );
    let res = app
        .get(
            "/api/v1/stats/indicators?from=2025-11-12&to=2025-11-11",
            Some(&sup),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .get(&format!("{q}&department_id=nope"), Some(&sup))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .get(
            "/api/v1/stats/indicators?from=yesterday&to=2025-11-11",
            Some(&sup),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // the same figures as one workbook, a sheet per table
    use calamine::Reader;
    let res = app
        .get(
            "/api/v1/stats/indicators.xlsx?from=2025-11-11&to=2025-11-12",
            Some(&sup),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("body").to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("workbook");
    assert_eq!(book.sheet_names(), vec!["总量", "指标", "超期", "趋势"]);
    let rates = book.worksheet_range("指标").expect("sheet");
    let sign: Vec<String> = rates
        .rows()
        .find(|r| r[0].to_string().starts_with("签收及时率"))
        .expect("sign row")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!((sign[1].as_str(), sign[2].as_str()), ("1", "3"));
}

/// One callback in time by operator1, one late by operator2 (an hour past its deadline); the
/// audit shows both, lists the late one with its operator and minutes, and an operator sees only
/// their own figures.
async fn the_callback_audit_lists_late_callbacks(app: TestApp) {
    let o = org(&app).await;
    let (op2_id, _) = app
        .user_with_token(&o.admin, "operator2", &["operator"])
        .await;
    app.state.clock.set(bj(11, 9, 0));
    let mut replied = Vec::new();
    for _ in 0..2 {
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        let t = act(
            &app,
            &o.dispatcher,
            &t,
            "dispatch",
            json!({"department_id": o.water}),
        )
        .await;
        let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
        replied.push(
            act(
                &app,
                &o.water_staff,
                &t,
                "reply",
                json!({"reply": "已修复"}),
            )
            .await,
        );
    }
    let reached = json!({"channel": "phone", "outcome": "reached", "satisfaction": "satisfied", "resolved": true});
    // t1: operator1 reaches the citizen an hour after the reply (due 12 Nov 09:00)
    app.state.clock.set(bj(11, 10, 0));
    call_back(&app, &o.operator, &replied[0], "satisfied", true).await;
    // t2: operator2 tries at 11:00 (no answer), reaches the citizen on 12 Nov at 10:00: 60 min late
    app.state.clock.set(bj(11, 11, 0));
    let op2 = app.token_for("operator2").await;
    let cb = pending(&app, &op2, &replied[1]).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    claim(&app, &op2, &cb).await.json_ok().await;
    attempt(
        &app,
        &op2,
        &cb,
        json!({"channel": "phone", "outcome": "no_answer"}),
    )
    .await
    .json_ok()
    .await;
    app.state.clock.set(bj(12, 10, 0));
    let op2 = app.token_for("operator2").await;
    claim(&app, &op2, &cb).await.json_ok().await;
    attempt(&app, &op2, &cb, reached).await.json_ok().await;

    let sup = app.token_for("supervisor1").await;
    let q = "/api/v1/stats/callback-audit?from=2025-11-12&to=2025-11-12";
    let a = app.get(q, Some(&sup)).await.json_ok().await;
    let op1_id = app
        .get("/api/v1/me", Some(&app.token_for("operator1").await))
        .await
        .json_ok()
        .await["id"]
        .clone();
    let row = |rows: &Value, id: &Value| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["id"] == *id)
            .cloned()
            .unwrap_or_else(|| panic!("no row {id} in {rows}"))
    };
    let one = row(&a["by_operator"], &op1_id);
    assert_eq!(
        (
            one["due"].as_i64(),
            one["in_time"].as_i64(),
            one["late"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(one["to_first_attempt"]["median"], 60);
    assert_eq!(one["to_first_attempt_working"]["median"], 60);
    let two = row(&a["by_operator"], &json!(op2_id));
    assert_eq!(
        (
            two["due"].as_i64(),
            two["in_time"].as_i64(),
            two["late"].as_i64()
        ),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(two["to_first_attempt"]["median"], 120);
    assert_eq!(
        two["to_completion"]["median"],
        25 * 60,
        "natural minutes from the reply"
    );
    let water = row(&a["by_department"], &json!(o.water));
    assert_eq!(
        (water["due"].as_i64(), water["late"].as_i64()),
        (Some(2), Some(1))
    );
    let late = a["late"].as_array().expect("late");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["number"], replied[1]["number"]);
    assert_eq!(late[0]["operator_id"], json!(op2_id));
    assert_eq!(late[0]["minutes_late"], 60);
    // an operator sees their own figures only
    let op1 = app.token_for("operator1").await;
    let own = app.get(q, Some(&op1)).await.json_ok().await;
    assert_eq!(own["by_operator"].as_array().expect("rows").len(), 1);
    assert_eq!(own["by_operator"][0]["id"], op1_id);
    let res = app
        .get(&format!("{q}&operator_id={op2_id}"), Some(&op1))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.get(q, Some(&app.token_for("water-staff").await)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // nothing fell due on the 11th
    let none = app
        .get(
            "/api/v1/stats/callback-audit?from=2025-11-11&to=2025-11-11",
            Some(&sup),
        )
        .await
        .json_ok()
        .await;
    assert!(none["by_operator"].as_array().expect("rows").is_empty());
}

/// 10 tickets of one category in one village (two of its grids) within two hours raise one
/// alert; the 11th joins it instead of raising another; another village stays quiet.
async fn ten_tickets_in_one_village_raise_one_hot_spot(app: TestApp) {
    use crate::organisation::{create, square};
    let o = org(&app).await;
    let admin = &o.admin;
    let county = create(&app, admin, "/api/v1/regions", json!({"code": "370783000000", "name": "寿光市", "level": "county", "polygon": square(118.0, 36.0, 1.0)})).await;
    let town = create(&app, admin, "/api/v1/regions", json!({"code": "370783101000", "name": "化龙镇", "level": "town", "parent_id": county, "polygon": square(118.2, 36.2, 0.2)})).await;
    let village = create(&app, admin, "/api/v1/regions", json!({"code": "370783101201", "name": "裴岭村", "level": "village", "parent_id": town, "polygon": square(118.25, 36.25, 0.05)})).await;
    let other = create(&app, admin, "/api/v1/regions", json!({"code": "370783101202", "name": "东村", "level": "village", "parent_id": town, "polygon": square(118.35, 36.25, 0.05)})).await;
    let grids: Vec<String> = futures_util::future::join_all((1..=2).map(|n| {
        let village = village.clone();
        let app = &app;
        async move {
            create(app, admin, "/api/v1/regions", json!({"code": format!("370783101201-G0{n}"), "name": format!("裴岭村第{n}网格"), "level": "grid", "parent_id": village, "polygon": square(118.25 + 0.01 * n as f64, 36.25, 0.005)})).await
        }
    }))
    .await;
    app.state.clock.set(bj(11, 9, 0));
    let call = |region: &str| {
        let mut body = hotline_call(&o.category);
        body["region_id"] = json!(region);
        body
    };
    let mut first = Value::Null;
    for i in 0..9 {
        let t = new_ticket(&app, &o.operator, call(&grids[i % 2])).await;
        if i == 0 {
            first = t;
        }
        app.state.clock.advance(chrono::Duration::minutes(10));
    }
    for _ in 0..5 {
        new_ticket(&app, &o.operator, call(&other)).await;
    }
    assert_eq!(
        hot_spots(&app, &o.supervisor).await,
        json!([]),
        "9 in the window: no alert yet"
    );
    let tenth = new_ticket(&app, &o.operator, call(&village)).await;
    let a = hot_spots(&app, &o.supervisor).await;
    assert_eq!(a.as_array().expect("alerts").len(), 1, "{a}");
    assert_eq!(a[0]["ticket_count"], 10);
    assert_eq!(a[0]["region_id"], json!(village));
    assert_eq!(a[0]["tickets"].as_array().expect("tickets").len(), 10);
    assert_eq!(a[0]["merge_into"], first["id"], "the oldest open ticket");
    let eleventh = new_ticket(&app, &o.operator, call(&grids[0])).await;
    let a = hot_spots(&app, &o.supervisor).await;
    assert_eq!(
        a.as_array().expect("alerts").len(),
        1,
        "the 11th raises no second alert"
    );
    assert_eq!(a[0]["ticket_count"], 11);
    let numbers: Vec<&Value> = a[0]["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| &t["number"])
        .collect();
    assert!(numbers.contains(&&tenth["number"]) && numbers.contains(&&eleventh["number"]));
    // departments do not read alerts; supervisors dismiss them with a reason
    let res = app.get("/api/v1/hotspots", Some(&o.water_staff)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let id = a[0]["id"].as_str().expect("id");
    let res = app
        .post(
            &format!("/api/v1/hotspots/{id}/dismiss"),
            Some(&o.operator),
            json!({"reason": "x"}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let d = app
        .post(
            &format!("/api/v1/hotspots/{id}/dismiss"),
            Some(&o.supervisor),
            json!({"reason": "已合并处理"}),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(d["dismiss_reason"], "已合并处理");
    assert_eq!(hot_spots(&app, &o.supervisor).await, json!([]));
}

async fn hot_spots(app: &TestApp, token: &str) -> Value {
    app.get("/api/v1/hotspots", Some(token))
        .await
        .json_ok()
        .await
}

/// A month's ledger of a department subtree as XLSX (read back with calamine: the rows and the
/// Chinese text intact) and as CSV with a BOM; a department reads its own only.
async fn ledgers_as_csv_and_xlsx(app: TestApp) {
    use calamine::Reader;
    let o = org(&app).await;
    app.state.clock.set(bj(11, 9, 0));
    let mut numbers = Vec::new();
    for i in 0..3 {
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        numbers.push(t["number"].as_str().expect("number").to_string());
        let t = act(
            &app,
            &o.dispatcher,
            &t,
            "dispatch",
            json!({"department_id": o.water}),
        )
        .await;
        if i == 0 {
            let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
            act(
                &app,
                &o.water_staff,
                &t,
                "reply",
                json!({"reply": "已修复，恢复供水"}),
            )
            .await;
        }
    }
    let edu = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    act(
        &app,
        &o.dispatcher,
        &edu,
        "dispatch",
        json!({"department_id": o.edu}),
    )
    .await;
    let sup = app.token_for("supervisor1").await;
    let url = |format: &str, period: &str| {
        format!(
            "/api/v1/stats/ledger?period={period}&department_id={}&format={format}",
            o.water
        )
    };
    let res = app.get(&url("xlsx", "2025-11"), Some(&sup)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-ledger-rows"], "3");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .expect("header")
        .contains(".xlsx"));
    let bytes = res.bytes().await.expect("body").to_vec();
    let mut book: calamine::Xlsx<_> =
        calamine::Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX workbook");
    let sheet = book.worksheet_range("台账").expect("the 台账 sheet");
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 4, "a header and three tickets");
    assert_eq!(rows[0][0], "工单编号");
    assert_eq!(rows[0][13], "答复内容");
    let mut got: Vec<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
    got.sort();
    assert_eq!(got, numbers);
    let first = rows
        .iter()
        .find(|r| r[0] == numbers[0])
        .expect("first ticket");
    assert_eq!(first[4], "小区停水三天了");
    assert_eq!(first[9], "按时", "signed in time");
    assert_eq!(first[13], "已修复，恢复供水");
    assert_eq!(first[1], "2025-11-11 09:00", "local time");

    let res = app.get(&url("csv", "2025-Q4"), Some(&sup)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.bytes().await.expect("body").to_vec();
    assert_eq!(&body[..3], b"\xEF\xBB\xBF", "UTF-8 with a BOM");
    let text = String::from_utf8(body[3..].to_vec()).expect("utf-8");
    assert_eq!(text.lines().count(), 4);
    assert!(text.contains("小区停水三天了"));
    // everything: four tickets
    let res = app
        .get("/api/v1/stats/ledger?period=2025-11", Some(&sup))
        .await;
    assert_eq!(res.headers()["x-ledger-rows"], "4");
    // a department reads its own subtree only; bad periods are refused
    let res = app
        .get(
            &url("csv", "2025-11"),
            Some(&app.token_for("edu-staff").await),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .get("/api/v1/stats/ledger?period=2025-13", Some(&sup))
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // a confidential ticket: in the supervisor's ledger, not in an operator's
    let mut secret = hotline_call(&o.category);
    secret["confidential"] = json!(true);
    new_ticket(&app, &o.operator, secret).await;
    let res = app
        .get("/api/v1/stats/ledger?period=2025-11", Some(&sup))
        .await;
    assert_eq!(res.headers()["x-ledger-rows"], "5");
    let res = app
        .get("/api/v1/stats/ledger?period=2025-11", Some(&o.operator))
        .await;
    assert_eq!(res.headers()["x-ledger-rows"], "4");
    // no file is left behind
    let left = std::fs::read_dir(app.data_dir().join("exports"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}

/// A ledger export as a job: accepted at once (202), its progress polled to `done` with the rows
/// counted, the file downloaded (CSV with a BOM, all rows); only its requester reads it; a job
/// whose process died is taken again and finished by another pass.
async fn a_ledger_export_job_reports_progress_and_serves_its_file(app: TestApp) {
    let o = org(&app).await;
    app.state.clock.set(bj(11, 9, 0));
    for _ in 0..3 {
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        act(
            &app,
            &o.dispatcher,
            &t,
            "dispatch",
            json!({"department_id": o.water}),
        )
        .await;
    }
    let sup = app.token_for("supervisor1").await;
    let res = app
        .post(
            "/api/v1/stats/exports",
            Some(&sup),
            json!({"period": "2025", "department_id": o.water, "format": "csv"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.expect("json");
    let id = job["id"].as_str().expect("id").to_string();
    assert!(["queued", "running", "done"].contains(&job["state"].as_str().unwrap_or("")));
    let mut done = Value::Null;
    for _ in 0..100 {
        let v = app
            .get(&format!("/api/v1/stats/exports/{id}"), Some(&sup))
            .await
            .json_ok()
            .await;
        if v["state"] == "done" {
            done = v;
            break;
        }
        assert_ne!(v["state"], "failed", "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done["rows_total"], 3, "{done}");
    assert_eq!(done["rows_written"], 3);
    assert_eq!(done["progress"], 1.0);
    let link = done["download"]
        .as_str()
        .expect("download link")
        .to_string();
    let res = app.get(&link, Some(&sup)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .expect("header")
        .contains("ledger-2025-"));
    let body = res.bytes().await.expect("body").to_vec();
    assert_eq!(&body[..3], b"\xEF\xBB\xBF", "UTF-8 with a BOM");
    let text = String::from_utf8(body[3..].to_vec()).expect("utf-8");
    assert_eq!(text.lines().count(), 4, "a header and three tickets");
    assert!(text.contains("小区停水三天了"));
    // the requester's list has it; another user neither sees it nor its file
    let mine = app
        .get("/api/v1/stats/exports", Some(&sup))
        .await
        .json_ok()
        .await;
    assert_eq!(mine[0]["id"], id.as_str());
    let other = app.token_for("water-staff").await;
    let res = app
        .get(&format!("/api/v1/stats/exports/{id}"), Some(&other))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.get(&link, Some(&other)).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // refused at once: another department's subtree, a bad period
    let res = app
        .post(
            "/api/v1/stats/exports",
            Some(&app.token_for("edu-staff").await),
            json!({"period": "2025-11", "department_id": o.water}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/stats/exports",
            Some(&sup),
            json!({"period": "2025-13"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // a job left running by a dead process (lease run out) is taken again and finished
    let res = app
        .post(
            "/api/v1/stats/exports",
            Some(&sup),
            json!({"period": "2025-Q4", "format": "xlsx"}),
        )
        .await;
    let second: Value = res.json().await.expect("json");
    let second = second["id"].as_str().expect("id").to_string();
    for _ in 0..100 {
        let v = app
            .get(&format!("/api/v1/stats/exports/{second}"), Some(&sup))
            .await
            .json_ok()
            .await;
        if v["state"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let now = app.state.clock.now();
    let stranded_id = second.clone();
    hotline::db::run(&app.state.pool, move |c| {
        use diesel::prelude::*;
        use hotline::db::schema::exports;
        diesel::update(exports::table.find(&stranded_id))
            .set((
                exports::state.eq("running"),
                exports::lease_until.eq(now - chrono::Duration::minutes(1)),
            ))
            .execute(c)?;
        Ok(())
    })
    .await
    .expect("strand the job");
    let dir = app.data_dir().join("exports");
    let ran = hotline::db::run(&app.state.pool, move |c| {
        let ids = hotline::stats::exports::stranded(c, now)?;
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().expect("tz");
        let mut ran = 0;
        for id in ids {
            if hotline::stats::exports::run(c, &id, tz, &dir, &|| now)? {
                ran += 1;
            }
        }
        Ok(ran)
    })
    .await
    .expect("recovery pass");
    assert_eq!(ran, 1);
    let v = app
        .get(&format!("/api/v1/stats/exports/{second}"), Some(&sup))
        .await
        .json_ok()
        .await;
    assert_eq!(v["state"], "done", "{v}");
    assert_eq!(v["rows_total"], 3);
}
