//! Deadlines on tickets with the controllable clock (no sleeping): computed when a step starts,
//! yellow then red as time passes, paused during a return under review, moved by an approved
//! extension, kept when the policy changes, and never forgiven.

use chrono::{NaiveDate, NaiveDateTime};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, JsonOk, TestApp};
use crate::on_both_backends;
use crate::tickets::{act, act_raw, get_ticket, hotline_call, new_ticket, org};

on_both_backends!(
    deadlines_follow_the_ticket,
    warnings_are_recorded_exactly_once,
    queues_by_time_and_the_overdue_summary,
    admins_edit_the_policy_for_steps_that_start_later,
);

pub async fn sweep(app: &TestApp) -> usize {
    let now = app.state.clock.now();
    hotline::db::run(&app.state.pool, move |c| {
        hotline::tickets::deadlines::sweep(c, now, 500)
    })
    .await
    .expect("sweep")
}

async fn warnings(app: &TestApp, token: &str, id: &str) -> Vec<(String, String)> {
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(token))
        .await
        .json_ok()
        .await;
    events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "warning")
        .map(|e| {
            (
                e["payload"]["step"].as_str().unwrap_or("").to_string(),
                e["payload"]["level"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Yellow, then red, each once, as the clock advances; several sweeps at once record each
/// warning once.
async fn warnings_are_recorded_exactly_once(app: TestApp) {
    let o = org(&app).await;
    app.state.clock.set(bj(10, 9, 0));
    let mut ids = Vec::new();
    for _ in 0..12 {
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        ids.push(t["id"].as_str().expect("id").to_string());
    }
    assert_eq!(sweep(&app).await, 0, "nothing is due yet");
    app.state.clock.set(bj(10, 10, 40)); // past yellow (10:36)
    let passes = (0..4).map(|_| sweep(&app));
    let recorded: usize = futures_util::future::join_all(passes)
        .await
        .into_iter()
        .sum();
    assert_eq!(
        recorded, 12,
        "one yellow per ticket, whatever the number of sweepers"
    );
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(
        warnings(&app, &o.operator, &ids[0]).await,
        vec![("dispatch".to_string(), "yellow".to_string())]
    );
    app.state.clock.set(bj(10, 11, 1)); // past due
    let passes = (0..4).map(|_| sweep(&app));
    let recorded: usize = futures_util::future::join_all(passes)
        .await
        .into_iter()
        .sum();
    assert_eq!(recorded, 12);
    app.state.clock.set(bj(12, 9, 0));
    assert_eq!(
        sweep(&app).await,
        0,
        "red is recorded once, however late it gets"
    );
    assert_eq!(
        warnings(&app, &o.operator, &ids[0]).await,
        vec![
            ("dispatch".to_string(), "yellow".to_string()),
            ("dispatch".to_string(), "red".to_string())
        ]
    );
    // the version counts the warning events: the log still replays to the row
    let t = get_ticket(&app, &o.operator, &ids[0]).await;
    assert_eq!(t["version"], 3);
}

/// A Beijing local time as the service's UTC.
pub fn bj(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 11, day)
        .and_then(|d| d.and_hms_opt(hour, minute, 0))
        .expect("time")
        - chrono::Duration::hours(8)
}

fn z(t: NaiveDateTime) -> String {
    format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// The latest deadline of a step on a ticket view.
fn deadline(ticket: &Value, step: &str) -> Value {
    ticket["deadlines"]
        .as_array()
        .and_then(|d| d.iter().rev().find(|x| x["step"] == step).cloned())
        .unwrap_or_else(|| panic!("no {step} deadline in {}", ticket["deadlines"]))
}

async fn deadlines_follow_the_ticket(app: TestApp) {
    let o = org(&app).await;
    let clock = app.state.clock.clone();
    // Monday 2025-11-10 09:00 in Beijing
    clock.set(bj(10, 9, 0));
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let id = t["id"].as_str().expect("id").to_string();
    let d = deadline(&t, "dispatch");
    assert_eq!(d["time_limit"], "2wh");
    assert_eq!(
        d["due_at"]
            .as_str()
            .map(|s| s.starts_with(&z(bj(10, 11, 0))[..19])),
        Some(true),
        "{d}"
    );
    assert_eq!(d["state"], "on_track");
    assert_eq!(d["remaining_minutes"], 120);
    // yellow a fifth of the span before (10:36), red when due
    clock.set(bj(10, 10, 40));
    assert_eq!(
        deadline(&get_ticket(&app, &o.operator, &id).await, "dispatch")["state"],
        "yellow"
    );
    clock.set(bj(10, 11, 10));
    let late = deadline(&get_ticket(&app, &o.operator, &id).await, "dispatch");
    assert_eq!(late["state"], "red");
    assert_eq!(late["remaining_minutes"], -10);
    // dispatch late: the overdue fact stays; the department's steps start
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let done = deadline(&t, "dispatch");
    assert_eq!(done["overdue_minutes"], 10);
    // ... and in the event that completed the step
    let events = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&o.operator))
        .await
        .json_ok()
        .await;
    let dispatch_event = events["items"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["action"] == "dispatch").cloned())
        .expect("dispatch event");
    assert_eq!(
        dispatch_event["payload"]["late"],
        json!([{"step": "dispatch", "minutes_late": 10}])
    );
    assert!(done["state"].is_null());
    let sign = deadline(&t, "sign");
    assert_eq!(sign["time_limit"], "1wd");
    assert!(
        sign["due_at"]
            .as_str()
            .is_some_and(|s| s.starts_with(&z(bj(11, 11, 10))[..19])),
        "{sign}"
    );
    let handle = deadline(&t, "handle");
    assert_eq!(handle["time_limit"], "10wd");
    assert!(
        handle["due_at"]
            .as_str()
            .is_some_and(|s| s.starts_with(&z(bj(24, 11, 10))[..19])),
        "{handle}"
    );
    // a return under review pauses the department's clock; rejecting it resumes with the time added
    clock.set(bj(10, 15, 0));
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "return",
        json!({"reason": "not ours"}),
    )
    .await;
    assert_eq!(deadline(&t, "sign")["paused"], true);
    clock.set(bj(11, 15, 0)); // one working day later
    let paused = deadline(&get_ticket(&app, &o.operator, &id).await, "sign");
    assert_eq!(
        paused["state"], "on_track",
        "a paused step does not turn red: {paused}"
    );
    let t = act(
        &app,
        &o.dispatcher,
        &t,
        "reject_return",
        json!({"reason": "it is yours"}),
    )
    .await;
    let sign = deadline(&t, "sign");
    assert_eq!(sign["paused"], false);
    assert!(
        sign["due_at"]
            .as_str()
            .is_some_and(|s| s.starts_with(&z(bj(12, 11, 10))[..19])),
        "{sign}"
    );
    // a policy change after dispatch leaves the ticket's deadline as it was given
    let res = app
        .patch(
            &format!("/api/v1/categories/{}", o.category),
            Some(&o.admin),
            json!({"time_limits": {"handle_working_days": 2}}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let handle_before =
        deadline(&get_ticket(&app, &o.operator, &id).await, "handle")["due_at"].clone();
    assert!(
        handle_before
            .as_str()
            .is_some_and(|s| s.starts_with(&z(bj(25, 11, 10))[..19])),
        "{handle_before}"
    );
    // an extension is asked before the deadline and moves it by exactly its working days
    let t = act(&app, &o.water_staff, &t, "sign", json!({})).await;
    let res = act_raw(
        &app,
        &o.water_staff,
        &t,
        "request_extension",
        json!({"days": 11, "reason": "parts"}),
    )
    .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "request_extension",
        json!({"days": 3, "reason": "waiting for parts"}),
    )
    .await;
    let t = act(&app, &o.supervisor, &t, "approve_extension", json!({})).await;
    let handle = deadline(&t, "handle");
    assert!(
        handle["due_at"]
            .as_str()
            .is_some_and(|s| s.starts_with(&z(bj(28, 11, 10))[..19])),
        "{handle}"
    );
    // the reply completes handling on time and starts the callback
    clock.set(bj(20, 10, 0));
    let t = act(
        &app,
        &o.water_staff,
        &t,
        "reply",
        json!({"reply": "repaired"}),
    )
    .await;
    assert_eq!(deadline(&t, "handle")["overdue_minutes"], 0);
    let callback = deadline(&t, "callback");
    assert_eq!(callback["time_limit"], "1wd");
    assert_eq!(callback["state"], "on_track");
    // the events still say what happened; the deadlines stay on the ticket after closing
    let t = act(&app, &o.supervisor, &t, "close", json!({"reason": "test"})).await;
    let all = t["deadlines"].as_array().expect("deadlines");
    assert!(all.iter().all(|d| !d["completed_at"].is_null()), "{all:?}");
    assert_eq!(all.iter().filter(|d| d["overdue_minutes"] == 10).count(), 1);
    let _: Value = app
        .get(&format!("/api/v1/tickets/{id}/events"), Some(&o.operator))
        .await
        .json_ok()
        .await;
    // a return approved days later: the time under review is not the department's lateness
    clock.set(bj(24, 9, 0));
    let r = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let r = act(
        &app,
        &o.dispatcher,
        &r,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let r = act(
        &app,
        &o.water_staff,
        &r,
        "return",
        json!({"reason": "not ours"}),
    )
    .await;
    clock.set(bj(27, 9, 0));
    let r = act(
        &app,
        &o.dispatcher,
        &r,
        "approve_return",
        json!({"department_id": o.edu}),
    )
    .await;
    let first_sign = r["deadlines"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["step"] == "sign").cloned())
        .expect("first sign");
    assert_eq!(first_sign["overdue_minutes"], 0, "{first_sign}");
}

async fn ids_of(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page = app
        .get(&format!("/api/v1/tickets?{query}"), Some(token))
        .await
        .json_ok()
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect()
}

/// `?warning=`, `?step=`, `?due_before=`, soonest first with keyset pages, and overdue counts
/// per department within what the caller may see.
async fn queues_by_time_and_the_overdue_summary(app: TestApp) {
    let o = org(&app).await;
    let clock = app.state.clock.clone();
    clock.set(bj(10, 9, 0));
    let waiting = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let waiting_id = waiting["id"].as_str().expect("id").to_string();
    let mut dispatched = Vec::new();
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
        dispatched.push(t["id"].as_str().expect("id").to_string());
    }
    clock.set(bj(10, 10, 40));
    assert_eq!(
        ids_of(&app, &o.operator, "warning=yellow").await,
        vec![waiting_id.clone()]
    );
    assert!(ids_of(&app, &o.operator, "warning=red").await.is_empty());
    clock.set(bj(10, 11, 10));
    assert_eq!(
        ids_of(&app, &o.operator, "warning=red&step=dispatch").await,
        vec![waiting_id.clone()]
    );
    // next day: the department has not signed
    clock.set(bj(11, 11, 15));
    let mut red_sign = ids_of(&app, &o.operator, "warning=red&step=sign").await;
    red_sign.sort();
    let mut expected = dispatched.clone();
    expected.sort();
    assert_eq!(red_sign, expected);
    // soonest first, page by page
    let before = "due_before=2025-11-11T04:00:00Z"; // Tuesday 12:00 in Beijing
    let all = ids_of(&app, &o.supervisor, &format!("{before}&limit=50")).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], waiting_id, "the oldest deadline first");
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{before}&limit=1&cursor={c}"),
            None => format!("{before}&limit=1"),
        };
        let page = app
            .get(&format!("/api/v1/tickets?{query}"), Some(&o.supervisor))
            .await
            .json_ok()
            .await;
        walked.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|t| t["id"].as_str().map(str::to_string)),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(walked, all);
    // the overdue summary: supervisors see every department, a department its own
    let summary = app
        .get("/api/v1/tickets/overdue-summary", Some(&o.supervisor))
        .await
        .json_ok()
        .await;
    let rows = summary.as_array().expect("rows");
    let water = rows
        .iter()
        .find(|r| r["department_id"] == o.water.as_str())
        .expect("water row");
    assert_eq!(water["overdue"], 2);
    assert_eq!(water["overdue_by_step"]["sign"], 2);
    assert_eq!(water["department_name"], "Dept WATER");
    let hotline = rows
        .iter()
        .find(|r| r["department_id"].is_null())
        .expect("not yet dispatched");
    assert_eq!(hotline["overdue"], 1);
    let own = app
        .get("/api/v1/tickets/overdue-summary", Some(&o.edu_staff))
        .await
        .json_ok()
        .await;
    assert_eq!(own, json!([]), "another department sees none of them");
    let res = app
        .get("/api/v1/tickets?warning=purple", Some(&o.operator))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_query").await;
}

/// An admin edits the policy: steps that start from then on get the new limit, deadlines
/// already given keep theirs; every version is kept with its author.
async fn admins_edit_the_policy_for_steps_that_start_later(app: TestApp) {
    let o = org(&app).await;
    app.state.clock.set(bj(10, 9, 0));
    let before = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let before = act(
        &app,
        &o.dispatcher,
        &before,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    assert_eq!(deadline(&before, "sign")["time_limit"], "1wd");
    let current = app
        .get("/api/v1/deadline-policy", Some(&o.operator))
        .await
        .json_ok()
        .await;
    assert_eq!(current["source"], "config");
    let mut policy = current["policy"].clone();
    policy["normal"]["sign"] = json!("2wd");
    let res = app
        .put_json("/api/v1/deadline-policy", &o.operator, policy.clone())
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let mut bad = policy.clone();
    bad["normal"]["sign"] = json!("2 weeks");
    let res = app.put_json("/api/v1/deadline-policy", &o.admin, bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut no_default = policy.clone();
    no_default["urgent"]["handle"] = json!({"help": "12h"});
    let res = app
        .put_json("/api/v1/deadline-policy", &o.admin, no_default)
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let edited = app
        .put_json("/api/v1/deadline-policy", &o.admin, policy)
        .await
        .json_ok()
        .await;
    assert_eq!(edited["source"], "edited");
    let after = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let after = act(
        &app,
        &o.dispatcher,
        &after,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    assert_eq!(deadline(&after, "sign")["time_limit"], "2wd");
    let id = before["id"].as_str().expect("id");
    let again = get_ticket(&app, &o.operator, id).await;
    assert_eq!(
        deadline(&again, "sign")["time_limit"],
        "1wd",
        "a given deadline stays"
    );
    assert_eq!(
        deadline(&again, "sign")["due_at"],
        deadline(&before, "sign")["due_at"]
    );
    let history = app
        .get("/api/v1/deadline-policy/history", Some(&o.supervisor))
        .await
        .json_ok()
        .await;
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(history[0]["policy"]["normal"]["sign"], "2wd");
}
