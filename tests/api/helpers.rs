//! Test harness: starts the real application on a random port with a fresh database per test,
//! on SQLite always and on PostgreSQL when HOTLINE_TEST_POSTGRES_URL is set.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use hotline::accounts::users::{self, NewUser};
use hotline::auth::Role;
use hotline::clock::Clock;
use hotline::config::{Overrides, Settings};
use hotline::db;
use hotline::state::AppState;
use hotline::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "Zq8#Vx!m2Lp9-root-of-tests";

/// The password the helpers give an account: strong enough for the policy, without the name.
pub fn password_of(username: &str) -> String {
    format!("Zq8#Vx!m2Lp9-{}", username.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    _data_dir: tempfile::TempDir,
    _database: Option<PgDatabase>,
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    /// A fresh database, copied from a migrated template, or `None` when no PostgreSQL is
    /// configured (the PostgreSQL tests are then marked ignored at build time, see build.rs).
    /// Under CI=true a missing PostgreSQL is a failure, not a skip.
    pub fn create() -> Option<PgDatabase> {
        let Some(admin_url) = std::env::var("HOTLINE_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but HOTLINE_TEST_POSTGRES_URL is not set: the PostgreSQL runs cannot be skipped");
            }
            return None;
        };
        hotline::db::init_tls();
        let template = template_database(&admin_url);
        let name = format!("hotline_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn =
            PgConnection::establish(&admin_url).expect("connect to HOTLINE_TEST_POSTGRES_URL");
        // copies of one template may collide for a moment; retry briefly
        let mut attempt = 0;
        loop {
            match conn.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}")) {
                Ok(()) => break,
                Err(e) if attempt < 50 && e.to_string().contains("being accessed") => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => panic!("create test database from {template}: {e}"),
            }
        }
        let url = format!("{}/{name}", base_url(&admin_url));
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

fn base_url(admin_url: &str) -> &str {
    admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url)
}

/// A database migrated once and copied for every test (`CREATE DATABASE ... TEMPLATE`), named
/// by a hash of the migrations so that a changed migration gets a new template. Made under an
/// advisory lock and published by a rename, so parallel test processes share it safely.
fn template_database(admin_url: &str) -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut files: Vec<_> =
            walk_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"));
        files.sort();
        let mut hasher = Sha256::new();
        for f in &files {
            hasher.update(f.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(f).expect("read migration"));
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("hotline_tpl_{digest}");
        let mut conn =
            PgConnection::establish(admin_url).expect("connect to HOTLINE_TEST_POSTGRES_URL");
        conn.batch_execute("SELECT pg_advisory_lock(7263541)")
            .expect("lock");
        let exists = |conn: &mut PgConnection| {
            diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
            )))
            .get_result::<bool>(conn)
            .expect("pg_database")
        };
        if !exists(&mut conn) {
            let building = format!("{name}_building");
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .expect("drop");
            conn.batch_execute(&format!("CREATE DATABASE {building}"))
                .expect("create template");
            {
                let url = format!("{}/{building}", base_url(admin_url));
                let mut target =
                    db::DbConnection::Pg(PgConnection::establish(&url).expect("connect template"));
                db::run_migrations(&mut target).expect("migrate template");
            }
            conn.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                .expect("publish template");
        }
        conn.batch_execute("SELECT pg_advisory_unlock(7263541)")
            .expect("unlock");
        name
    })
    .clone()
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Settings for a test: defaults from config/, a private data directory, port 0.
pub fn test_settings(data_dir: &Path, database_url: &str) -> Settings {
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.to_path_buf()),
        database_url: Some(database_url.to_string()),
    };
    let mut settings = Settings::load(Path::new("config"), &overrides).expect("test settings");
    settings.server.workers = 1;
    // tests run the deadline sweeper themselves, with the manual clock
    settings.jobs.sweep_interval_seconds = 0;
    // and the outbox delivery passes
    settings.notifications.poll_interval_ms = 0;
    settings.database.pool_size = 4;
    settings
}

/// Starts the app; `None` when the backend is PostgreSQL and none is configured.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(
    backend: Backend,
    tweak: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create()?),
    };
    let url = match &database {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", data_dir.path().join("hotline.db").display()),
    };
    let mut settings = test_settings(data_dir.path(), &url);
    tweak(&mut settings);
    let clock = Clock::manual(chrono::Utc::now().naive_utc());
    let app = Application::build(settings, clock)
        .await
        .expect("build application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    actix_web::rt::spawn(app.run_until_stopped());

    let now = state.clock.now();
    db::run(&state.pool, move |c| {
        users::create(
            c,
            NewUser {
                username: "admin".into(),
                display_name: Some("Test Admin".into()),
                email: None,
                password: ADMIN_PASSWORD.into(),
                roles: vec![Role::Admin],
                department_id: None,
            },
            now,
        )
    })
    .await
    .expect("create admin");

    Some(TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        state,
        _data_dir: data_dir,
        _database: database,
    })
}

impl TestApp {
    pub fn data_dir(&self) -> &Path {
        self._data_dir.path()
    }

    /// The administrative URL and the name of this test's PostgreSQL database.
    pub fn postgres(&self) -> Option<(&str, &str)> {
        self._database
            .as_ref()
            .map(|d| (d.admin_url.as_str(), d.name.as_str()))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn login_raw(&self, username: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the whole token pair.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let res = self.login_raw(username, password).await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        res.json().await.expect("token pair")
    }

    /// A new access token of a test user (their password is `password_of(name)`): after the
    /// manual clock jumped past the old token's lifetime.
    pub async fn token_for(&self, name: &str) -> String {
        token_of(&self.login(name, &password_of(name)).await)
    }

    pub async fn admin_token(&self) -> String {
        token_of(&self.login("admin", ADMIN_PASSWORD).await)
    }

    /// Creates a user through the API and returns its id.
    pub async fn create_user(&self, admin_token: &str, username: &str, roles: &[&str]) -> String {
        let res = self
            .post(
                "/api/v1/users",
                Some(admin_token),
                json!({"username": username, "password": password_of(username), "roles": roles}),
            )
            .await;
        let status = res.status();
        let body: Value = res.json().await.expect("user");
        assert_eq!(
            status,
            StatusCode::CREATED,
            "create user {username}: {body}"
        );
        body["id"].as_str().expect("id").to_string()
    }

    /// Creates a user and logs them in; returns (id, access token).
    pub async fn user_with_token(
        &self,
        admin_token: &str,
        username: &str,
        roles: &[&str],
    ) -> (String, String) {
        let id = self.create_user(admin_token, username, roles).await;
        let pair = self.login(username, &password_of(username)).await;
        (id, token_of(&pair))
    }
}

/// Decodes a JSON answer after checking that it is a success; a failure shows its body.
pub trait JsonOk {
    async fn json_ok(self) -> Value;
}

impl JsonOk for Response {
    async fn json_ok(self) -> Value {
        let status = self.status();
        let url = self.url().path().to_string();
        let text = self.text().await.expect("body");
        assert!(status.is_success(), "{status} from {url}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
    }
}

/// Asserts the status, then decodes the JSON body.
pub async fn json_with(res: Response, expected: StatusCode) -> Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    assert_eq!(status, expected, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn token_of(pair: &Value) -> String {
    pair["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// Asserts an error response: status, JSON body with the code, and a message.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status for expected error '{code}'");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ct.starts_with("application/json"),
        "content type {ct} for '{code}'"
    );
    let body: Value = res.json().await.expect("json error body");
    assert_eq!(body["error"], code, "error body {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    body
}

/// Generates, for each named `async fn NAME(app: TestApp)`, a module with a `sqlite` and a
/// `postgres` test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::helpers::{spawn_app, Backend};

                #[actix_web::test]
                async fn sqlite() {
                    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
                    super::$name(app).await;
                }

                #[actix_web::test]
                #[cfg_attr(not(hotline_pg_tests), ignore = "HOTLINE_TEST_POSTGRES_URL is not set")]
                async fn postgres() {
                    if let Some(app) = spawn_app(Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}
