//! The closing half of the loop: the callback queue, claims, attempts and the verdict, the
//! citizen's own rating, reopening; with the controllable clock, on both backends.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, json_with, JsonOk, TestApp};
use crate::on_both_backends;
use crate::tickets::{
    act, act_raw, client_key, get_ticket, hotline_call, new_ticket, org, submit, Org,
};

on_both_backends!(
    satisfied_callback_closes_the_ticket,
    dissatisfied_callback_sends_it_back_until_satisfied,
    three_failed_attempts_close_as_unreachable,
    merged_citizens_get_one_callback_each,
    claims_are_exclusive_and_expire,
    supervisor_closes_with_a_recorded_reason,
    praise_and_anonymous_close_without_a_callback,
    citizen_rates_their_own_ticket_once,
    reopen_within_the_window,
    supervision_flag_urge_respond_unflag,
    an_unanswered_flag_goes_red,
);

/// The pending callbacks of a ticket.
pub async fn pending(app: &TestApp, token: &str, ticket: &Value) -> Vec<Value> {
    let id = ticket["id"].as_str().expect("id");
    let all = app
        .get(&format!("/api/v1/tickets/{id}/callbacks"), Some(token))
        .await
        .json_ok()
        .await;
    all["callbacks"]
        .as_array()
        .expect("callbacks")
        .iter()
        .filter(|c| c["state"] == "pending")
        .cloned()
        .collect()
}

pub async fn claim(app: &TestApp, token: &str, callback: &str) -> reqwest::Response {
    app.post(
        &format!("/api/v1/callbacks/{callback}/claim"),
        Some(token),
        json!({}),
    )
    .await
}

pub async fn attempt(app: &TestApp, token: &str, callback: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/callbacks/{callback}/attempts"),
        Some(token),
        body,
    )
    .await
}

/// Claims the ticket's (only) pending callback and records a reached citizen's verdict;
/// answers the ticket afterwards.
pub async fn call_back(
    app: &TestApp,
    token: &str,
    ticket: &Value,
    satisfaction: &str,
    resolved: bool,
) -> Value {
    let cbs = pending(app, token, ticket).await;
    assert_eq!(cbs.len(), 1, "one pending callback: {cbs:?}");
    let id = cbs[0]["id"].as_str().expect("id");
    assert_eq!(claim(app, token, id).await.status(), StatusCode::OK);
    let res = attempt(
        app,
        token,
        id,
        json!({"channel": "phone", "outcome": "reached", "satisfaction": satisfaction,
               "resolved": resolved, "comment": "市民表示"}),
    )
    .await;
    json_with(res, StatusCode::OK).await;
    get_ticket(app, token, ticket["id"].as_str().expect("id")).await
}

async fn replied(app: &TestApp, o: &Org) -> Value {
    let t = new_ticket(app, &o.operator, hotline_call(&o.category)).await;
    let t = act(
        app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let t = act(app, &o.water_staff, &t, "sign", json!({})).await;
    act(app, &o.water_staff, &t, "reply", json!({"reply": "已修复"})).await
}

/// The ticket's events, oldest first.
async fn events(app: &TestApp, token: &str, ticket: &Value) -> Vec<Value> {
    let id = ticket["id"].as_str().expect("id");
    let page = app
        .get(
            &format!("/api/v1/tickets/{id}/events?limit=500"),
            Some(token),
        )
        .await
        .json_ok()
        .await;
    page["items"].as_array().expect("items").clone()
}

/// The first event of an action.
fn event(events: &[Value], action: &str) -> Value {
    events
        .iter()
        .find(|e| e["action"] == action)
        .cloned()
        .unwrap_or_else(|| panic!("no {action} event in {events:?}"))
}

fn deadline<'a>(t: &'a Value, step: &str) -> Vec<&'a Value> {
    t["deadlines"]
        .as_array()
        .expect("deadlines")
        .iter()
        .filter(|d| d["step"] == step)
        .collect()
}

async fn satisfied_callback_closes_the_ticket(app: TestApp) {
    let o = org(&app).await;
    let t = replied(&app, &o).await;
    assert_eq!(
        deadline(&t, "callback").len(),
        1,
        "the callback deadline runs"
    );
    // the queue shows it, by due time, with its deadline state
    let q = app
        .get("/api/v1/callbacks", Some(&o.operator))
        .await
        .json_ok()
        .await;
    let items = q["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["number"], t["number"]);
    assert_eq!(items[0]["due_state"], "on_track");
    assert!(items[0]["claimed_by"].is_null());
    let none = app
        .get("/api/v1/callbacks?due=red", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert!(none["items"].as_array().expect("items").is_empty());
    let res = app.get("/api/v1/callbacks", Some(&o.water_staff)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    // an attempt needs the claim
    let id = items[0]["id"].as_str().expect("id");
    let res = attempt(
        &app,
        &o.operator,
        id,
        json!({"channel": "phone", "outcome": "no_answer"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "claim_required").await;
    // a reached citizen's verdict is required, an unreached one's refused
    claim(&app, &o.operator, id).await.json_ok().await;
    let res = attempt(
        &app,
        &o.operator,
        id,
        json!({"channel": "phone", "outcome": "reached"}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = attempt(
        &app,
        &o.operator,
        id,
        json!({"channel": "phone", "outcome": "busy", "satisfaction": "satisfied", "resolved": true}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = attempt(
        &app,
        &o.operator,
        id,
        json!({"channel": "fax", "outcome": "busy"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let t = call_back(&app, &o.operator, &t, "basically_satisfied", true).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "basically_satisfied");
    assert_eq!(t["satisfaction"], "basically_satisfied");
    assert_eq!(t["resolved"], true);
    assert!(deadline(&t, "callback")[0]["completed_at"].is_string());
    let q = app
        .get("/api/v1/callbacks", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert!(q["items"].as_array().expect("items").is_empty(), "done");
    // the events carry the typed result
    let log = events(&app, &o.supervisor, &t).await;
    let close = event(&log, "close");
    assert_eq!(close["payload"]["callback_result"], "basically_satisfied");
    assert_eq!(close["payload"]["resolved"], true);
    assert_eq!(close["actor"]["kind"], "system");
    let attempt_event = event(&log, "callback_attempt");
    assert_eq!(attempt_event["payload"]["outcome"], "reached");
    assert_eq!(attempt_event["payload"]["channel"], "phone");
}

async fn dissatisfied_callback_sends_it_back_until_satisfied(app: TestApp) {
    let o = org(&app).await;
    let t = replied(&app, &o).await;
    let t = call_back(&app, &o.operator, &t, "dissatisfied", true).await;
    assert_eq!(t["status"], "in_progress", "back to the same department");
    assert_eq!(t["lead_department_id"], o.water.as_str());
    assert_eq!(t["redo_count"], 1);
    assert_eq!(t["callback_result"], "dissatisfied");
    let handles = deadline(&t, "handle");
    assert_eq!(handles.len(), 2, "a new handling deadline");
    assert!(handles[1]["completed_at"].is_null());
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "再次处理完毕"}),
    )
    .await;
    assert!(t["callback_result"].is_null() || t["callback_result"] == "dissatisfied");
    let t = call_back(&app, &o.operator, &t, "satisfied", true).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "satisfied");
    // unresolved also goes back, even when satisfied with the attitude
    let t2 = replied(&app, &o).await;
    let t2 = call_back(&app, &o.operator, &t2, "satisfied", false).await;
    assert_eq!(t2["status"], "in_progress");
}

async fn three_failed_attempts_close_as_unreachable(app: TestApp) {
    let o = org(&app).await;
    let t = replied(&app, &o).await;
    let cb = pending(&app, &o.operator, &t).await;
    let id = cb[0]["id"].as_str().expect("id").to_string();
    claim(&app, &o.operator, &id).await.json_ok().await;
    for (n, outcome) in ["no_answer", "busy"].iter().enumerate() {
        let r = attempt(
            &app,
            &o.operator,
            &id,
            json!({"channel": "phone", "outcome": outcome}),
        )
        .await
        .json_ok()
        .await;
        assert_eq!(r["callbacks"][0]["failed_attempts"], n + 1);
        assert_eq!(r["callbacks"][0]["state"], "pending");
    }
    attempt(
        &app,
        &o.operator,
        &id,
        json!({"channel": "phone", "outcome": "no_answer"}),
    )
    .await
    .json_ok()
    .await;
    let t = get_ticket(&app, &o.operator, t["id"].as_str().expect("id")).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "unreachable");
    let all = app
        .get(
            &format!(
                "/api/v1/tickets/{}/callbacks",
                t["id"].as_str().expect("id")
            ),
            Some(&o.supervisor),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(all["callbacks"][0]["state"], "unreachable");
    assert_eq!(all["attempts"].as_array().expect("attempts").len(), 3);
    let res = attempt(
        &app,
        &o.operator,
        &id,
        json!({"channel": "phone", "outcome": "no_answer"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "callback_finished").await;
}

async fn merged_citizens_get_one_callback_each(app: TestApp) {
    let o = org(&app).await;
    let main = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    // the same caller again, and a neighbour
    let same = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let mut other = hotline_call(&o.category);
    other["citizen"] = json!({"name": "李四", "phone": "13987654321"});
    let other = new_ticket(&app, &o.operator, other).await;
    act(
        &app,
        &o.operator,
        &same,
        "merge",
        json!({"into": main["id"]}),
    )
    .await;
    act(
        &app,
        &o.operator,
        &other,
        "merge",
        json!({"into": main["id"]}),
    )
    .await;
    let main = get_ticket(&app, &o.operator, main["id"].as_str().expect("id")).await;
    let main = act(
        &app,
        &o.dispatcher,
        &main,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let main = act(&app, &o.water_staff, &main, "sign", json!({})).await;
    let main = act(
        &app,
        &o.water_staff,
        &main,
        "reply",
        json!({"reply": "已修复"}),
    )
    .await;
    let cbs = pending(&app, &o.operator, &main).await;
    assert_eq!(cbs.len(), 2, "two distinct citizens: {cbs:?}");
    let q = app
        .get("/api/v1/callbacks", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert_eq!(q["items"].as_array().expect("items").len(), 2);
    // the first verdict alone does not conclude the ticket
    for (i, cb) in cbs.iter().enumerate() {
        let id = cb["id"].as_str().expect("id");
        claim(&app, &o.operator, id).await.json_ok().await;
        attempt(
            &app,
            &o.operator,
            id,
            json!({"channel": "phone", "outcome": "reached", "satisfaction": "satisfied", "resolved": true}),
        )
        .await
        .json_ok()
        .await;
        let t = get_ticket(&app, &o.operator, main["id"].as_str().expect("id")).await;
        assert_eq!(t["status"], if i == 0 { "replied" } else { "closed" });
    }
    // a replied ticket merged into another leaves the callback queue (its citizen is called
    // back on the surviving ticket)
    let a = replied(&app, &o).await;
    let b = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    assert_eq!(pending(&app, &o.operator, &a).await.len(), 1);
    act(&app, &o.operator, &a, "merge", json!({"into": b["id"]})).await;
    assert!(pending(&app, &o.operator, &a).await.is_empty());
    let q = app
        .get("/api/v1/callbacks", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert!(q["items"].as_array().expect("items").is_empty(), "{q}");
}

async fn claims_are_exclusive_and_expire(app: TestApp) {
    let o = org(&app).await;
    let (_, second) = app
        .user_with_token(&o.admin, "operator2", &["operator"])
        .await;
    let t = replied(&app, &o).await;
    let id = pending(&app, &o.operator, &t).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    // two operators at once: one wins, the other gets 409
    let (a, b) =
        futures_util::future::join(claim(&app, &o.operator, &id), claim(&app, &second, &id)).await;
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let (winner, loser) = if a.status() == StatusCode::OK {
        (&o.operator, &second)
    } else {
        (&second, &o.operator)
    };
    let res = claim(&app, loser, &id).await;
    assert_error(res, StatusCode::CONFLICT, "callback_claimed").await;
    let mine = app
        .get("/api/v1/callbacks?mine=true", Some(winner))
        .await
        .json_ok()
        .await;
    assert_eq!(mine["items"].as_array().expect("items").len(), 1);
    // the claim expires (30 minutes): the other operator may take it
    app.state.clock.advance(Duration::minutes(31));
    let (op1, op2, sup) = (
        app.token_for("operator1").await,
        app.token_for("operator2").await,
        app.token_for("supervisor1").await,
    );
    let (winner, loser) = if winner == &o.operator {
        (&op1, &op2)
    } else {
        (&op2, &op1)
    };
    claim(&app, loser, &id).await.json_ok().await;
    let res = attempt(
        &app,
        winner,
        &id,
        json!({"channel": "phone", "outcome": "busy"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "claim_required").await;
    // a supervisor reassigns it
    let me = app.get("/api/v1/me", Some(winner)).await.json_ok().await;
    let res = app
        .post(
            &format!("/api/v1/callbacks/{id}/reassign"),
            Some(loser),
            json!({"operator_id": me["id"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let r = app
        .post(
            &format!("/api/v1/callbacks/{id}/reassign"),
            Some(&sup),
            json!({"operator_id": me["id"]}),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(r["claimed_by"], me["id"]);
    let res = app
        .post(
            &format!("/api/v1/callbacks/{id}/reassign"),
            Some(&sup),
            json!({"operator_id": o.water_staff_id}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    attempt(
        &app,
        winner,
        &id,
        json!({"channel": "phone", "outcome": "busy"}),
    )
    .await
    .json_ok()
    .await;
}

async fn supervisor_closes_with_a_recorded_reason(app: TestApp) {
    let o = org(&app).await;
    let t = replied(&app, &o).await;
    // operators no longer close replied tickets by hand
    let res = act_raw(&app, &o.operator, &t, "close", json!({"reason": "x"})).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = act_raw(&app, &o.supervisor, &t, "close", json!({})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let t = act(
        &app,
        &o.supervisor,
        &t,
        "close",
        json!({"reason": "不合理诉求"}),
    )
    .await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "closed_by_supervisor");
    let close = event(&events(&app, &o.supervisor, &t).await, "close");
    assert_eq!(close["payload"]["reason"], "不合理诉求");
    assert_eq!(close["actor"]["role"], "supervisor");
    assert!(close["actor"]["id"].is_string());
    assert!(
        pending(&app, &o.operator, &t).await.is_empty(),
        "its callback ended"
    );
}

async fn praise_and_anonymous_close_without_a_callback(app: TestApp) {
    let o = org(&app).await;
    let mut body = hotline_call(&o.category);
    body["kind"] = json!("praise");
    let t = new_ticket(&app, &o.operator, body).await;
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
        "reply",
        json!({"reply": "感谢表扬"}),
    )
    .await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "no_callback");
    assert!(deadline(&t, "callback").is_empty());
}

async fn citizen_rates_their_own_ticket_once(app: TestApp) {
    let o = org(&app).await;
    let key = client_key(
        &app,
        &o.admin,
        json!(["tickets:submit", "tickets:read", "tickets:rate"]),
    )
    .await;
    let body = json!({
        "kind": "help", "title": "路灯不亮", "description": "幸福路路灯坏了",
        "citizen": {"open_id": "oCitizenA1234567890", "phone": "13812345678"}
    });
    let res = submit(&app, &key, Some("rate-1"), &body).await;
    let t: Value = json_with(res, StatusCode::CREATED).await;
    let id = t["id"].as_str().expect("id").to_string();
    let rate = |open_id: &str, body: Value| {
        let url = format!("/api/v1/citizen/tickets/{id}/rating?open_id={open_id}");
        let key = key.clone();
        let app = &app;
        async move {
            app.client
                .post(app.url(&url))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("rate")
        }
    };
    let verdict = json!({"satisfaction": "satisfied", "resolved": true, "comment": "很快"});
    let res = rate("oCitizenA1234567890", verdict.clone()).await;
    assert_error(res, StatusCode::CONFLICT, "not_replied").await;
    let t = get_ticket(&app, &o.operator, &id).await;
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "已修复"}),
    )
    .await;
    let res = rate("oSomebodyElse123456", verdict.clone()).await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "only the citizen's own ticket"
    );
    let r: Value = json_with(
        rate("oCitizenA1234567890", verdict.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r["attempts"][0]["channel"], "miniprogram");
    assert!(r["attempts"][0]["api_client_id"].is_string());
    let res = rate("oCitizenA1234567890", verdict).await;
    assert_error(res, StatusCode::CONFLICT, "already_rated").await;
    let t = get_ticket(&app, &o.operator, &id).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["callback_result"], "satisfied");
    // a key without the scope
    let plain = client_key(&app, &o.admin, json!(["tickets:read"])).await;
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/citizen/tickets/{id}/rating?open_id=oCitizenA1234567890"
        )))
        .bearer_auth(plain)
        .json(&json!({"satisfaction": "satisfied", "resolved": true}))
        .send()
        .await
        .expect("rate");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn reopen_within_the_window(app: TestApp) {
    let o = org(&app).await;
    let t = replied(&app, &o).await;
    let t = call_back(&app, &o.operator, &t, "satisfied", true).await;
    let res = act_raw(&app, &o.operator, &t, "reopen", json!({})).await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let r = act(
        &app,
        &o.operator,
        &t,
        "reopen",
        json!({"reason": "又停水了"}),
    )
    .await;
    assert_eq!(r["status"], "in_progress");
    assert_eq!(r["reopen_count"], 1);
    assert_eq!(r["lead_department_id"], o.water.as_str());
    assert!(r["callback_result"].is_null());
    assert_eq!(
        deadline(&r, "handle")
            .iter()
            .filter(|d| d["completed_at"].is_null())
            .count(),
        1,
        "a new handling deadline"
    );
    // past the window (30 days): a new ticket instead
    let t2 = replied(&app, &o).await;
    let t2 = call_back(&app, &o.operator, &t2, "satisfied", true).await;
    app.state.clock.advance(Duration::days(31));
    let operator = app.token_for("operator1").await;
    let res = act_raw(
        &app,
        &operator,
        &t2,
        "reopen",
        json!({"reason": "又停水了"}),
    )
    .await;
    assert_error(res, StatusCode::CONFLICT, "reopen_window_passed").await;
}

async fn flag_ticket(app: &TestApp, o: &Org, t: &Value, hours: i64) -> Value {
    let due = chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(
        app.state.clock.now() + Duration::hours(hours),
        chrono::Utc,
    );
    let res = app
        .post(
            "/api/v1/supervision",
            Some(&o.supervisor),
            json!({"ticket_id": t["id"], "level": "prominent", "instruction": "三日内查明原因并答复",
                   "due_at": due}),
        )
        .await;
    json_with(res, StatusCode::CREATED).await
}

async fn supervision_flag_urge_respond_unflag(app: TestApp) {
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
    // only supervisors flag
    let res = app
        .post(
            "/api/v1/supervision",
            Some(&o.operator),
            json!({"ticket_id": t["id"], "level": "normal", "instruction": "x",
                   "due_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let flag = flag_ticket(&app, &o, &t, 72).await;
    assert_eq!(flag["level"], "prominent");
    let fid = flag["id"].as_str().expect("id").to_string();
    let res = app
        .post(
            "/api/v1/supervision",
            Some(&o.supervisor),
            json!({"ticket_id": t["id"], "level": "normal", "instruction": "again",
                   "due_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "already_flagged").await;
    for n in 1..=2 {
        let f = app
            .post(
                &format!("/api/v1/supervision/{fid}/urge"),
                Some(&o.supervisor),
                json!({"text": format!("第{n}次催办")}),
            )
            .await
            .json_ok()
            .await;
        assert_eq!(f["urge_count"], n);
    }
    // the department sees its flag and answers it; others may not answer
    let listed = app
        .get("/api/v1/supervision", Some(&o.water_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(listed.as_array().expect("flags").len(), 1);
    let none = app
        .get("/api/v1/supervision", Some(&o.edu_staff))
        .await
        .json_ok()
        .await;
    assert!(none.as_array().expect("flags").is_empty());
    let res = app
        .post(
            &format!("/api/v1/supervision/{fid}/respond"),
            Some(&o.operator),
            json!({"text": "x"}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let f = app
        .post(
            &format!("/api/v1/supervision/{fid}/respond"),
            Some(&o.water_staff),
            json!({"text": "已查明：主管道破裂，48小时内修复"}),
        )
        .await
        .json_ok()
        .await;
    assert!(f["responded_at"].is_string());
    assert_eq!(f["overdue"], false);
    let f = app
        .post(
            &format!("/api/v1/supervision/{fid}/clear"),
            Some(&o.supervisor),
            json!({"text": "答复属实，撤销督办"}),
        )
        .await
        .json_ok()
        .await;
    assert!(f["cleared_at"].is_string());
    let res = app
        .post(
            &format!("/api/v1/supervision/{fid}/urge"),
            Some(&o.supervisor),
            json!({"text": "x"}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "flag_cleared").await;
    let log = events(&app, &o.supervisor, &t).await;
    let actions: Vec<&str> = log.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "create",
            "dispatch",
            "flag",
            "urge",
            "urge",
            "flag_response",
            "unflag"
        ]
    );
    let t = get_ticket(&app, &o.supervisor, t["id"].as_str().expect("id")).await;
    let sup = deadline(&t, "supervision");
    assert_eq!(sup.len(), 1);
    assert_eq!(sup[0]["overdue_minutes"], 0, "answered in time");
}

async fn an_unanswered_flag_goes_red(app: TestApp) {
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
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    let f = flag_ticket(&app, &o, &t, 2).await;
    let now = app.state.clock.now();
    app.state
        .clock
        .set(now + Duration::hours(2) + Duration::minutes(1));
    crate::deadlines::sweep(&app).await;
    let sup = app.token_for("supervisor1").await;
    let warnings: Vec<(String, String)> = events(&app, &sup, &t)
        .await
        .iter()
        .filter(|e| e["action"] == "warning" && e["payload"]["step"] == "supervision")
        .map(|e| {
            (
                e["payload"]["step"].as_str().unwrap_or("").to_string(),
                e["payload"]["level"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        warnings.contains(&("supervision".to_string(), "red".to_string())),
        "{warnings:?}"
    );
    let overdue = app
        .get("/api/v1/supervision?overdue=true", Some(&sup))
        .await
        .json_ok()
        .await;
    assert_eq!(overdue[0]["id"], f["id"]);
    assert_eq!(overdue[0]["overdue"], true);
}
