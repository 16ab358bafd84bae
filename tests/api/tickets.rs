//! Tickets through the HTTP API: every transition of docs/domain.md §2, every refusal, intake
//! idempotency, privacy, queues, the citizen lookup, and the event log replaying to the row.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_error, json_with, password_of, token_of, JsonOk, TestApp};
use crate::on_both_backends;
use crate::organisation::{create, department};

on_both_backends!(
    full_lifecycle_replays_from_events,
    return_is_approved_or_rejected,
    forward_down_to_a_sub_department,
    merge_cancel_and_direct_answer,
    refusals,
    idempotent_mini_program_submission,
    privacy_masks_and_logs,
    answers_carry_names_and_take_department_codes,
    queues_and_search,
    citizen_status_lookup,
);

pub struct Org {
    pub admin: String,
    pub operator: String,
    pub dispatcher: String,
    pub supervisor: String,
    pub water_staff: String,
    pub water_staff_id: String,
    pub water_admin: String,
    pub east_staff: String,
    pub edu_staff: String,
    pub water: String,
    pub east: String,
    pub edu: String,
    pub category: String,
}

async fn member(
    app: &TestApp,
    admin: &str,
    name: &str,
    role: &str,
    department: &str,
) -> (String, String) {
    let res = app
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": name, "password": password_of(name), "roles": [role], "department_id": department}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED, "create {name}");
    let user: Value = res.json().await.expect("user");
    let token = token_of(&app.login(name, &password_of(name)).await);
    (user["id"].as_str().expect("id").to_string(), token)
}

pub async fn org(app: &TestApp) -> Org {
    let admin = app.admin_token().await;
    let gov = department(app, &admin, "GOV", "county", None).await;
    let water = department(app, &admin, "WATER", "utility", Some(&gov)).await;
    let east = department(app, &admin, "WATER-EAST", "department", Some(&water)).await;
    let edu = department(app, &admin, "EDU", "department", Some(&gov)).await;
    let category = create(
        app,
        &admin,
        "/api/v1/categories",
        json!({"code": "water.outage", "name": "停水", "default_kind": "help"}),
    )
    .await;
    let (_, operator) = app
        .user_with_token(&admin, "operator1", &["operator"])
        .await;
    let (_, dispatcher) = app
        .user_with_token(&admin, "dispatcher1", &["dispatcher"])
        .await;
    let (_, supervisor) = app
        .user_with_token(&admin, "supervisor1", &["supervisor"])
        .await;
    let (water_staff_id, water_staff) =
        member(app, &admin, "water-staff", "department_staff", &water).await;
    let (_, water_admin) = member(app, &admin, "water-admin", "department_admin", &water).await;
    let (_, east_staff) = member(app, &admin, "east-staff", "department_staff", &east).await;
    let (_, edu_staff) = member(app, &admin, "edu-staff", "department_staff", &edu).await;
    Org {
        admin,
        operator,
        dispatcher,
        supervisor,
        water_staff,
        water_staff_id,
        water_admin,
        east_staff,
        edu_staff,
        water,
        east,
        edu,
        category,
    }
}

pub fn hotline_call(category: &str) -> Value {
    json!({
        "category_id": category,
        "title": "小区停水三天了",
        "description": "幸福小区3号楼从周一起停水，至今没有恢复。",
        "address": "寿光市圣城街道幸福小区3号楼2单元",
        "citizen": {"name": "张三丰", "phone": "13812345678", "address": "寿光市圣城街道幸福小区3号楼2单元"},
        "call": {"caller_number": "13812345678", "call_id": "CALL-0001",
                 "started_at": "2026-11-23T01:00:00Z", "ended_at": "2026-11-23T01:04:30Z"}
    })
}

pub async fn new_ticket(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/api/v1/tickets", Some(token), body).await;
    json_with(res, StatusCode::CREATED).await
}

/// Takes an action and asserts it succeeds; returns the updated ticket.
pub async fn act(app: &TestApp, token: &str, ticket: &Value, action: &str, body: Value) -> Value {
    let id = ticket["id"].as_str().expect("id");
    let res = app
        .post(&format!("/api/v1/tickets/{id}/{action}"), Some(token), body)
        .await;
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let updated: Value = res.json().await.expect("ticket");
    assert_eq!(status, StatusCode::OK, "{action}: {updated}");
    assert_eq!(
        etag,
        Some(format!("\"{}\"", updated["version"])),
        "ETag carries the version"
    );
    updated
}

pub async fn act_raw(
    app: &TestApp,
    token: &str,
    ticket: &Value,
    action: &str,
    body: Value,
) -> reqwest::Response {
    let id = ticket["id"].as_str().expect("id");
    app.post(&format!("/api/v1/tickets/{id}/{action}"), Some(token), body)
        .await
}

async fn act_if_match(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    if_match: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .request(
            Method::POST,
            app.url(&format!("/api/v1/tickets/{id}/{action}")),
        )
        .bearer_auth(token)
        .header("If-Match", if_match)
        .json(&body)
        .send()
        .await
        .expect("request")
}

pub async fn get_ticket(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app.get(&format!("/api/v1/tickets/{id}"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("ticket")
}

async fn full_lifecycle_replays_from_events(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    assert_eq!(t["status"], "registered");
    assert_eq!(t["kind"], "help", "the category's default kind");
    assert!(
        t["number"]
            .as_str()
            // HL + date + 6 digits of the day's counter (SQLite) or 8 of the sequence (PostgreSQL)
            .is_some_and(|n| n.starts_with("HL")
                && (n.len() == 16 || n.len() == 18)
                && n[2..].bytes().all(|b| b.is_ascii_digit())),
        "{}",
        t["number"]
    );
    assert_eq!(t["call"]["call_id"], "CALL-0001");
    assert_eq!(t["version"], 1);
    assert!(t["allowed_actions"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("cancel")) && a.contains(&json!("merge"))));

    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water, "co_department_ids": [o.edu]}),
    )
    .await;
    assert_eq!(
        (t["status"].as_str(), t["lead_department_id"].as_str()),
        (Some("dispatched"), Some(o.water.as_str()))
    );
    assert_eq!(t["co_department_ids"], json!([o.edu]));
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    assert_eq!(t["status"], "in_progress");
    // supervision: flag, urge, the department's answer, un-flag
    let flag = app
        .post(
            "/api/v1/supervision",
            Some(&o.supervisor),
            json!({"ticket_id": t["id"], "level": "leadership", "instruction": "限期答复",
                   "due_at": "2099-01-01T00:00:00Z"}),
        )
        .await
        .json_ok()
        .await;
    let fid = flag["id"].as_str().expect("flag id");
    for (who, step, text) in [
        (&o.supervisor, "urge", "请加快"),
        (&o.water_staff, "respond", "已安排抢修"),
        (&o.supervisor, "clear", "已答复"),
    ] {
        app.post(
            &format!("/api/v1/supervision/{fid}/{step}"),
            Some(who),
            json!({"text": text}),
        )
        .await
        .json_ok()
        .await;
    }
    let t = get_ticket(&app, &o.operator, t["id"].as_str().expect("id")).await;
    let t = act(
        &app,
        &o.water_admin,
        &t,
        "assign",
        json!({"assignee_id": o.water_staff_id}),
    )
    .await;
    assert_eq!(t["assignee_id"], json!(o.water_staff_id));
    act(
        &app,
        &o.edu_staff,
        &t,
        "contribute",
        json!({"text": "学校供水已协调备用水车"}),
    )
    .await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "public_note",
        json!({"text": "维修人员已到场"}),
    )
    .await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "request_extension",
        json!({"days": 3, "reason": "需更换主管道"}),
    )
    .await;
    assert_eq!(t["extension"]["state"], "requested");
    let t = act(&app, &o.supervisor, &t, "approve_extension", json!({})).await;
    assert_eq!(t["extension"], json!({"state": "approved", "days": 3}));
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "已更换管道，恢复供水"}),
    )
    .await;
    assert_eq!(t["status"], "replied");
    // the callback: claimed, a verdict of "dissatisfied" sends the ticket back by itself
    let t = crate::callbacks::call_back(&app, &o.operator, &t, "dissatisfied", true).await;
    assert_eq!(t["status"], "in_progress");
    assert_eq!(t["redo_count"], 1);
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "已调整加压泵，水压正常"}),
    )
    .await;
    act(
        &app,
        &o.operator,
        &t,
        "note",
        json!({"text": "回访前内部备注"}),
    )
    .await;
    let t = crate::callbacks::call_back(&app, &o.operator, &t, "satisfied", true).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "satisfied");
    assert!(t["closed_at"].is_string());
    // the citizen calls again: reopened, answered, a supervisor closes it with a reason
    let t = act(
        &app,
        &o.operator,
        &t,
        "reopen",
        json!({"reason": "市民来电反映又停水"}),
    )
    .await;
    assert_eq!(
        (t["status"].as_str(), t["reopen_count"].as_i64()),
        (Some("in_progress"), Some(1))
    );
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "已再次抢修"}),
    )
    .await;
    let cb = crate::callbacks::pending(&app, &o.operator, &t).await;
    let cb_id = cb[0]["id"].as_str().expect("id");
    let res = app
        .post(
            &format!("/api/v1/callbacks/{cb_id}/claim"),
            Some(&o.operator),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let operator = app
        .get("/api/v1/me", Some(&o.dispatcher))
        .await
        .json_ok()
        .await;
    app.post(
        &format!("/api/v1/callbacks/{cb_id}/reassign"),
        Some(&o.supervisor),
        json!({"operator_id": operator["id"]}),
    )
    .await
    .json_ok()
    .await;
    let t = get_ticket(&app, &o.operator, t["id"].as_str().expect("id")).await;
    let t = act(
        &app,
        &o.supervisor,
        &t,
        "close",
        json!({"reason": "不合理诉求：已多次解释"}),
    )
    .await;
    assert_eq!(t["callback_result"], "closed_by_supervisor");
    let t = get_ticket(&app, &o.operator, t["id"].as_str().expect("id")).await;

    // rebuild the state from the event log alone
    let id = t["id"].as_str().expect("id");
    let page: Value = app
        .get(
            &format!("/api/v1/tickets/{id}/events?limit=500"),
            Some(&o.supervisor),
        )
        .await
        .json_ok()
        .await;
    let events = page["items"].as_array().expect("events");
    let (mut status, mut lead, mut assignee, mut co, mut reply) = (
        Value::Null,
        Value::Null,
        Value::Null,
        json!([]),
        Value::Null,
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i + 1, "gapless sequence");
        assert_eq!(
            e["from_status"],
            if i == 0 { Value::Null } else { status.clone() },
            "events chain: {e}"
        );
        status = e["to_status"].clone();
        match e["action"].as_str() {
            Some("dispatch") | Some("approve_return") => {
                lead = e["payload"]["department_id"].clone();
                co = e["payload"]["co_department_ids"].clone();
                assignee = Value::Null;
            }
            Some("forward") => {
                lead = e["payload"]["department_id"].clone();
                assignee = Value::Null;
            }
            Some("assign") => assignee = e["payload"]["assignee_id"].clone(),
            Some("reply") | Some("direct_answer") => reply = e["payload"]["reply"].clone(),
            _ => {}
        }
        // the service concludes the callbacks itself
        let by_system = e["actor"]["kind"] == "system"
            && matches!(e["action"].as_str(), Some("close") | Some("redo"));
        assert!(
            by_system || (e["actor"]["id"].is_string() && e["actor"]["role"].is_string()),
            "actor recorded: {e}"
        );
    }
    assert_eq!(status, t["status"]);
    assert_eq!(lead, t["lead_department_id"]);
    assert_eq!(co, t["co_department_ids"]);
    assert_eq!(assignee, t["assignee_id"]);
    assert_eq!(reply, t["reply"]);
    assert_eq!(json!(events.len()), t["version"]);
    // the database itself refuses to rewrite history
    let tampered = hotline::db::run(&app.state.pool, |c| {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE ticket_events SET action = 'rewritten'")
            .execute(c)
            .map_err(hotline::error::AppError::from)
    })
    .await;
    assert!(tampered.is_err(), "events cannot be updated");
    let deleted = hotline::db::run(&app.state.pool, |c| {
        use diesel::RunQueryDsl;
        diesel::sql_query("DELETE FROM ticket_events")
            .execute(c)
            .map_err(hotline::error::AppError::from)
    })
    .await;
    assert!(deleted.is_err(), "events cannot be deleted");
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "create",
            "dispatch",
            "sign",
            "flag",
            "urge",
            "flag_response",
            "unflag",
            "assign",
            "contribute",
            "public_note",
            "request_extension",
            "approve_extension",
            "reply",
            "claim_callback",
            "callback_attempt",
            "redo",
            "reply",
            "note",
            "claim_callback",
            "callback_attempt",
            "close",
            "reopen",
            "reply",
            "claim_callback",
            "reassign_callback",
            "close"
        ]
    );
}

async fn return_is_approved_or_rejected(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.edu}),
    )
    .await;
    // return → reject: back to the department, in the state it had
    let res = act_raw(&app, &o.edu_staff, &t, "return", json!({})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let t = act(
        &app,
        &o.edu_staff,
        &t,
        "return",
        json!({"reason": "不属于教育部门职责"}),
    )
    .await;
    assert_eq!(t["status"], "return_pending");
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "reject_return",
        json!({"reason": "涉及学校供水，请先处理"}),
    )
    .await;
    assert_eq!(t["status"], "dispatched");
    assert_eq!(t["lead_department_id"], json!(o.edu));
    // signed, then returned: rejection puts it back in progress
    let t = act(&app, &o.edu_staff, &t, "sign", json!({})).await;
    let t = act(
        &app,
        &o.edu_staff,
        &t,
        "return",
        json!({"reason": "确属供水公司职责"}),
    )
    .await;
    let res = act_raw(&app, &o.dispatcher, &t, "approve_return", json!({})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = act_raw(
        &app,
        &o.dispatcher,
        &t,
        "approve_return",
        json!({"department_id": o.edu}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // return → approve → re-dispatch
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "approve_return",
        json!({"department_id": o.water}),
    )
    .await;
    assert_eq!(t["status"], "dispatched");
    assert_eq!(t["lead_department_id"], json!(o.water));
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    assert_eq!(t["status"], "in_progress");
    // and the reject path from in_progress
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "return",
        json!({"reason": "再试一次"}),
    )
    .await;
    let t = act(
        &app,
        &o.supervisor,
        &t,
        "reject_return",
        json!({"reason": "请继续办理"}),
    )
    .await;
    assert_eq!(t["status"], "in_progress");
}

async fn forward_down_to_a_sub_department(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let res = act_raw(
        &app,
        &o.water_staff,
        &t,
        "forward",
        json!({"department_id": o.edu}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = act_raw(
        &app,
        &o.edu_staff,
        &t,
        "forward",
        json!({"department_id": o.east}),
    )
    .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // the sub-department cannot see it yet
    let res = app
        .get(
            &format!("/api/v1/tickets/{}", t["id"].as_str().expect("id")),
            Some(&o.east_staff),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "forward",
        json!({"department_id": o.east}),
    )
    .await;
    assert_eq!(
        (t["status"].as_str(), t["lead_department_id"].as_str()),
        (Some("dispatched"), Some(o.east.as_str()))
    );
    let t = act(&app, &o.east_staff, &t, "sign", json!({})).await;
    assert_eq!(t["status"], "in_progress");
    // the parent department still sees it (its subtree) but no longer acts on it
    let seen = get_ticket(&app, &o.water_staff, t["id"].as_str().expect("id")).await;
    assert!(seen["allowed_actions"]
        .as_array()
        .is_some_and(|a| !a.contains(&json!("reply"))));
    let res = act_raw(&app, &o.water_staff, &t, "reply", json!({"reply": "x"})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let t = act(
        &app,
        &o.east_staff,
        &t,
        "reply",
        json!({"reply": "东区已修复"}),
    )
    .await;
    assert_eq!(t["status"], "replied");
}

async fn merge_cancel_and_direct_answer(app: TestApp) {
    let o = org(&app).await;
    let survivor = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let mut dup_body = hotline_call(&o.category);
    dup_body["citizen"] = json!({"name": "李四", "phone": "13900001111"});
    let duplicate = new_ticket(&app, &o.operator, dup_body).await;
    // the intake form shows the similar open ticket
    let similar: Value = app
        .get(
            &format!("/api/v1/tickets/similar?category_id={}", o.category),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(similar["items"].as_array().map(Vec::len), Some(2));
    assert!(
        similar.get("next_cursor").is_some(),
        "a page like every list"
    );
    // narrowed by a key word of the call, through the full-text index
    let mut other = hotline_call(&o.category);
    other["title"] = json!("路灯不亮");
    other["description"] = json!("人民路路灯已坏一周");
    new_ticket(&app, &o.operator, other).await;
    for (q, found) in [("停水", 2), ("路灯", 1), ("燃气", 0), ("灯", 1)] {
        let similar: Value = app
            .get(
                &format!(
                    "/api/v1/tickets/similar?category_id={}&q={}",
                    o.category,
                    url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                ),
                Some(&o.operator),
            )
            .await
            .json_ok()
            .await;
        assert_eq!(
            similar["items"].as_array().map(Vec::len),
            Some(found),
            "q = {q}"
        );
    }
    let res = act_raw(
        &app,
        &o.operator,
        &duplicate,
        "merge",
        json!({"into": duplicate["id"]}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let merged = act(
        &app,
        &o.operator,
        &duplicate,
        "merge",
        json!({"into": survivor["id"]}),
    )
    .await;
    assert_eq!(merged["status"], "merged");
    assert_eq!(merged["merged_into"], survivor["id"]);
    let sid = survivor["id"].as_str().expect("id");
    let events: Value = app
        .get(&format!("/api/v1/tickets/{sid}/events"), Some(&o.operator))
        .await
        .json_ok()
        .await;
    let last = events["items"]
        .as_array()
        .and_then(|e| e.last().cloned())
        .expect("event");
    assert_eq!(last["action"], "merged_in");
    assert_eq!(last["payload"]["merged"], duplicate["id"]);
    // the merged citizen stays reachable for the callback
    let merged_in: Value = app
        .get(
            &format!("/api/v1/tickets/{}", duplicate["id"].as_str().expect("id")),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(merged_in["citizen"]["phone"], "1******1111");
    // nothing merges into a closed ticket, and a merged ticket takes no more actions
    let res = act_raw(&app, &o.dispatcher, &merged, "dispatch", json!({})).await;
    assert_error(res, StatusCode::CONFLICT, "illegal_transition").await;

    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let res = act_raw(&app, &o.operator, &t, "cancel", json!({})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let t = act(
        &app,
        &o.operator,
        &t,
        "cancel",
        json!({"reason": "市民撤回"}),
    )
    .await;
    assert_eq!(t["status"], "cancelled");
    let res = act_raw(
        &app,
        &o.operator,
        &duplicate,
        "merge",
        json!({"into": t["id"]}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "illegal_transition").await;
    let third = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let res = act_raw(&app, &o.operator, &third, "merge", json!({"into": t["id"]})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // a consultation answered at once
    let mut consult = hotline_call(&o.category);
    consult["kind"] = json!("consultation");
    consult["title"] = json!("水费怎么交");
    let c = new_ticket(&app, &o.operator, consult).await;
    let c = act(
        &app,
        &o.operator,
        &c,
        "direct_answer",
        json!({"reply": "可在微信生活缴费中缴纳"}),
    )
    .await;
    assert_eq!(c["status"], "replied");
    assert!(c["dispatched_at"].is_null());
    let c = act(
        &app,
        &o.supervisor,
        &c,
        "close",
        json!({"reason": "当场答复，市民无异议"}),
    )
    .await;
    assert_eq!(c["status"], "closed");
    assert_eq!(c["callback_result"], "closed_by_supervisor");
    // a help request cannot be answered directly
    let res = act_raw(
        &app,
        &o.operator,
        &third,
        "direct_answer",
        json!({"reply": "x"}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

async fn refusals(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    // wrong role: 403
    let res = act_raw(
        &app,
        &o.operator,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/tickets",
            Some(&o.water_staff),
            hotline_call(&o.category),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let res = act_raw(&app, &o.operator, &t, "sign", json!({})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // wrong department: 404, as if it did not exist
    let id = t["id"].as_str().expect("id");
    let res = act_raw(&app, &o.edu_staff, &t, "sign", json!({})).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .get(&format!("/api/v1/tickets/{id}"), Some(&o.edu_staff))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&o.edu_staff))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    // illegal transition: 409 naming the state and the allowed actions
    let res = act_raw(&app, &o.water_staff, &t, "reply", json!({"reply": "x"})).await;
    let body = assert_error(res, StatusCode::CONFLICT, "illegal_transition").await;
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.contains("dispatched") && message.contains("sign") && message.contains("return"),
        "{message}"
    );
    // stale version: 412
    let signed = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    let stale = t["version"].as_i64().expect("version");
    let res = act_if_match(
        &app,
        &o.water_staff,
        id,
        "public_note",
        &format!("\"{stale}\""),
        json!({"text": "x"}),
    )
    .await;
    assert_error(res, StatusCode::PRECONDITION_FAILED, "version_mismatch").await;
    let current = format!("\"{}\"", signed["version"]);
    let res = act_if_match(
        &app,
        &o.water_staff,
        id,
        "public_note",
        &current,
        json!({"text": "处理中"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = act_if_match(
        &app,
        &o.water_staff,
        id,
        "note",
        "yesterday",
        json!({"text": "x"}),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_header").await;
    // unknown action, unknown ticket, malformed body
    let res = act_raw(&app, &o.water_staff, &t, "teleport", json!({})).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app
        .post(
            &format!("/api/v1/tickets/{}/sign", uuid::Uuid::new_v4()),
            Some(&o.water_staff),
            json!({}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = act_raw(
        &app,
        &o.water_staff,
        &t,
        "note",
        json!({"text": "x", "colour": "red"}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    // bad intake
    let res = app
        .post(
            "/api/v1/tickets",
            Some(&o.operator),
            json!({"title": "", "description": "x", "kind": "help"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/tickets",
            Some(&o.operator),
            json!({"title": "t", "description": "x"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.post("/api/v1/tickets", Some(&o.operator), json!({"title": "t", "description": "x", "kind": "help", "citizen": {"phone": "call me"}})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    // a category and a region named together: read in one statement, each refused by name
    let region = create(
        &app,
        &o.admin,
        "/api/v1/regions",
        json!({"code": "370783101000", "name": "化龙镇", "level": "town"}),
    )
    .await;
    let missing = "01900000-0000-7000-8000-000000000000";
    for (category, region_id, field) in [
        (o.category.as_str(), missing, "region_id"),
        (missing, region.as_str(), "category_id"),
    ] {
        let mut body = hotline_call(category);
        body["region_id"] = json!(region_id);
        let res = app.post("/api/v1/tickets", Some(&o.operator), body).await;
        let error = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(field)),
            "{error}"
        );
    }
    let mut body = hotline_call(&o.category);
    body["region_id"] = json!(region);
    let created = new_ticket(&app, &o.operator, body).await;
    assert_eq!(created["region_id"], json!(region));
    assert_eq!(created["category_id"], json!(o.category));
}

pub async fn client_key(app: &TestApp, admin: &str, scopes: Value) -> String {
    let res = app
        .post(
            "/api/v1/api-clients",
            Some(admin),
            json!({"name": format!("gw-{}", uuid::Uuid::new_v4().simple()), "scopes": scopes}),
        )
        .await;
    let body: Value = res.json().await.expect("client");
    body["api_key"].as_str().expect("key").to_string()
}

fn submission(open_id: &str, title: &str) -> Value {
    json!({"kind": "help", "title": title, "description": "小程序提交的诉求", "citizen": {"open_id": open_id, "phone": "13700001234"}})
}

pub async fn submit(
    app: &TestApp,
    key: &str,
    idempotency_key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(key)
        .json(body);
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("request")
}

async fn idempotent_mini_program_submission(app: TestApp) {
    let o = org(&app).await;
    let key = client_key(&app, &o.admin, json!(["tickets:submit"])).await;
    let body = submission("oWx-1", "路灯不亮");
    let res = submit(&app, &key, Some("req-1"), &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.expect("ticket");
    let res = submit(&app, &key, Some("req-1"), &body).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a retry answers the first ticket"
    );
    let again: Value = res.json().await.expect("ticket");
    assert_eq!(again["id"], first["id"]);
    let res = submit(&app, &key, Some("req-1"), &submission("oWx-1", "别的事")).await;
    assert_error(res, StatusCode::CONFLICT, "idempotency_key_reused").await;
    let res = submit(&app, &key, None, &body).await;
    assert_error(res, StatusCode::BAD_REQUEST, "idempotency_key_required").await;
    let res = submit(
        &app,
        &key,
        Some("req-2"),
        &json!({"kind": "help", "title": "t", "description": "d"}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let reader = client_key(&app, &o.admin, json!(["tickets:read"])).await;
    let res = submit(&app, &reader, Some("req-3"), &body).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // 20 identical requests at once: one ticket
    let body = submission("oWx-2", "井盖丢失");
    let responses = join_all((0..20).map(|_| submit(&app, &key, Some("burst-1"), &body))).await;
    let mut ids = Vec::new();
    for res in responses {
        assert!(
            res.status() == StatusCode::CREATED || res.status() == StatusCode::OK,
            "status {}",
            res.status()
        );
        let t: Value = res.json().await.expect("ticket");
        ids.push(t["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "all answers name one ticket");
    let page: Value = app
        .get(
            "/api/v1/tickets?channel=miniprogram&q=井盖",
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(1),
        "exactly one ticket created"
    );
    assert_eq!(page["items"][0]["channel"], "miniprogram");
}

async fn reveal(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/tickets/{id}/reveal"), Some(token), body)
        .await
}

async fn access_log_of(app: &TestApp, supervisor: &str, id: &str) -> Vec<Value> {
    let log: Value = app
        .get(
            &format!("/api/v1/access-log?ticket_id={id}"),
            Some(supervisor),
        )
        .await
        .json_ok()
        .await;
    log["items"].as_array().cloned().unwrap_or_default()
}

async fn privacy_masks_and_logs(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let id = t["id"].as_str().expect("id").to_string();
    // even the intake answer is masked: every answer is
    assert_eq!(t["citizen"]["phone"], "1******5678");
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    // department staff: masked contact data, the incident location in full
    let seen = get_ticket(&app, &o.water_staff, &id).await;
    assert_eq!(seen["citizen"]["phone"], "1******5678");
    assert_eq!(seen["citizen"]["name"], "张**");
    assert_eq!(seen["citizen"]["address"], "寿光市圣城****");
    assert_eq!(seen["citizen"]["masked"], true);
    assert!(seen["citizen"]["open_id"].is_null());
    assert_eq!(seen["address"], "寿光市圣城街道幸福小区3号楼2单元");
    assert_eq!(seen["call"]["caller_number"], "1******5678");
    // hotline staff: masked by default as well
    let seen = get_ticket(&app, &o.operator, &id).await;
    assert_eq!(seen["citizen"]["phone"], "1******5678");
    assert_eq!(seen["call"]["caller_number"], "1******5678");
    assert!(
        access_log_of(&app, &o.supervisor, &id).await.is_empty(),
        "taking a call in and masked views are not logged"
    );
    // revealing needs a role with contact access and a reason
    let res = reveal(&app, &o.water_staff, &id, json!({"reason": "visit"})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = reveal(&app, &o.water_admin, &id, json!({"reason": "  "})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = reveal(
        &app,
        &o.water_admin,
        &id,
        json!({"reason": "on-site visit: call ahead"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let full: Value = res.json().await.expect("contact");
    assert_eq!(full["citizen_phone"], "13812345678");
    assert_eq!(full["citizen_name"], "张三丰");
    assert_eq!(full["citizen_address"], "寿光市圣城街道幸福小区3号楼2单元");
    assert_eq!(full["caller_number"], "13812345678");
    let items = access_log_of(&app, &o.supervisor, &id).await;
    assert_eq!(items.len(), 1);
    let me: Value = app
        .get("/api/v1/me", Some(&o.water_admin))
        .await
        .json_ok()
        .await;
    assert_eq!(items[0]["user_id"], me["id"]);
    assert_eq!(items[0]["reason"], "on-site visit: call ahead");
    assert_eq!(
        items[0]["fields"],
        json!([
            "citizen_name",
            "citizen_phone",
            "citizen_address",
            "caller_number"
        ])
    );
    // hotline staff reveal too, and each reveal is one more row
    let res = reveal(&app, &o.operator, &id, json!({"reason": "callback"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(access_log_of(&app, &o.supervisor, &id).await.len(), 2);
    let res = app.get("/api/v1/access-log", Some(&o.operator)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    // lists are masked for everyone
    let page: Value = app
        .get("/api/v1/tickets", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert_eq!(page["items"][0]["citizen"]["phone"], "1******5678");
    // a report never reveals the reporter to departments, even with the permission: no name,
    // no phone, no caller number, and no reveal
    let mut report = hotline_call(&o.category);
    report["kind"] = json!("report");
    let r = new_ticket(&app, &o.operator, report).await;
    act(
        &app,
        &o.dispatcher,
        &r,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let rid = r["id"].as_str().expect("id");
    let seen = get_ticket(&app, &o.water_admin, rid).await;
    assert!(seen["citizen"]["name"].is_null() && seen["citizen"]["phone"].is_null());
    assert!(seen["citizen"]["address"].is_null());
    assert!(seen["call"]["caller_number"].is_null(), "{}", seen["call"]);
    assert_eq!(seen["citizen"]["reporter_hidden"], true);
    let res = reveal(&app, &o.water_admin, rid, json!({"reason": "who is it"})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = reveal(&app, &o.operator, rid, json!({"reason": "callback"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // confidential: only the lead department and supervisors
    let mut secret = hotline_call(&o.category);
    secret["confidential"] = json!(true);
    let s = new_ticket(&app, &o.supervisor, secret).await;
    let sid = s["id"].as_str().expect("id");
    let res = app
        .get(&format!("/api/v1/tickets/{sid}"), Some(&o.operator))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    act(
        &app,
        &o.supervisor,
        &s,
        "dispatch",
        json!({"department_id": o.east}),
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{sid}"), Some(&o.east_staff))
            .await
            .status(),
        StatusCode::OK
    );
    let res = app
        .get(&format!("/api/v1/tickets/{sid}"), Some(&o.water_staff))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let _ = t;
}

async fn queues_and_search(app: TestApp) {
    let o = org(&app).await;
    let a = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let mut other = hotline_call(&o.category);
    other["title"] = json!("学校门口积水");
    other["citizen"] = json!({"phone": "13900002222"});
    let b = new_ticket(&app, &o.operator, other).await;
    let count = |v: &Value| v["items"].as_array().map(Vec::len).unwrap_or(0);
    let q: Value = app
        .get("/api/v1/tickets?queue=dispatch", Some(&o.dispatcher))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 2);
    let a = act(
        &app,
        &o.dispatcher,
        &a,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    act(
        &app,
        &o.dispatcher,
        &b,
        "dispatch",
        json!({"department_id": o.east}),
    )
    .await;
    let q: Value = app
        .get("/api/v1/tickets?queue=to_sign", Some(&o.water_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 1, "only my department's");
    let q: Value = app
        .get("/api/v1/tickets", Some(&o.water_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 2, "my department and below");
    let q: Value = app
        .get("/api/v1/tickets", Some(&o.edu_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 0);
    let a = act(&app, &o.water_staff, &a, "sign", json!({})).await;
    act(
        &app,
        &o.water_admin,
        &a,
        "assign",
        json!({"assignee_id": o.water_staff_id}),
    )
    .await;
    let q: Value = app
        .get("/api/v1/tickets?queue=in_progress", Some(&o.water_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 1);
    let q: Value = app
        .get("/api/v1/tickets?queue=mine", Some(&o.water_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 1);
    let res = app
        .get("/api/v1/tickets?queue=to_sign", Some(&o.operator))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    // search
    let q: Value = app
        .get("/api/v1/tickets?phone=13900002222", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 1, "a caller's earlier tickets");
    let res = app
        .get("/api/v1/tickets?phone=13900002222", Some(&o.water_staff))
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let q: Value = app
        .get(
            &format!("/api/v1/tickets?department_id={}", o.water),
            Some(&o.supervisor),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 2, "department filter includes sub-departments");
    let q: Value = app
        .get("/api/v1/tickets?q=积水", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 1);
    let number = a["number"].as_str().expect("number");
    let q: Value = app
        .get(
            &format!("/api/v1/tickets?number={number}"),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(q["items"][0]["id"], a["id"]);
    let q: Value = app.get(&format!("/api/v1/tickets?category_id={}&kind=help&urgency=normal&channel=hotline&status=in_progress", o.category), Some(&o.operator)).await.json_ok().await;
    assert_eq!(count(&q), 1);
    let q: Value = app
        .get(
            "/api/v1/tickets?created_from=2000-01-01T00:00:00Z&created_to=2001-01-01T00:00:00Z",
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(count(&q), 0);
    let q: Value = app
        .get("/api/v1/tickets?limit=1&order=newest", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert_eq!(q["items"][0]["id"], b["id"]);
    let cursor = q["next_cursor"].as_str().expect("cursor");
    let q: Value = app
        .get(
            &format!("/api/v1/tickets?limit=1&order=newest&cursor={cursor}"),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(q["items"][0]["id"], a["id"]);
    let res = app
        .get("/api/v1/tickets?status=lost", Some(&o.operator))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
}

async fn citizen_status_lookup(app: TestApp) {
    let o = org(&app).await;
    let gateway = client_key(&app, &o.admin, json!(["tickets:submit", "tickets:read"])).await;
    let res = submit(
        &app,
        &gateway,
        Some("c-1"),
        &submission("oCitizen", "垃圾没人清运"),
    )
    .await;
    let submitted: Value = res.json().await.expect("ticket");
    let id = submitted["id"].as_str().expect("id").to_string();
    let t = get_ticket(&app, &o.dispatcher, &id).await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "note",
        json!({"text": "内部：该小区物业不配合"}),
    )
    .await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "public_note",
        json!({"text": "已安排清运"}),
    )
    .await;
    act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "已清运完毕"}),
    )
    .await;

    let page: Value = app
        .get("/api/v1/citizen/tickets?open_id=oCitizen", Some(&gateway))
        .await
        .json_ok()
        .await;
    let mine = &page["items"][0];
    assert_eq!(mine["id"], json!(id));
    assert_eq!(mine["status"], "replied");
    assert_eq!(mine["reply"], "已清运完毕");
    assert_eq!(mine["progress"].as_array().map(Vec::len), Some(1));
    assert_eq!(mine["progress"][0]["text"], "已安排清运");
    let text = mine.to_string();
    assert!(
        !text.contains("内部")
            && !text.contains("lead_department")
            && !text.contains("13700001234"),
        "{text}"
    );
    let res = app
        .get(
            &format!("/api/v1/citizen/tickets/{id}?open_id=someone-else"),
            Some(&gateway),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let one: Value = app
        .get(
            &format!("/api/v1/citizen/tickets/{id}?open_id=oCitizen"),
            Some(&gateway),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(one["number"], submitted["number"]);
    let res = app
        .get(
            "/api/v1/citizen/tickets?open_id=oCitizen",
            Some(&o.operator),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let submit_only = client_key(&app, &o.admin, json!(["tickets:submit"])).await;
    let res = app
        .get(
            "/api/v1/citizen/tickets?open_id=oCitizen",
            Some(&submit_only),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

mod auto_dispatch {
    use super::*;
    use crate::helpers::{spawn_app_with, Backend};

    async fn routed_at_intake(app: TestApp) {
        let o = org(&app).await;
        create(&app, &o.admin, "/api/v1/routing-rules", json!({"name": "停水", "priority": 1, "keywords": ["停水"], "lead_department_id": o.water})).await;
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        assert_eq!(
            t["status"], "dispatched",
            "an exact rule match dispatches at once"
        );
        assert_eq!(t["lead_department_id"], json!(o.water));
        let mut other = hotline_call(&o.category);
        other["title"] = json!("路灯坏了");
        other["description"] = json!("晚上很黑");
        let t = new_ticket(&app, &o.operator, other).await;
        assert_eq!(t["status"], "registered", "no rule: the dispatch queue");
        let events: Value = app
            .get(
                &format!("/api/v1/tickets/{}/events", t["id"].as_str().expect("id")),
                Some(&o.operator),
            )
            .await
            .json_ok()
            .await;
        assert_eq!(events["items"].as_array().map(Vec::len), Some(1));
    }

    #[actix_web::test]
    async fn sqlite() {
        let app = spawn_app_with(Backend::Sqlite, |s| s.tickets.auto_dispatch = true)
            .await
            .expect("app");
        routed_at_intake(app).await;
    }

    #[actix_web::test]
    #[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
    async fn postgres() {
        if let Some(app) =
            spawn_app_with(Backend::Postgres, |s| s.tickets.auto_dispatch = true).await
        {
            routed_at_intake(app).await;
        }
    }
}

on_both_backends!(
    attachments_typed_by_content_and_served_to_viewers,
    department_with_open_tickets_stays_active
);

async fn department_with_open_tickets_stays_active(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.edu}),
    )
    .await;
    let res = app
        .patch(
            &format!("/api/v1/departments/{}", o.edu),
            Some(&o.admin),
            json!({"active": false}),
        )
        .await;
    let body = assert_error(res, StatusCode::CONFLICT, "department_in_use").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("open tickets")),
        "{body}"
    );
    let t = act(
        &app,
        &o.edu_staff,
        &t,
        "return",
        json!({"reason": "不归我们管"}),
    )
    .await;
    act(
        &app,
        &o.dispatcher,
        &t,
        "approve_return",
        json!({"department_id": o.water}),
    )
    .await;
    let res = app
        .patch(
            &format!("/api/v1/departments/{}", o.edu),
            Some(&o.admin),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // an inactive department takes no new tickets
    let t2 = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let res = act_raw(
        &app,
        &o.dispatcher,
        &t2,
        "dispatch",
        json!({"department_id": o.edu}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake png body";
const PDF: &[u8] = b"%PDF-1.4\n% fake pdf body\n";

pub async fn upload(
    app: &TestApp,
    token: &str,
    id: &str,
    files: &[(&str, &[u8])],
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().text("note", "ignored text part");
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()),
        );
    }
    app.client
        .post(app.url(&format!("/api/v1/tickets/{id}/attachments")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload")
}

async fn attachments_typed_by_content_and_served_to_viewers(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let id = t["id"].as_str().expect("id").to_string();
    // the name says jpg, the content says png: the content wins
    let res = upload(
        &app,
        &o.operator,
        &id,
        &[("现场.png", PNG), ("说明.pdf", PDF)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let added: Value = res.json().await.expect("attachments");
    assert_eq!(added[0]["content_type"], "image/png");
    assert_eq!(added[0]["filename"], "现场.png");
    assert_eq!(added[1]["content_type"], "application/pdf");
    let res = upload(
        &app,
        &o.operator,
        &id,
        &[("photo.jpg", b"MZ\x90\0 a program")],
    )
    .await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_attachment_type",
    )
    .await;
    let big = {
        let mut v = PDF.to_vec();
        v.resize(10 * 1024 * 1024 + 1, b' ');
        v
    };
    let res = upload(&app, &o.operator, &id, &[("big.pdf", &big)]).await;
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let seven: Vec<(&str, &[u8])> = (0..7).map(|_| ("p.png", PNG)).collect();
    assert_eq!(
        upload(&app, &o.operator, &id, &seven).await.status(),
        StatusCode::CREATED
    );
    let res = upload(&app, &o.operator, &id, &[("one-too-many.pdf", PDF)]).await;
    assert_error(res, StatusCode::CONFLICT, "too_many_attachments").await;

    // stored once per content; each file is an event
    let blobs = walk(&app.data_dir().join("attachments"));
    assert_eq!(blobs, 2, "a PNG and a PDF, however often sent");
    let events: Value = app
        .get(
            &format!("/api/v1/tickets/{id}/events?limit=100"),
            Some(&o.operator),
        )
        .await
        .json_ok()
        .await;
    let attached = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "attach")
        .count();
    assert_eq!(attached, 9);

    // served to those who see the ticket
    let t = act(
        &app,
        &o.dispatcher,
        &get_ticket(&app, &o.dispatcher, &id).await,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let list: Value = app
        .get(
            &format!("/api/v1/tickets/{id}/attachments"),
            Some(&o.water_staff),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(9));
    let aid = added[1]["id"].as_str().expect("id");
    let res = app
        .get(
            &format!("/api/v1/tickets/{id}/attachments/{aid}"),
            Some(&o.water_staff),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), PDF);
    let res = app
        .get(
            &format!("/api/v1/tickets/{id}/attachments/{aid}"),
            Some(&o.edu_staff),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = upload(&app, &o.edu_staff, &id, &[("x.pdf", PDF)]).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;

    // the gateway adds photos to its own submissions only
    let gateway = client_key(&app, &o.admin, json!(["tickets:submit"])).await;
    let res = submit(
        &app,
        &gateway,
        Some("att-1"),
        &submission("oPhoto", "路面塌陷"),
    )
    .await;
    let own: Value = res.json().await.expect("ticket");
    let res = upload(
        &app,
        &gateway,
        own["id"].as_str().expect("id"),
        &[("塌陷.png", PNG)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = upload(&app, &gateway, &id, &[("x.png", PNG)]).await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let _ = t;
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Answers name what they refer to: the lead department, the co-handlers, the assignee and each
/// event's actor; dispatch and forward take a department code as well as an id.
async fn answers_carry_names_and_take_department_codes(app: TestApp) {
    let o = org(&app).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": "WATER", "co_department_ids": ["EDU"]}),
    )
    .await;
    assert_eq!(t["lead_department_id"], o.water.as_str());
    assert_eq!(t["lead_department_name"], "Dept WATER");
    assert_eq!(t["co_departments"][0]["name"], "Dept EDU");
    let res = act_raw(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": "NOPE"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "illegal_transition").await;
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "assign",
        json!({"assignee_id": o.water_staff_id}),
    )
    .await;
    assert_eq!(t["assignee_name"], "water-staff");
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "forward",
        json!({"department_id": "WATER-EAST"}),
    )
    .await;
    assert_eq!(t["lead_department_name"], "Dept WATER-EAST");
    let id = t["id"].as_str().expect("id");
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&o.supervisor))
        .await
        .json_ok()
        .await;
    let names: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["actor"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "operator1",
            "dispatcher1",
            "water-staff",
            "water-staff",
            "water-staff"
        ]
    );
    // an unknown code is a clear 422 where the state allows the action
    let u = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let res = act_raw(
        &app,
        &o.dispatcher,
        &u,
        "dispatch",
        json!({"department_id": "NOPE"}),
    )
    .await;
    let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("NOPE")),
        "{body}"
    );
}
