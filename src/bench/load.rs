//! `hotline load`: the HTTP load harness (docs/benchmarks.md). Over the given database (default:
//! a scratch SQLite file) it loads the demo county and fills the tickets table to the size asked
//! (realistic Chinese text, every state, a year of dates, their deadlines and search index), then
//! starts the service as a child process (`hotline serve` on 127.0.0.1, so that its memory is
//! measured apart) and drives real HTTP requests at each concurrency for a fixed time: intake,
//! the dispatch and sign transitions, GET one ticket as a hotline and as a department user, two
//! queues, search, and a first and a deep page of the whole table. In the same run it measures
//! what the database alone does — a transaction of two inserts and the bare `SELECT` of the same
//! pages, by `pgbench` on PostgreSQL and by threads on their own connections on SQLite — so that
//! every rate is also a ratio.
//!
//! The load generator shares the machine's cores with the server (as the figures did);
//! background jobs (sweeper, outbox) are off during the run so that they do not blur it.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::config::{Backend, Settings};
use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Tickets in the table before measuring.
    pub fill: usize,
    /// Seconds each measurement runs.
    pub seconds: u64,
    /// Concurrency levels (clients).
    pub concurrency: Vec<usize>,
    /// The database was filled by an earlier run: measure without filling.
    pub again: bool,
}

/// The server's resident memory after a path and its peak so far, MiB.
type Rss = (f64, f64);

/// One measured path: requests done, errors, latencies.
struct Measured {
    done: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// The slowest call: how long it took and when it started, from the start of the run.
    slowest: (Duration, Duration),
}

impl Measured {
    fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn pct(&self, p: f64) -> f64 {
        super::percentile(&self.latencies, p).as_secs_f64() * 1000.0
    }

    /// The percentile `p` as `wrk` reports it, corrected for coordinated omission: each of the
    /// `c` clients sent a call every `interval` on average, so a call that took `n` intervals
    /// stands for the calls a steady stream of callers would have sent meanwhile, waiting
    /// `latency - interval`, `latency - 2 × interval`, ... (wrk's `stats_correct`). A closed
    /// loop alone records one slow call for a stall that every caller arriving during it feels.
    fn pct_as_wrk(&self, c: usize, p: f64) -> f64 {
        // wrk counts every answer, an error too, in its interval
        let per_client = (self.done + self.errors) as f64 / c.max(1) as f64;
        if per_client < 1.0 {
            return self.pct(p);
        }
        let interval = self.elapsed.div_f64(per_client);
        let mut all = self.latencies.clone();
        if !interval.is_zero() {
            for &latency in &self.latencies {
                if latency < interval * 2 {
                    continue;
                }
                let mut waited = latency - interval;
                while waited > interval {
                    all.push(waited);
                    waited -= interval;
                }
            }
        }
        all.sort_unstable();
        super::percentile(&all, p).as_secs_f64() * 1000.0
    }
}

/// Runs `c` clients for `seconds`, each calling `call(i)` (i counts calls across clients) until
/// the time is up or `limit` calls were made; a call answers whether it succeeded.
async fn drive<F, Fut>(c: usize, seconds: u64, limit: usize, call: F) -> Measured
where
    F: Fn(usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = bool> + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let stop = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (next, errors, call) = (next.clone(), errors.clone(), call.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut latencies = Vec::new();
            let mut slowest = (Duration::ZERO, Duration::ZERO);
            while Instant::now() < stop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let t = Instant::now();
                if call(i).await {
                    let took = t.elapsed();
                    latencies.push(took);
                    if took > slowest.0 {
                        slowest = (took, t - started);
                    }
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            (latencies, slowest)
        }));
    }
    let mut latencies = Vec::new();
    let mut slowest = (Duration::ZERO, Duration::ZERO);
    for t in tasks {
        if let Ok((l, s)) = t.await {
            latencies.extend(l);
            slowest = slowest.max(s);
        }
    }
    latencies.sort();
    Measured {
        done: latencies.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        latencies,
        slowest,
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn login(&self, user: &str, password: &str) -> Result<String, AppError> {
        let res = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .map_err(|e| AppError::Internal(format!("login: {e}")))?;
        let v: Value = res
            .json()
            .await
            .map_err(|e| AppError::Internal(format!("login: {e}")))?;
        v["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| AppError::Internal(format!("login {user}: {v}")))
    }
}

async fn ok(req: reqwest::RequestBuilder) -> bool {
    match req.send().await {
        Ok(res) => {
            let good = res.status().is_success();
            let _ = res.bytes().await;
            good
        }
        Err(_) => false,
    }
}

async fn json_of(req: reqwest::RequestBuilder) -> Option<Value> {
    req.send().await.ok()?.json().await.ok()
}

/// The service under load: `hotline serve` in its own process (so that its memory is its own),
/// killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    /// Starts `hotline serve` over `db_url` on a free port with background jobs off, and waits
    /// until it answers `/readyz`.
    async fn start(db_url: &str, data_dir: &std::path::Path) -> Result<Server, AppError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| AppError::Internal(format!("free port: {e}")))?
            .port();
        let exe = std::env::current_exe()
            .map_err(|e| AppError::Internal(format!("own executable: {e}")))?;
        let child = std::process::Command::new(exe)
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("HOTLINE__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("HOTLINE__DATA_DIR", data_dir)
            .env("HOTLINE__JOBS__SWEEP_INTERVAL_SECONDS", "0")
            .env("HOTLINE__NOTIFICATIONS__POLL_INTERVAL_MS", "0")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| AppError::Internal(format!("cannot start the server: {e}")))?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(res) = http.get(format!("{}/readyz", server.base)).send().await {
                if res.status().is_success() {
                    return Ok(server);
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        Err(AppError::Unavailable(
            "the server did not become ready within 60 s".into(),
        ))
    }

    /// The server's resident memory now and its peak so far, in MiB.
    fn rss(&self) -> Option<Rss> {
        Some((self.memory_mib("VmRSS:")?, self.memory_mib("VmHWM:")?))
    }

    /// A memory figure of the server process (`VmHWM:`, `RssAnon:`, ...), in MiB.
    fn memory_mib(&self, field: &str) -> Option<f64> {
        super::stats::status_kib_of(&format!("/proc/{}/status", self.child.id()), field)
            .map(|kib| kib as f64 / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the harness; answers the report.
pub async fn run(settings: Settings, options: LoadOptions) -> Result<String, AppError> {
    let backend = settings.backend();
    let db_url = settings.database.url.clone();
    let (pool, _) = crate::startup::prepare_database(&settings).await?;
    let now = Clock::system().now();
    let mut report = format!(
        "backend: {backend:?}; {} s per measurement; server and load generator on the same cores\n",
        options.seconds
    );
    const USERS: [&str; 4] = ["operator", "dispatcher", "water_staff", "supervisor"];
    let passwords: std::collections::HashMap<String, String> = if options.again {
        // new passwords for the demo users of the earlier run
        let tickets = crate::db::run(&pool, move |c| {
            use diesel::prelude::*;
            let mut passwords = std::collections::HashMap::new();
            for name in USERS {
                let password = format!("Load-{}-9x", uuid::Uuid::new_v4().simple());
                let id = crate::accounts::users::id_by_username(c, name)?;
                crate::accounts::users::set_password(c, &id, &password, now)?;
                passwords.insert(name.to_string(), password);
            }
            let n: i64 = crate::db::schema::tickets::table.count().get_result(c)?;
            Ok((passwords, n))
        })
        .await?;
        // the earlier runs' intakes changed the tables since their statistics were taken (a test
        // cluster may run without autovacuum; one served by this harness's runs had 179,047 rows
        // changed since, every hot-spot count planned on the fill's statistics, 36 ms instead of
        // well under one): fresh statistics first, as after a fill
        let started = Instant::now();
        crate::db::run(&pool, super::stats::analyze).await?;
        let _ = writeln!(
            report,
            "measuring again over the {} tickets there (statistics taken again first: {:.1} s)",
            tickets.1,
            started.elapsed().as_secs_f64()
        );
        tickets.0
    } else {
        let demo = crate::db::run(&pool, move |c| crate::demo::seed(c, now)).await?;
        // the data: the demo's categories and departments, a year of tickets (before the server
        // starts, so that its memory is the service's alone)
        let started = Instant::now();
        let fill = options.fill;
        let steps = crate::db::run(&pool, move |c| super::stats::fill_tickets(c, fill)).await?;
        let steps: Vec<String> = steps
            .iter()
            .map(|(step, secs)| format!("{step} {secs:.1} s"))
            .collect();
        let _ = writeln!(
            report,
            "filled {fill} tickets (with deadlines, events, search index) in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            steps.join(", ")
        );
        demo.users
            .into_iter()
            .filter_map(|u| Some((u.username, u.password?)))
            .collect()
    };
    let password = |name: &str| {
        passwords.get(name).cloned().ok_or_else(|| {
            AppError::Config(format!(
                "the database already had user {name}: use an empty database, or --again"
            ))
        })
    };
    let server = Server::start(&db_url, &settings.data_dir).await?;
    let base = server.base.clone();
    let client = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            // shorter than the server's keep-alive (5 s): a connection idle between two phases
            // is not reused just as the server closes it (counted as an error otherwise)
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| AppError::Internal(e.to_string()))?,
        base: base.clone(),
    };
    let operator = client.login("operator", &password("operator")?).await?;
    let dispatcher = client.login("dispatcher", &password("dispatcher")?).await?;
    let water = client
        .login("water_staff", &password("water_staff")?)
        .await?;
    let supervisor = client.login("supervisor", &password("supervisor")?).await?;
    // a keyset cursor from the middle of the table, for a deep page
    let middle: String = crate::db::run(&pool, |c| {
        use crate::db::schema::tickets;
        use diesel::prelude::*;
        let n: i64 = tickets::table.count().get_result(c)?;
        Ok(tickets::table
            .order(tickets::id.asc())
            .offset(n / 2)
            .select(tickets::id)
            .first(c)?)
    })
    .await?;
    // calls spread over the county's villages and the catalogue, as a day's calls are
    let (categories, regions, water_dept) = crate::db::run(&pool, |c| {
        use crate::db::schema::{categories, departments, regions};
        use diesel::prelude::*;
        let categories: Vec<String> = categories::table
            .filter(categories::parent_id.is_not_null())
            .filter(categories::attributes.eq("[]"))
            .select(categories::id)
            .load(c)?;
        let regions: Vec<String> = regions::table
            .filter(regions::level.eq("village"))
            .select(regions::id)
            .load(c)?;
        let water: String = departments::table
            .filter(departments::code.eq("WATER-SUPPLY"))
            .select(departments::id)
            .first(c)?;
        Ok((categories, regions, water))
    })
    .await?;
    if categories.is_empty() || regions.is_empty() {
        return Err(AppError::Internal(
            "the demo county has no categories or villages".into(),
        ));
    }
    let (categories, regions) = (Arc::new(categories), Arc::new(regions));
    // each with the server's RSS after it and its peak so far, to see which path raised it
    let mut rows: Vec<(String, usize, Measured, Option<Rss>)> = Vec::new();
    let mut pages: Vec<(&str, usize, Measured, f64, Option<Rss>)> = Vec::new();
    for &c in &options.concurrency {
        // intake; the tickets made are then dispatched and signed
        let made = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let m = drive(c, options.seconds, usize::MAX, {
            let (http, base, token, made) = (
                client.http.clone(),
                base.clone(),
                operator.clone(),
                made.clone(),
            );
            let (categories, regions) = (categories.clone(), regions.clone());
            move |i| {
                // the fill's eight kinds of requests in turn: runs on one database do not pile
                // one word into the department they dispatch to (docs/benchmarks.md, "The
                // tenth round")
                let (title, description) = super::stats::text(i);
                let req = http
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "category_id": categories[i % categories.len()],
                        "region_id": regions[(i / categories.len()) % regions.len()],
                        "kind": "help",
                        "title": title,
                        "description": description,
                        "citizen": {"name": "张三", "phone": "13812345678"}
                    }));
                let made = made.clone();
                async move {
                    match json_of(req).await {
                        Some(v) if v["id"].is_string() => {
                            if let (Ok(mut m), Some(id)) = (made.lock(), v["id"].as_str()) {
                                m.push(id.to_string());
                            }
                            true
                        }
                        _ => false,
                    }
                }
            }
        })
        .await;
        rows.push(("intake POST /api/v1/tickets".into(), c, m, server.rss()));
        let made: Vec<String> = made.lock().map(|m| m.clone()).unwrap_or_default();
        if made.is_empty() {
            // nothing to dispatch, sign or read: say so instead of measuring errors
            return Err(AppError::Internal(format!(
                "intake at c={c} took in no ticket ({} errors): is another run using the database or the server's port?",
                rows.last().map_or(0, |r| r.2.errors)
            )));
        }
        let made = Arc::new(made);
        let m = drive(c, options.seconds, made.len(), {
            let (http, base, token, made) = (
                client.http.clone(),
                base.clone(),
                dispatcher.clone(),
                made.clone(),
            );
            let water_dept = water_dept.clone();
            move |i| {
                let req = http
                    .post(format!("{base}/api/v1/tickets/{}/dispatch", made[i]))
                    .bearer_auth(&token)
                    .json(&json!({"department_id": water_dept}));
                ok(req)
            }
        })
        .await;
        let dispatched = m.done;
        rows.push((
            "dispatch POST /tickets/{id}/dispatch".into(),
            c,
            m,
            server.rss(),
        ));
        let m = drive(c, options.seconds, dispatched, {
            let (http, base, token, made) = (
                client.http.clone(),
                base.clone(),
                water.clone(),
                made.clone(),
            );
            move |i| {
                let req = http
                    .post(format!("{base}/api/v1/tickets/{}/sign", made[i]))
                    .bearer_auth(&token)
                    .json(&json!({}));
                ok(req)
            }
        })
        .await;
        rows.push(("sign POST /tickets/{id}/sign".into(), c, m, server.rss()));
        for (label, token, among) in [
            (
                "GET /tickets/{id} as operator",
                operator.clone(),
                made.len(),
            ),
            // the department reads the tickets dispatched to it
            ("GET /tickets/{id} as department", water.clone(), dispatched),
        ] {
            let m = drive(c, options.seconds, usize::MAX, {
                let (http, base, made) = (client.http.clone(), base.clone(), made.clone());
                move |i| {
                    let req = http
                        .get(format!("{base}/api/v1/tickets/{}", made[i % among.max(1)]))
                        .bearer_auth(&token);
                    ok(req)
                }
            })
            .await;
            rows.push((label.into(), c, m, server.rss()));
        }
        for (label, path, token) in [
            (
                "queue: dispatch, first page of 50",
                "/api/v1/tickets?queue=dispatch&limit=50",
                dispatcher.clone(),
            ),
            (
                "queue: department in progress, 50",
                "/api/v1/tickets?queue=in_progress&limit=50",
                water.clone(),
            ),
            (
                "search q=停水 (ranked, 50 hits)",
                "/api/v1/tickets/search?q=%E5%81%9C%E6%B0%B4&limit=50",
                operator.clone(),
            ),
            (
                "search q=停水三天 (phrase, ranked, 50 hits)",
                "/api/v1/tickets/search?q=%E5%81%9C%E6%B0%B4%E4%B8%89%E5%A4%A9&limit=50",
                operator.clone(),
            ),
            (
                "search q=停水 as department (ranked, 50 hits)",
                "/api/v1/tickets/search?q=%E5%81%9C%E6%B0%B4&limit=50",
                water.clone(),
            ),
            (
                "list ?q=停水, first page of 50",
                "/api/v1/tickets?q=%E5%81%9C%E6%B0%B4&limit=50",
                operator.clone(),
            ),
            (
                "list ?q=停水三天, first page of 50",
                "/api/v1/tickets?q=%E5%81%9C%E6%B0%B4%E4%B8%89%E5%A4%A9&limit=50",
                operator.clone(),
            ),
            (
                "list ?q=停水 as department, first page of 50",
                "/api/v1/tickets?q=%E5%81%9C%E6%B0%B4&limit=50",
                water.clone(),
            ),
        ] {
            let m = drive(c, options.seconds, usize::MAX, {
                let (http, url) = (client.http.clone(), format!("{base}{path}"));
                move |_| ok(http.get(&url).bearer_auth(&token))
            })
            .await;
            rows.push((label.into(), c, m, server.rss()));
        }
        // a page of the whole table (a supervisor sees every ticket), first and deep, beside
        // the bare SELECT of the same rows
        for (label, after) in [("first page", None), ("deep page", Some(middle.clone()))] {
            let path = match &after {
                None => "/api/v1/tickets?limit=50".to_string(),
                Some(id) => format!(
                    "/api/v1/tickets?limit=50&after={}",
                    crate::pagination::encode_cursor(std::slice::from_ref(id))
                ),
            };
            let m = drive(c, options.seconds, usize::MAX, {
                let (http, url, token) = (
                    client.http.clone(),
                    format!("{base}{path}"),
                    supervisor.clone(),
                );
                move |_| ok(http.get(&url).bearer_auth(&token))
            })
            .await;
            let sql = match &after {
                None => "SELECT * FROM tickets ORDER BY id LIMIT 51".to_string(),
                Some(id) => format!("SELECT * FROM tickets WHERE id > '{id}' ORDER BY id LIMIT 51"),
            };
            let bare = match backend {
                Backend::Postgres => pgbench(&db_url, &format!("{sql};\n"), c, options.seconds)?,
                Backend::Sqlite => {
                    let (url, seconds) = (
                        crate::db::sqlite_path(&db_url)
                            .to_string_lossy()
                            .to_string(),
                        options.seconds,
                    );
                    actix_web::web::block(move || sqlite_select(&url, &sql, c, seconds))
                        .await
                        .map_err(|_| AppError::Internal("bare select cancelled".into()))??
                }
            };
            pages.push((label, c, m, bare, server.rss()));
        }
    }

    // the database's own ceiling: a two-insert transaction
    let mut ceilings = Vec::new();
    for &c in &options.concurrency {
        let tps = match backend {
            Backend::Postgres => pg_ceiling(&db_url, c, options.seconds)?,
            Backend::Sqlite => {
                let dir = std::env::temp_dir()
                    .join(format!("hotline-ceiling-{}", uuid::Uuid::new_v4().simple()));
                let seconds = options.seconds;
                let tps = actix_web::web::block(move || sqlite_ceiling(&dir, c, seconds))
                    .await
                    .map_err(|_| AppError::Internal("ceiling cancelled".into()))??;
                tps
            }
        };
        ceilings.push((c, tps));
        let _ = writeln!(
            report,
            "ceiling c={c}: two-insert transaction {tps:.0} TPS ({})",
            match backend {
                Backend::Postgres => "pgbench",
                Backend::Sqlite => "threads on their own connections, WAL, synchronous=NORMAL",
            }
        );
    }
    let _ = writeln!(
        report,
        "\n| path | c | rate /s | × ceiling | p50 ms | p99 ms | p99 ms as wrk | slowest ms (at s) | errors | server RSS after / peak, MiB |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    let mib = |v: &Option<Rss>| {
        v.map_or("-".to_string(), |(now, peak)| {
            format!("{now:.0} / {peak:.0}")
        })
    };
    for (label, c, m, rss) in &rows {
        let ceiling = ceilings
            .iter()
            .find(|(cc, _)| cc == c)
            .map_or(0.0, |(_, t)| *t);
        let _ = writeln!(
            report,
            "| {label} | {c} | {:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} ({:.1}) | {} | {} |",
            m.rate(),
            m.rate() / ceiling.max(1e-9),
            m.pct(0.50),
            m.pct(0.99),
            m.pct_as_wrk(*c, 0.99),
            m.slowest.0.as_secs_f64() * 1000.0,
            m.slowest.1.as_secs_f64(),
            m.errors,
            mib(rss)
        );
    }
    let _ = writeln!(
        report,
        "\n| page of 50 of all tickets (supervisor) | c | HTTP /s | bare SELECT /s | HTTP ÷ bare | p50 ms | p99 ms | server RSS after / peak, MiB |\n|---|---|---|---|---|---|---|---|"
    );
    for (label, c, m, bare, rss) in &pages {
        let _ = writeln!(
            report,
            "| {label} | {c} | {:.0} | {bare:.0} | {:.2} | {:.1} | {:.1} | {} |",
            m.rate(),
            m.rate() / bare.max(1e-9),
            m.pct(0.50),
            m.pct(0.99),
            mib(rss)
        );
    }
    if let Some(peak) = server.memory_mib("VmHWM:") {
        let now = |field: &str| server.memory_mib(field).unwrap_or(0.0);
        let _ = writeln!(
            report,
            "\npeak RSS of the server process: {peak:.0} MiB (at the end: {:.0} MiB heap and other \
             anonymous memory, {:.0} MiB mapped files, {:.0} MiB shared memory)",
            now("RssAnon:"),
            now("RssFile:"),
            now("RssShmem:"),
        );
    }
    if let Some(kib) = super::stats::peak_rss_kib() {
        let _ = writeln!(
            report,
            "peak RSS of the load generator (with the fill): {:.0} MiB",
            kib as f64 / 1024.0
        );
    }
    Ok(report)
}

/// pgbench running a two-insert transaction on scratch tables of the same database.
fn pg_ceiling(url: &str, c: usize, seconds: u64) -> Result<f64, AppError> {
    let mut conn = <diesel::PgConnection as diesel::Connection>::establish(url)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    conn.batch_execute(
        "DROP TABLE IF EXISTS ceiling_a, ceiling_b; \
         CREATE TABLE ceiling_a (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL, at TIMESTAMP NOT NULL); \
         CREATE TABLE ceiling_b (id BIGSERIAL PRIMARY KEY, a BIGINT NOT NULL, v TEXT NOT NULL);",
    )?;
    let tps = pgbench(
        url,
        "BEGIN;\nINSERT INTO ceiling_a (v, at) VALUES ('小区停水三天了', now());\n\
         INSERT INTO ceiling_b (a, v) VALUES (lastval(), 'create');\nCOMMIT;\n",
        c,
        seconds,
    );
    let _ = conn.batch_execute("DROP TABLE IF EXISTS ceiling_a, ceiling_b;");
    tps
}

/// `pgbench` running `script` with `c` clients for `seconds`; answers its TPS.
fn pgbench(url: &str, script: &str, c: usize, seconds: u64) -> Result<f64, AppError> {
    let file = std::env::temp_dir().join(format!(
        "hotline-pgbench-{}.sql",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, script).map_err(|e| AppError::Internal(e.to_string()))?;
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &c.to_string(),
            "-j",
            &c.to_string(),
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&file)
        .arg(url)
        .output()
        .map_err(|e| AppError::Unavailable(format!("pgbench: {e} (install postgresql-client)")));
    let _ = std::fs::remove_file(&file);
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            AppError::Internal(format!(
                "pgbench said: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        })
}

/// `c` threads for `seconds`, each opening its own state with `open` and calling `step` on it
/// until the time is up; answers the steps per second across them.
fn per_second_on_threads<S, O, F>(c: usize, seconds: u64, open: O, step: F) -> Result<f64, AppError>
where
    O: Fn() -> Result<S, AppError> + Send + Clone + 'static,
    F: Fn(&mut S) -> Result<(), AppError> + Send + Clone + 'static,
{
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..c)
        .map(|_| {
            let (open, step) = (open.clone(), step.clone());
            std::thread::spawn(move || -> Result<usize, AppError> {
                let mut state = open()?;
                let mut n = 0;
                while Instant::now() < stop {
                    step(&mut state)?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h
            .join()
            .map_err(|_| AppError::Internal("measuring thread panicked".into()))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// `c` threads, each on its own read-only connection with the statement prepared once, running
/// `sql` (a page of rows, every column read as text) for `seconds`; answers the rate. Straight on
/// SQLite's C interface: the bare SELECT, without any mapping a Rust layer would add.
fn sqlite_select(path: &str, sql: &str, c: usize, seconds: u64) -> Result<f64, AppError> {
    let (path, sql) = (path.to_string(), sql.to_string());
    per_second_on_threads(
        c,
        seconds,
        move || raw_sqlite::Select::prepare(&path, &sql).map_err(AppError::Internal),
        |select: &mut raw_sqlite::Select| select.read_all().map(|_| ()).map_err(AppError::Internal),
    )
}

/// The least a program can do to run a prepared SELECT on SQLite (the bare-SELECT baseline).
mod raw_sqlite {
    use libsqlite3_sys as ffi;
    use std::ffi::CString;

    pub struct Select {
        db: *mut ffi::sqlite3,
        stmt: *mut ffi::sqlite3_stmt,
    }

    impl Select {
        pub fn prepare(path: &str, sql: &str) -> Result<Select, String> {
            let path = CString::new(path).map_err(|e| e.to_string())?;
            let sql = CString::new(sql).map_err(|e| e.to_string())?;
            // SAFETY: valid C strings; the handles are owned by `Select` and closed in `drop`
            // (also when opening or preparing fails)
            unsafe {
                let mut select = Select {
                    db: std::ptr::null_mut(),
                    stmt: std::ptr::null_mut(),
                };
                let rc = ffi::sqlite3_open_v2(
                    path.as_ptr(),
                    &mut select.db,
                    ffi::SQLITE_OPEN_READONLY,
                    std::ptr::null(),
                );
                if rc != ffi::SQLITE_OK {
                    return Err(format!("cannot open the database: code {rc}"));
                }
                let rc = ffi::sqlite3_prepare_v2(
                    select.db,
                    sql.as_ptr(),
                    -1,
                    &mut select.stmt,
                    std::ptr::null_mut(),
                );
                if rc != ffi::SQLITE_OK {
                    return Err(format!("cannot prepare the select: code {rc}"));
                }
                Ok(select)
            }
        }

        /// Steps through every row, reading each column as text.
        pub fn read_all(&self) -> Result<usize, String> {
            let mut bytes = 0;
            // SAFETY: `stmt` is a prepared statement of the open `db`
            unsafe {
                loop {
                    match ffi::sqlite3_step(self.stmt) {
                        ffi::SQLITE_ROW => {
                            for i in 0..ffi::sqlite3_column_count(self.stmt) {
                                ffi::sqlite3_column_text(self.stmt, i);
                                bytes += ffi::sqlite3_column_bytes(self.stmt, i) as usize;
                            }
                        }
                        ffi::SQLITE_DONE => break,
                        rc => {
                            ffi::sqlite3_reset(self.stmt);
                            return Err(format!("select failed: code {rc}"));
                        }
                    }
                }
                ffi::sqlite3_reset(self.stmt);
            }
            Ok(bytes)
        }
    }

    impl Drop for Select {
        fn drop(&mut self) {
            // SAFETY: finalising a null statement is a no-op; the statement goes before its db
            unsafe {
                ffi::sqlite3_finalize(self.stmt);
                ffi::sqlite3_close(self.db);
            }
        }
    }
}

/// `c` threads, each on its own connection, committing two-insert transactions for `seconds`.
fn sqlite_ceiling(dir: &std::path::Path, c: usize, seconds: u64) -> Result<f64, AppError> {
    use diesel::Connection;
    std::fs::create_dir_all(dir).map_err(|e| AppError::Internal(e.to_string()))?;
    let path = dir.join("ceiling.db");
    let url = path.to_string_lossy().to_string();
    let mut setup = diesel::SqliteConnection::establish(&url)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    setup.batch_execute(
        "PRAGMA journal_mode = WAL; \
         CREATE TABLE ceiling_a (id INTEGER PRIMARY KEY, v TEXT NOT NULL, at TEXT NOT NULL); \
         CREATE TABLE ceiling_b (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, v TEXT NOT NULL);",
    )?;
    let tps = per_second_on_threads(
        c,
        seconds,
        move || {
            let mut conn = diesel::SqliteConnection::establish(&url)
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
            conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;")?;
            Ok(conn)
        },
        |conn: &mut diesel::SqliteConnection| {
            conn.batch_execute(
                "BEGIN IMMEDIATE; \
                 INSERT INTO ceiling_a (v, at) VALUES ('小区停水三天了', datetime('now')); \
                 INSERT INTO ceiling_b (a, v) VALUES (last_insert_rowid(), 'create'); \
                 COMMIT;",
            )?;
            Ok(())
        },
    );
    let _ = std::fs::remove_dir_all(dir);
    tps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness's calls speak of the fill's eight requests in turn, one in eight of 停水.
    #[test]
    fn calls_cycle_through_the_fills_texts() {
        let texts: Vec<(String, &str)> = (0..16).map(crate::bench::stats::text).collect();
        assert_eq!(texts[0].0, "小区停水第0号楼");
        assert_eq!(texts[9].0, "夜间施工噪音扰民9号");
        let about_water = texts.iter().filter(|(t, _)| t.contains("停水")).count();
        assert_eq!(about_water, 2);
    }

    /// One stall of 50 ms among 99 calls of 0.5 ms, one client sending a call every
    /// millisecond: the closed loop's p99 does not see it; corrected as `wrk` does, the 48 calls
    /// a steady stream would have sent during it wait 49 ms down to 2 ms.
    #[test]
    fn a_stall_shows_in_the_corrected_p99() {
        let mut latencies = vec![Duration::from_micros(500); 99];
        latencies.push(Duration::from_millis(50));
        let m = Measured {
            done: 100,
            errors: 0,
            elapsed: Duration::from_millis(100),
            latencies,
            slowest: (Duration::from_millis(50), Duration::from_millis(10)),
        };
        assert_eq!(m.pct(0.99), 0.5);
        assert_eq!(m.pct_as_wrk(1, 0.99), 49.0);
        assert_eq!(m.pct_as_wrk(1, 0.50), 0.5);
        // the same calls shared by two clients: each sent one every 2 ms
        assert_eq!(m.pct_as_wrk(2, 0.99), 48.0);
    }
}
