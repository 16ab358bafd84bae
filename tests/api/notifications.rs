//! Notifications through a real SMTP server (aiosmtpd, started by the test) and a real webhook
//! receiver (an HTTP server in the test): what arrives, signatures, retries while the far side
//! is down, `dead` and the admin's re-send, nothing from a rolled-back action, and delivery after
//! a `kill -9` (a real process, in cli.rs). The outbox worker is off in test apps: each test runs
//! the delivery passes itself, with the manual clock.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::deadlines::{bj, sweep};
use crate::helpers::{assert_error, json_with, spawn_app_with, Backend, JsonOk, TestApp};
use crate::tickets::{act, hotline_call, new_ticket, org, Org};
use hotline::config::{Settings, SmtpSecurity};

macro_rules! on_both_backends_with {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[actix_web::test]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[actix_web::test]
                #[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends_with!(
    email_reaches_departments_and_supervisors,
    email_waits_while_smtp_is_down_then_arrives_once,
    webhooks_are_signed_retried_dead_and_resent,
    a_rolled_back_action_sends_nothing,
    the_daily_digest_is_written_once_per_day,
    outbox_admin_api_and_metrics,
    concurrent_workers_deliver_each_message_once,
);

// ---- the far side ---------------------------------------------------------------------------

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// aiosmtpd on 127.0.0.1:`port`, killed when dropped.
struct SmtpSink {
    child: Child,
    messages: mpsc::Receiver<Value>,
}

impl SmtpSink {
    fn start(port: u16) -> SmtpSink {
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the e-mail tests need python3 (with aiosmtpd: pip install aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "READY" {
                    let _ = ready_tx.send(());
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(20)).expect(
            "the SMTP sink did not start: the e-mail tests need python3 with aiosmtpd \
             (pip install aiosmtpd; .ci/run installs it)",
        );
        SmtpSink { child, messages }
    }

    /// Every message received within `wait`.
    fn received(&self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(m) = self.messages.recv_timeout(wait) {
            out.push(m);
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: String,
    pub delivery: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }

    /// Checks the signature as a receiver would (docs/notifications.md).
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some(hex_sig) = self.signature.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_sig) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{}.{}", self.timestamp, self.body).as_bytes());
        mac.verify_slice(&expected).is_ok()
    }
}

/// An HTTP server recording each POST and answering `status` (changeable).
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<AtomicU16>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    pub fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let (g, s) = (got.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (g, s) = (g.clone(), s.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    g.lock().expect("lock").push(Received {
                        event: header("x-hotline-event"),
                        delivery: header("x-hotline-delivery"),
                        timestamp: header("x-hotline-timestamp"),
                        signature: header("x-hotline-signature"),
                        body: String::from_utf8_lossy(&body).to_string(),
                    });
                    let code = actix_web::http::StatusCode::from_u16(s.load(Ordering::SeqCst))
                        .unwrap_or(actix_web::http::StatusCode::OK);
                    HttpResponse::build(code).finish()
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("bind receiver");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            got,
            status,
            handle,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

// ---- the app side ---------------------------------------------------------------------------

fn notifications_on(settings: &mut Settings, smtp_port: u16) {
    let n = &mut settings.notifications;
    n.email.host = "127.0.0.1".into();
    n.email.port = smtp_port;
    n.email.security = SmtpSecurity::Plain;
    n.email.timeout_seconds = 5;
    n.webhooks.allow_private_targets = true;
    n.webhooks.timeout_seconds = 5;
    n.max_attempts = 3;
    n.link_base_url = "https://hotline.example.gov.cn".into();
}

async fn app_with_smtp(backend: Backend, smtp_port: u16) -> Option<TestApp> {
    spawn_app_with(backend, |s| notifications_on(s, smtp_port)).await
}

/// One delivery pass, as the worker runs it.
async fn deliver(app: &TestApp) -> hotline::notify::outbox::Recorded {
    hotline::notify::worker::deliver_due(&app.state)
        .await
        .expect("delivery pass")
}

async fn set_contact_emails(app: &TestApp, o: &Org, department: &str, emails: Value) {
    let res = app
        .patch(
            &format!("/api/v1/departments/{department}"),
            Some(&o.admin),
            json!({ "contact_emails": emails }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn supervisor_with_email(app: &TestApp, o: &Org, email: &str) {
    let res = app
        .post(
            "/api/v1/users",
            Some(&o.admin),
            json!({"username": "chief-supervisor", "display_name": "督办科",
                   "password": crate::helpers::password_of("chief-supervisor"),
                   "roles": ["supervisor"], "email": email}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn outbox(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let page = app
        .get(&format!("/api/v1/outbox{query}"), Some(admin))
        .await
        .json_ok()
        .await;
    page["items"].as_array().expect("items").clone()
}

// ---- the tests ------------------------------------------------------------------------------

/// A dispatch mails the department; a red warning mails the department and the supervisors;
/// the message arrives over SMTP with the right recipient, subject, number and Chinese intact.
async fn email_reaches_departments_and_supervisors(backend: Backend) {
    let port = free_port();
    let sink = SmtpSink::start(port);
    let Some(app) = app_with_smtp(backend, port).await else {
        return;
    };
    let o = org(&app).await;
    set_contact_emails(&app, &o, &o.water, json!(["water@example.gov.cn"])).await;
    supervisor_with_email(&app, &o, "duban@example.gov.cn").await;
    app.state.clock.set(bj(11, 9, 0));
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    let number = t["number"].as_str().expect("number").to_string();
    act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;

    let r = deliver(&app).await;
    assert_eq!(r.delivered, 1, "one e-mail: the department's");
    let mails = sink.received(Duration::from_secs(2));
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m["rcpt_tos"], json!(["water@example.gov.cn"]));
    assert_eq!(
        m["subject"],
        format!("【12345热线】新工单 {number}：小区停水三天了")
    );
    assert!(
        m["raw_subject"]
            .as_str()
            .expect("raw")
            .starts_with("=?utf-8?"),
        "the Chinese subject is RFC 2047 encoded on the wire: {}",
        m["raw_subject"]
    );
    assert_eq!(m["charset"], "utf-8");
    let body = m["body"].as_str().expect("body");
    assert!(body.contains(&format!("工单编号：{number}")), "{body}");
    assert!(
        body.contains("签收时限：2025-11-12 09:00"),
        "local time: {body}"
    );
    assert!(body.contains("https://hotline.example.gov.cn/api/v1/tickets/"));
    assert!(
        !body.contains("张三丰") && !body.contains("13812345678"),
        "no personal data"
    );
    assert!(m["message_id"].as_str().expect("id").ends_with("@hotline>"));

    // the sign deadline (one working day) passes: yellow and red for the department, red for
    // the supervisor
    app.state.clock.set(bj(12, 9, 30));
    assert_eq!(sweep(&app).await, 2);
    let r = deliver(&app).await;
    assert_eq!(r.delivered, 3);
    let mut mails = sink.received(Duration::from_secs(2));
    mails.sort_by_key(|m| (m["rcpt_tos"].to_string(), m["subject"].to_string()));
    let seen: Vec<(String, String)> = mails
        .iter()
        .map(|m| {
            (
                m["rcpt_tos"][0].as_str().unwrap_or("").to_string(),
                m["subject"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "duban@example.gov.cn".to_string(),
                format!("【12345热线】已超期：工单 {number} 小区停水三天了")
            ),
            (
                "water@example.gov.cn".to_string(),
                format!("【12345热线】即将超期：工单 {number} 小区停水三天了")
            ),
            (
                "water@example.gov.cn".to_string(),
                format!("【12345热线】已超期：工单 {number} 小区停水三天了")
            ),
        ]
    );
    assert!(mails[0]["body"]
        .as_str()
        .expect("body")
        .contains("签收环节已超期"));
    assert_eq!(deliver(&app).await.delivered, 0, "each message once");
}

/// With the SMTP server down the messages stay in the outbox and retry; once it is up, every
/// one arrives exactly once.
async fn email_waits_while_smtp_is_down_then_arrives_once(backend: Backend) {
    let port = free_port(); // nobody listens yet
    let Some(app) = app_with_smtp(backend, port).await else {
        return;
    };
    let o = org(&app).await;
    set_contact_emails(&app, &o, &o.water, json!(["water@example.gov.cn"])).await;
    app.state.clock.set(bj(11, 9, 0));
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
        numbers.push(t["number"].as_str().expect("number").to_string());
        act(
            &app,
            &o.dispatcher,
            &t,
            "dispatch",
            json!({"department_id": o.water}),
        )
        .await;
    }
    let r = deliver(&app).await;
    assert_eq!((r.delivered, r.failed, r.dead), (0, 3, 0));
    let rows = outbox(&app, &o.admin, "?state=retrying").await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0]["last_error"]
            .as_str()
            .expect("error")
            .contains("SMTP"),
        "{}",
        rows[0]
    );
    // not yet due: a pass right away does nothing
    assert_eq!(deliver(&app).await, Default::default());

    let sink = SmtpSink::start(port);
    app.state.clock.advance(chrono::Duration::minutes(2)); // past the first backoff (≤ 30 s)
    let r = deliver(&app).await;
    assert_eq!((r.delivered, r.failed), (3, 0));
    assert_eq!(deliver(&app).await, Default::default());
    let mails = sink.received(Duration::from_secs(2));
    let mut got: Vec<String> = mails
        .iter()
        .map(|m| {
            numbers
                .iter()
                .find(|n| m["subject"].as_str().unwrap_or("").contains(n.as_str()))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    got.sort();
    assert_eq!(got, numbers, "each ticket's message once, none lost");
    assert_eq!(outbox(&app, &o.admin, "?state=delivered").await.len(), 3);

    // delivered messages are kept for the retention period, then deleted
    let prune = |now: NaiveDateTime| {
        let pool = app.state.pool.clone();
        async move {
            hotline::db::run(&pool, move |c| {
                hotline::notify::outbox::prune(c, now, chrono::Duration::days(30), 1000)
            })
            .await
            .expect("prune")
        }
    };
    let now = app.state.clock.now();
    assert_eq!(prune(now).await, 0);
    assert_eq!(prune(now + chrono::Duration::days(31)).await, 3);
    assert!(outbox(&app, &o.admin, "").await.is_empty());
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, events: Value, contact: &str) -> Value {
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(admin),
            json!({"name": "小程序网关", "url": url, "event_types": events, "contact": contact}),
        )
        .await;
    json_with(res, StatusCode::CREATED).await
}

/// A receiver verifies each signature and sees each event once; one answering 500 gets the
/// retries, then the row is dead, and the admin's re-send delivers it with the same id.
async fn webhooks_are_signed_retried_dead_and_resent(backend: Backend) {
    let receiver = Receiver::start();
    let Some(app) = app_with_smtp(backend, free_port()).await else {
        return;
    };
    let o = org(&app).await;
    let sub = subscribe(
        &app,
        &o.admin,
        &receiver.url,
        json!([
            "ticket.registered",
            "ticket.dispatched",
            "ticket.replied",
            "ticket.note",
            "ticket.closed"
        ]),
        "phone",
    )
    .await;
    let secret = sub["secret"]
        .as_str()
        .expect("secret shown once")
        .to_string();
    assert_eq!(secret.len(), 64);
    let listed = app
        .get("/api/v1/webhooks", Some(&o.admin))
        .await
        .json_ok()
        .await;
    assert!(listed[0].get("secret").is_none(), "never shown again");

    app.state.clock.set(bj(11, 9, 0));
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    assert_eq!(deliver(&app).await.delivered, 2);
    assert_eq!(deliver(&app).await.delivered, 0);
    let got = receiver.received();
    let events: Vec<&str> = got.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(events.len(), 2);
    assert!(events.contains(&"ticket.registered") && events.contains(&"ticket.dispatched"));
    for r in &got {
        assert!(r.signed_with(&secret), "signature verifies: {r:?}");
        assert!(!r.signed_with("another-secret-0123456789"));
        let body = r.json();
        assert_eq!(body["id"], r.delivery.as_str(), "the idempotency id");
        assert_eq!(body["type"], r.event.as_str());
        assert_eq!(body["ticket"]["number"], t["number"]);
        assert_eq!(
            body["citizen"],
            json!({"phone": "13812345678"}),
            "the granted field only"
        );
        assert!(!r.body.contains("张三丰"), "no name: {}", r.body);
        assert!(!r.body.contains("幸福小区3号楼2单元"), "no address");
    }
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
    assert_eq!(ids.len(), 2);

    // the receiver fails: three attempts (max_attempts = 3), then dead
    receiver.status.store(500, Ordering::SeqCst);
    act(
        &app,
        &o.water_staff,
        &t,
        "public_note",
        json!({"text": "维修队已出发"}),
    )
    .await;
    let r = deliver(&app).await;
    assert_eq!((r.delivered, r.failed, r.dead), (0, 1, 0));
    for attempt in 2..=3 {
        app.state.clock.advance(chrono::Duration::hours(1));
        let r = deliver(&app).await;
        assert_eq!(r.failed, 1, "attempt {attempt}");
        assert_eq!(r.dead, usize::from(attempt == 3));
    }
    app.state.clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        deliver(&app).await,
        Default::default(),
        "dead rows are not retried"
    );
    let dead = outbox(&app, &o.admin, "?state=dead").await;
    assert_eq!(dead.len(), 1);
    let id = dead[0]["id"].as_str().expect("id").to_string();
    let one = app
        .get(&format!("/api/v1/outbox/{id}"), Some(&o.admin))
        .await
        .json_ok()
        .await;
    assert_eq!(one["attempts"], 3);
    assert_eq!(one["event_type"], "ticket.note");
    assert_eq!(one["payload"]["data"]["text"], "维修队已出发");
    assert!(one["last_error"]
        .as_str()
        .expect("error")
        .contains("HTTP 500"));
    let notes: Vec<Received> = receiver
        .received()
        .into_iter()
        .filter(|r| r.event == "ticket.note")
        .collect();
    assert_eq!(notes.len(), 3, "three attempts reached the receiver");

    receiver.status.store(200, Ordering::SeqCst);
    let resent = app
        .post(
            &format!("/api/v1/outbox/{id}/resend"),
            Some(&o.admin),
            json!({}),
        )
        .await
        .json_ok()
        .await;
    assert_eq!(resent["state"], "queued");
    assert_eq!(resent["attempts"], 0);
    assert_eq!(deliver(&app).await.delivered, 1);
    let notes: Vec<Received> = receiver
        .received()
        .into_iter()
        .filter(|r| r.event == "ticket.note")
        .collect();
    assert_eq!(notes.len(), 4);
    assert!(
        notes.iter().all(|n| n.delivery == id),
        "the same idempotency id each time"
    );
    assert!(notes[3].signed_with(&secret));
    let one = app
        .get(&format!("/api/v1/outbox/{id}"), Some(&o.admin))
        .await
        .json_ok()
        .await;
    assert_eq!(one["state"], "delivered");

    // an inactive subscription's messages go dead instead of being sent
    app.patch(
        &format!("/api/v1/webhooks/{}", sub["id"].as_str().expect("id")),
        Some(&o.admin),
        json!({"active": false}),
    )
    .await
    .json_ok()
    .await;
    act(
        &app,
        &o.water_staff,
        &t,
        "public_note",
        json!({"text": "已修复"}),
    )
    .await;
    assert_eq!(
        deliver(&app).await,
        Default::default(),
        "no row for an inactive subscriber"
    );
}

/// A rolled-back transaction leaves no outbox row (and no event): the warning sweep is run
/// inside a transaction that then fails.
async fn a_rolled_back_action_sends_nothing(backend: Backend) {
    let receiver = Receiver::start();
    let Some(app) = app_with_smtp(backend, free_port()).await else {
        return;
    };
    let o = org(&app).await;
    set_contact_emails(&app, &o, &o.water, json!(["water@example.gov.cn"])).await;
    subscribe(
        &app,
        &o.admin,
        &receiver.url,
        json!(["deadline.red", "deadline.yellow"]),
        "none",
    )
    .await;
    app.state.clock.set(bj(11, 9, 0));
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    let before = outbox(&app, &o.admin, "?limit=500").await.len();
    app.state.clock.set(bj(12, 9, 30));
    let now = app.state.clock.now();
    let rolled_back = hotline::db::run(&app.state.pool, move |c| {
        hotline::db::write_tx(c, |c| {
            let n = hotline::tickets::deadlines::sweep(c, now, 500)?;
            assert_eq!(n, 2, "the sweep recorded its warnings");
            Err::<(), _>(hotline::error::AppError::Internal("abandoned".into()))
        })
    })
    .await;
    assert!(rolled_back.is_err());
    assert_eq!(outbox(&app, &o.admin, "?limit=500").await.len(), before);
    // committed, the same sweep writes its messages: 2 e-mails + 2 webhooks
    assert_eq!(sweep(&app).await, 2);
    assert_eq!(outbox(&app, &o.admin, "?limit=500").await.len(), before + 4);
}

/// The digest lists each department's overdue and soon-due tickets once per day, however often
/// (and by however many instances) it is asked for.
async fn the_daily_digest_is_written_once_per_day(backend: Backend) {
    let port = free_port();
    let sink = SmtpSink::start(port);
    let Some(app) = app_with_smtp(backend, port).await else {
        return;
    };
    let o = org(&app).await;
    set_contact_emails(
        &app,
        &o,
        &o.water,
        json!(["water@example.gov.cn", "duty@example.gov.cn"]),
    )
    .await;
    app.state.clock.set(bj(11, 9, 0));
    let late = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    act(
        &app,
        &o.dispatcher,
        &late,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    app.state.clock.set(bj(12, 8, 0));
    let soon = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    act(
        &app,
        &o.dispatcher,
        &soon,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    deliver(&app).await;
    sink.received(Duration::from_millis(500));

    let tz = chrono_tz::Asia::Shanghai;
    let at = chrono::NaiveTime::from_hms_opt(8, 0, 0).expect("time");
    let run = |app: &TestApp, now: NaiveDateTime| {
        let pool = app.state.pool.clone();
        async move {
            hotline::db::run(&pool, move |c| {
                hotline::notify::digest::run_if_due(c, now, tz, at)
            })
            .await
            .expect("digest")
        }
    };
    assert_eq!(run(&app, bj(13, 7, 59)).await, None, "not before 08:00");
    // 13 Nov 08:01: the first ticket's signing is overdue (due 12 Nov 09:00), the second's is
    // in its yellow band (due 13 Nov 08:00 + ... working time)
    app.state.clock.set(bj(13, 8, 1));
    let written = futures_util::future::join_all((0..4).map(|_| run(&app, bj(13, 8, 1)))).await;
    let total: usize = written.iter().flatten().sum();
    assert_eq!(
        total, 2,
        "one message per contact address, once: {written:?}"
    );
    assert_eq!(run(&app, bj(13, 17, 0)).await, None, "once per day");
    assert_eq!(deliver(&app).await.delivered, 2);
    let mails = sink.received(Duration::from_secs(2));
    assert_eq!(mails.len(), 2);
    let body = mails[0]["body"].as_str().expect("body");
    assert!(
        mails[0]["subject"]
            .as_str()
            .expect("subject")
            .starts_with("【12345热线】2025-11-13 工单时限日报：超期 1 件"),
        "{}",
        mails[0]["subject"]
    );
    assert!(
        body.contains(late["number"].as_str().expect("number")),
        "{body}"
    );
    // the next day's digest is a new one
    assert!(run(&app, bj(14, 8, 0)).await.is_some());
}

/// Admins list, filter and count the outbox; others may not; the metrics carry the counts;
/// webhook targets inside the network are refused by default (SSRF).
async fn outbox_admin_api_and_metrics(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |_| {}).await else {
        return;
    };
    let o = org(&app).await;
    set_contact_emails(&app, &o, &o.water, json!(["water@example.gov.cn"])).await;
    let t = new_ticket(&app, &o.operator, hotline_call(&o.category)).await;
    act(
        &app,
        &o.dispatcher,
        &t,
        "dispatch",
        json!({"department_id": o.water}),
    )
    .await;
    // no SMTP host configured: the e-mail waits, nothing is lost
    assert_eq!(deliver(&app).await, Default::default());
    let stats = app
        .get("/api/v1/outbox/stats", Some(&o.admin))
        .await
        .json_ok()
        .await;
    assert_eq!(stats["queued"], 1);
    let rows = outbox(
        &app,
        &o.admin,
        &format!("?channel=email&ticket_id={}", t["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["recipient"], "water@example.gov.cn");
    assert_eq!(rows[0]["template"], "ticket_assigned");
    assert!(
        rows[0].get("payload").is_none(),
        "the list leaves bodies out"
    );
    let metrics = app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("hotline_outbox_messages{state=\"queued\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("hotline_outbox_oldest_pending_seconds"));

    let res = app.get("/api/v1/outbox", Some(&o.supervisor)).await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .post(
            "/api/v1/outbox/resend",
            Some(&o.admin),
            json!({"state": "delivered"}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app.get("/api/v1/outbox?state=lost", Some(&o.admin)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        let res = app
            .post(
                "/api/v1/webhooks",
                Some(&o.admin),
                json!({"name": "x", "url": url, "event_types": ["ticket.closed"]}),
            )
            .await;
        let body = assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(body["message"]
            .as_str()
            .expect("message")
            .starts_with("url:"));
    }
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&o.admin),
            json!({"name": "x", "url": "https://sms.example.com/hook", "event_types": []}),
        )
        .await;
    assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&o.admin),
            json!({"name": "x", "url": "https://sms.example.com/hook", "event_types": ["ticket.lost"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&o.water_admin),
            json!({"name": "x", "url": "https://sms.example.com/hook", "event_types": ["ticket.closed"]}),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
}

/// Four workers passing at once over the same outbox (as four instances would) deliver each of
/// 40 messages exactly once.
async fn concurrent_workers_deliver_each_message_once(backend: Backend) {
    let receiver = Receiver::start();
    let Some(app) = spawn_app_with(backend, |s| {
        notifications_on(s, free_port());
        s.notifications.batch = 7;
        s.database.pool_size = 8;
    })
    .await
    else {
        return;
    };
    let admin = app.admin_token().await;
    subscribe(
        &app,
        &admin,
        &receiver.url,
        json!(["ticket.registered"]),
        "none",
    )
    .await;
    let (_, operator) = app
        .user_with_token(&admin, "operator1", &["operator"])
        .await;
    for i in 0..40 {
        let res = app
            .post(
                "/api/v1/tickets",
                Some(&operator),
                json!({"kind": "help", "title": format!("路灯 {i}"), "description": "不亮"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let mut delivered = 0;
    for _ in 0..10 {
        let passes = futures_util::future::join_all((0..4).map(|_| deliver(&app))).await;
        delivered += passes.iter().map(|r| r.delivered).sum::<usize>();
        if delivered >= 40 {
            break;
        }
    }
    assert_eq!(delivered, 40);
    let got = receiver.received();
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.delivery.as_str()).collect();
    assert_eq!((got.len(), ids.len()), (40, 40), "each message once");
}
