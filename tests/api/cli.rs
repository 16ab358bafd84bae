//! The binary itself: first start, two instances on one PostgreSQL, configuration checks, and
//! the account commands.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::PgDatabase;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

/// A `hotline` process, killed when dropped.
struct Running {
    child: Child,
    base: String,
    lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("HOTLINE_ENV")
        .env_remove("HOTLINE_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn");
    cmd
}

/// Starts `serve` and reads its banner up to the log-in hint.
fn serve(dir: &Path, database_url: Option<&str>) -> Running {
    serve_with(dir, database_url, &[])
}

fn serve_with(dir: &Path, database_url: Option<&str>, envs: &[(&str, &str)]) -> Running {
    let mut cmd = command(dir);
    cmd.envs(envs.iter().copied());
    cmd.args(["serve", "--data-dir", "data", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("start hotline serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut running = Running {
        child,
        base: String::new(),
        lines: Vec::new(),
    };
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        if let Some(rest) = line.strip_prefix("hotline is listening on ") {
            running.base = rest.split_whitespace().next().unwrap_or("").to_string();
        }
        let done = line.contains("Log in");
        running.lines.push(line);
        if done {
            break;
        }
    }
    // keep draining, so the server never writes into a closed pipe
    std::thread::spawn(move || lines.for_each(drop));
    assert!(
        running.base.starts_with("http://127.0.0.1:"),
        "banner: {:?}",
        running.lines
    );
    running
}

fn banner_password(running: &Running) -> Option<String> {
    running.lines.iter().find_map(|l| {
        l.split_once("with the password: ")
            .map(|(_, p)| p.trim().to_string())
    })
}

async fn login_and_me(base: &str, password: &str) -> Value {
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("pair");
    let token = pair["access_token"].as_str().expect("token");
    let res = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("me")
}

#[actix_web::test]
async fn first_start_on_sqlite_prints_working_credentials() {
    let dir = tempfile::tempdir().expect("tmp");
    let running = serve(dir.path(), None);
    let password = banner_password(&running).expect("password in banner");
    assert!(
        dir.path().join("data/hotline.db").exists(),
        "database created"
    );
    let key = dir.path().join("data/jwt.key");
    assert!(key.exists(), "JWT key generated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&dir.path().join("data")), 0o700, "data dir private");
        assert_eq!(
            mode(&dir.path().join("data/hotline.db")),
            0o600,
            "database private"
        );
    }
    let me = login_and_me(&running.base, &password).await;
    assert_eq!(me["username"], "admin");
    assert_eq!(me["roles"], json!(["admin"]));
    drop(running);

    // a second start keeps the account and prints no new password
    let again = serve(dir.path(), None);
    assert_eq!(banner_password(&again), None);
    login_and_me(&again.base, &password).await;
}

#[actix_web::test]
#[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
async fn two_instances_start_together_on_one_postgres() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    let dir_a = tempfile::tempdir().expect("tmp");
    let dir_b = tempfile::tempdir().expect("tmp");
    let url = db.url.clone();
    let (a, b) = std::thread::scope(|s| {
        let ta = s.spawn(|| serve(dir_a.path(), Some(&url)));
        let tb = s.spawn(|| serve(dir_b.path(), Some(&url)));
        (
            ta.join().expect("instance a"),
            tb.join().expect("instance b"),
        )
    });
    let client = reqwest::Client::new();
    for running in [&a, &b] {
        let res = client
            .get(format!("{}/readyz", running.base))
            .send()
            .await
            .expect("readyz");
        assert_eq!(res.status(), StatusCode::OK);
    }
    let passwords: Vec<String> = [&a, &b].iter().filter_map(|r| banner_password(r)).collect();
    assert_eq!(
        passwords.len(),
        1,
        "exactly one instance creates admin: {:?} {:?}",
        a.lines,
        b.lines
    );

    let mut conn = PgConnection::establish(&db.url).expect("connect");
    let applied: i64 = diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
        .get_result::<Count>(&mut conn)
        .expect("count")
        .n;
    let shipped = std::fs::read_dir("migrations/postgres")
        .expect("migrations")
        .count() as i64;
    assert_eq!(applied, shipped, "each migration applied once");
    let admins: i64 = diesel::sql_query("SELECT count(*) AS n FROM users")
        .get_result::<Count>(&mut conn)
        .expect("n")
        .n;
    assert_eq!(admins, 1);
    // both serve the same data
    login_and_me(&a.base, &passwords[0]).await;
    login_and_me(&b.base, &passwords[0]).await;
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[test]
fn check_config_names_the_bad_key_and_redacts_secrets() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = command(dir.path())
        .args(["check-config"])
        .env("HOTLINE__SERVER__WORKERS", "many")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.workers"), "{err}");

    let out = command(dir.path())
        .args(["check-config"])
        .env("DATABASE_URL", "mysql://h/db")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));

    let out = command(dir.path())
        .args(["check-config", "--bind", "nonsense"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.bind"));

    let secret = "s3cret-value-that-is-long-enough-1234567890";
    let out = command(dir.path())
        .args(["check-config"])
        .env("HOTLINE__AUTH__JWT_SECRET", secret)
        .env("DATABASE_URL", "postgres://u:pgpass@localhost/db")
        .env("HOTLINE__NOTIFICATIONS__EMAIL__HOST", "smtp.example.gov.cn")
        .env("HOTLINE__NOTIFICATIONS__EMAIL__USERNAME", "hotline")
        .env("HOTLINE__NOTIFICATIONS__EMAIL__PASSWORD", "smtp-pass-98765")
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(secret) && !text.contains("pgpass"), "{text}");
    assert!(
        !text.contains("smtp-pass-98765"),
        "the SMTP password: {text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
    assert!(text.contains("smtp.example.gov.cn"), "{text}");

    // a secret in a config file is refused
    std::fs::create_dir_all(dir.path().join("config")).expect("dir");
    std::fs::write(
        dir.path().join("config/default.toml"),
        format!("[auth]\njwt_secret = \"{secret}\"\n"),
    )
    .expect("write");
    let out = command(dir.path())
        .args(["check-config"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("auth.jwt_secret"));
    std::fs::write(
        dir.path().join("config/default.toml"),
        "[notifications.email]\npassword = \"in-a-file\"\n",
    )
    .expect("write");
    let out = command(dir.path())
        .args(["check-config"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notifications.email.password"));
    // a template that does not parse stops the start, naming it
    std::fs::write(dir.path().join("config/default.toml"), "").expect("write");
    std::fs::create_dir_all(dir.path().join("tpl/email")).expect("dir");
    std::fs::write(
        dir.path().join("tpl/email/deadline_red.body.txt"),
        "{% if %}",
    )
    .expect("write");
    let out = command(dir.path())
        .args(["check-config"])
        .env("HOTLINE__NOTIFICATIONS__TEMPLATES_DIR", "tpl")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deadline_red"));
}

#[test]
fn account_commands() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |args: &[&str]| {
        let out = command(dir.path())
            .arg("--data-dir")
            .arg("data")
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = run(&[
        "user",
        "add",
        "olga",
        "--role",
        "operator",
        "--role",
        "dispatcher",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("password: "), "{out}");
    let (code, _, err) = run(&["user", "add", "olga", "--role", "operator"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("taken"), "{err}");
    let (code, _, err) = run(&["user", "add", "x1", "--role", "boss"]);
    assert_eq!(code, Some(2), "clap rejects an unknown role: {err}");
    let (_, out, _) = run(&["user", "list"]);
    assert!(
        out.contains("olga") && out.contains("dispatcher,operator"),
        "{out}"
    );
    let (code, out, _) = run(&["user", "disable", "olga"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("disabled"));
    let (code, out, _) = run(&["user", "set-password", "olga"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("password: "));
    let (code, out, err) = run(&[
        "api-client",
        "add",
        "wechat-gateway",
        "--scope",
        "tickets:submit",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("hlk_"), "{out}");
    let (_, out, _) = run(&["api-client", "list"]);
    assert!(
        out.contains("wechat-gateway") && out.contains("tickets:submit"),
        "{out}"
    );
    let (code, _, _) = run(&["api-client", "disable", "wechat-gateway"]);
    assert_eq!(code, Some(0));
    for help in [
        &["--help"][..],
        &["serve", "--help"],
        &["user", "add", "--help"],
        &["api-client", "add", "--help"],
    ] {
        let (code, out, _) = run(help);
        assert_eq!(code, Some(0));
        assert!(out.contains("Usage"), "{out}");
    }
}

/// Four instances on one PostgreSQL take 2,000 tickets at once: every number is unique.
#[actix_web::test]
#[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
async fn ticket_numbers_stay_unique_across_four_instances() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let secret = "a-shared-jwt-secret-for-the-four-instances-0123456789";
    let envs = [
        ("HOTLINE__AUTH__JWT_SECRET", secret),
        ("HOTLINE_ADMIN_PASSWORD", "Zq8#Vx!m2Lp9-cli-start"),
    ];
    let url = db.url.clone();
    let instances: Vec<Running> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| s.spawn(|| serve_with(d.path(), Some(&url), &envs)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("instance"))
            .collect()
    });
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/auth/login", instances[0].base))
        .json(&json!({"username": "admin", "password": "Zq8#Vx!m2Lp9-cli-start"}))
        .send()
        .await
        .expect("login");
    let pair: Value = res.json().await.expect("pair");
    let token = pair["access_token"].as_str().expect("token").to_string();

    let mut numbers = Vec::new();
    for wave in 0..20 {
        let requests = (0..100).map(|i| {
            let base = &instances[i % 4].base;
            client
                .post(format!("{base}/api/v1/tickets"))
                .bearer_auth(&token)
                .json(&json!({"kind": "help", "title": format!("并发 {wave}-{i}"), "description": "load"}))
                .send()
        });
        for res in futures_util::future::join_all(requests).await {
            let res = res.expect("request");
            assert_eq!(res.status(), StatusCode::CREATED);
            let t: Value = res.json().await.expect("ticket");
            numbers.push(t["number"].as_str().expect("number").to_string());
        }
    }
    assert_eq!(numbers.len(), 2_000);
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 2_000, "every number unique");
    let mut conn = PgConnection::establish(&db.url).expect("connect");
    let n: i64 = diesel::sql_query("SELECT count(*) AS n FROM tickets")
        .get_result::<Count>(&mut conn)
        .expect("n")
        .n;
    assert_eq!(n, 2_000);
}

/// JSON logs carry the request id on every line of a request; SIGTERM stops the server cleanly.
#[actix_web::test]
async fn json_logs_carry_the_request_id_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tmp");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut child = command(dir.path())
        .args(["serve", "--data-dir", "data", "--bind", "127.0.0.1:0"])
        .env("HOTLINE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("hotline is listening on ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        })
        .expect("banner");
    std::thread::spawn(move || lines.for_each(drop));
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .header("X-Request-Id", "test-req-42")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit: {exit:?}");

    let text = std::fs::read_to_string(&log_path).expect("log");
    let finished = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"] == "request finished")
        .unwrap_or_else(|| panic!("no request line in {text}"));
    assert_eq!(finished["span"]["request_id"], "test-req-42", "{finished}");
    assert_eq!(finished["fields"]["status"], 401);
}

/// Resident memory of a process, from /proc (Linux).
fn rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Each argon2 check takes 19 MiB: a burst of logins must not leave the process holding them
/// (issue 8.7: under 150 MB after 500 logins, idle).
#[actix_web::test]
async fn memory_returns_after_a_burst_of_logins() {
    if rss_mib(std::process::id()).is_none() {
        return; // no /proc here
    }
    let dir = tempfile::tempdir().expect("tmp");
    let running = serve_with(
        dir.path(),
        None,
        &[("HOTLINE_ADMIN_PASSWORD", "Zq8#Vx!m2Lp9-cli-start")],
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let idle = rss_mib(running.child.id()).expect("rss");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/auth/login", running.base);
    let body = json!({"username": "admin", "password": "Zq8#Vx!m2Lp9-cli-start"});
    // batches within the per-account limit of attempts in flight (5)
    for _ in 0..128 {
        let batch = (0..4).map(|_| client.post(&url).json(&body).send());
        for res in futures_util::future::join_all(batch).await {
            assert_eq!(res.expect("login").status(), StatusCode::OK);
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let rss = rss_mib(running.child.id()).expect("rss");
    eprintln!("resident: {idle} MiB idle at start, {rss} MiB after 512 logins");
    // argon2's blocks live on the hashing threads (one per core): what the logins leave behind
    // is bounded by them, not by the number of logins
    assert!(
        rss.saturating_sub(idle) < 80,
        "{idle} MiB at start, {rss} MiB after 512 logins"
    );
    // the absolute goal is for the release binary (a debug build maps far more at start)
    if !cfg!(debug_assertions) {
        assert!(rss < 150, "{rss} MiB resident after 512 logins");
    }
}

/// Two `serve` processes on one PostgreSQL, 5,000 tickets whose dispatch deadline has passed:
/// the two sweepers together record exactly 5,000 red (and 5,000 yellow) warnings.
#[actix_web::test]
#[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
async fn two_sweepers_record_each_warning_once() {
    let Some(db) = PgDatabase::create() else {
        return;
    };
    const TICKETS: i64 = 5_000;
    let mut conn = PgConnection::establish(&db.url).expect("connect");
    // 5,000 registered tickets taken in a day ago, their dispatch deadline two hours after
    conn.batch_execute(&format!(
        "INSERT INTO tickets (id, number, channel, kind, urgency, status, attributes, title, \
           description, anonymous, confidential, version, created_at, updated_at) \
         SELECT 'sweep-' || g, 'HLSWEEP' || g, 'hotline', 'help', 'normal', 'registered', '{{}}', \
           'water outage ' || g, 'no water', false, false, 1, \
           now() AT TIME ZONE 'utc' - interval '1 day', now() AT TIME ZONE 'utc' - interval '1 day' \
         FROM generate_series(1, {TICKETS}) AS g; \
         INSERT INTO ticket_deadlines (id, ticket_id, step, time_limit, started_at, due_at, yellow_at) \
         SELECT 'd-' || g, 'sweep-' || g, 'dispatch', '2h', \
           now() AT TIME ZONE 'utc' - interval '1 day', \
           now() AT TIME ZONE 'utc' - interval '22 hours', \
           now() AT TIME ZONE 'utc' - interval '22 hours 24 minutes' \
         FROM generate_series(1, {TICKETS}) AS g;"
    ))
    .expect("fill");
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let envs = [
        (
            "HOTLINE__AUTH__JWT_SECRET",
            "a-shared-jwt-secret-for-the-two-sweepers-0123456789",
        ),
        ("HOTLINE__JOBS__SWEEP_INTERVAL_SECONDS", "1"),
        ("HOTLINE__JOBS__SWEEP_BATCH", "250"),
    ];
    let url = db.url.clone();
    let instances: Vec<Running> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| s.spawn(|| serve_with(d.path(), Some(&url), &envs)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("instance"))
            .collect()
    });
    let count = |conn: &mut PgConnection, level: &str| -> i64 {
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM ticket_events \
             WHERE action = 'warning' AND payload LIKE '%\"level\":\"{level}\"%'"
        ))
        .get_result::<Count>(conn)
        .expect("count")
        .n
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count(&mut conn, "red") < TICKETS && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // a few more passes of both sweepers: nothing is recorded twice
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(count(&mut conn, "red"), TICKETS);
    assert_eq!(count(&mut conn, "yellow"), TICKETS);
    let per_ticket: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT ticket_id FROM ticket_events WHERE action = 'warning' \
         GROUP BY ticket_id HAVING count(*) <> 2) AS odd",
    )
    .get_result::<Count>(&mut conn)
    .expect("count")
    .n;
    assert_eq!(
        per_ticket, 0,
        "every ticket has exactly its yellow and its red"
    );
    drop(instances);
}

/// A message committed with its ticket survives a `kill -9` before delivery: the restarted
/// process delivers it, once.
#[actix_web::test]
async fn a_message_committed_before_kill_9_is_delivered_after_restart() {
    let receiver = crate::notifications::Receiver::start();
    let dir = tempfile::tempdir().expect("tmp");
    let password = "Zq8#Vx!m2Lp9-outbox-kill";
    let slow = [
        ("HOTLINE_ADMIN_PASSWORD", password),
        (
            "HOTLINE__NOTIFICATIONS__WEBHOOKS__ALLOW_PRIVATE_TARGETS",
            "true",
        ),
        // the first pass runs at start (nothing to send yet), the next one in an hour
        ("HOTLINE__NOTIFICATIONS__POLL_INTERVAL_MS", "3600000"),
    ];
    let mut first = serve_with(dir.path(), None, &slow);
    let client = reqwest::Client::new();
    let pair: Value = client
        .post(format!("{}/api/v1/auth/login", first.base))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("pair");
    let token = pair["access_token"].as_str().expect("token").to_string();
    let res = client
        .post(format!("{}/api/v1/webhooks", first.base))
        .bearer_auth(&token)
        .json(
            &json!({"name": "gateway", "url": receiver.url, "event_types": ["ticket.registered"]}),
        )
        .send()
        .await
        .expect("subscribe");
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = client
        .post(format!("{}/api/v1/tickets", first.base))
        .bearer_auth(&token)
        .json(&json!({"kind": "help", "title": "路灯不亮", "description": "幸福路的路灯坏了"}))
        .send()
        .await
        .expect("ticket");
    assert_eq!(res.status(), StatusCode::CREATED);
    let ticket: Value = res.json().await.expect("ticket");
    first.child.kill().expect("kill -9"); // SIGKILL: no shutdown, no last pass
    first.child.wait().expect("wait");
    assert!(
        receiver.received().is_empty(),
        "nothing was delivered before the kill"
    );

    let fast = [
        ("HOTLINE_ADMIN_PASSWORD", password),
        (
            "HOTLINE__NOTIFICATIONS__WEBHOOKS__ALLOW_PRIVATE_TARGETS",
            "true",
        ),
        ("HOTLINE__NOTIFICATIONS__POLL_INTERVAL_MS", "100"),
    ];
    let _second = serve_with(dir.path(), None, &fast);
    for _ in 0..100 {
        if !receiver.received().is_empty() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "delivered once after the restart");
    assert_eq!(got[0].json()["ticket"]["number"], ticket["number"]);
}
