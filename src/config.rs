//! Configuration: built-in defaults, `config/default.toml`, an overlay chosen by `HOTLINE_ENV`,
//! environment variables `HOTLINE__SECTION__KEY`, `DATABASE_URL`, then command-line flags.
//!
//! The `config` crate does the layering (it is the de-facto standard and names the offending key
//! in its errors); this module adds validation and the rule that secrets never come from files.

use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// The defaults compiled into the binary, so it runs from any directory.
const BUILTIN_DEFAULTS: &str = include_str!("../config/default.toml");

/// Keys that hold secrets: accepted from the environment only, redacted when printed.
const SECRET_KEYS: &[&str] = &["auth.jwt_secret", "notifications.email.password"];

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl From<config::ConfigError> for ConfigError {
    fn from(e: config::ConfigError) -> Self {
        ConfigError(e.to_string())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub tickets: TicketSettings,
    pub calendar: CalendarSettings,
    pub deadlines: crate::deadlines::Policy,
    pub jobs: JobSettings,
    pub notifications: NotificationSettings,
    pub open311: crate::open311::Open311Settings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Seconds between two passes of the deadline sweeper; 0 turns it off in this process.
    pub sweep_interval_seconds: u64,
    /// Warnings one pass records at most (the rest wait for the next pass).
    pub sweep_batch: i64,
    /// Hours a finished ledger export stays downloadable before its file is removed.
    pub export_retention_hours: i64,
}

/// Notifications (docs/notifications.md): the outbox worker, e-mail and webhooks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Milliseconds between two passes of the outbox worker; 0 turns it off in this process.
    pub poll_interval_ms: u64,
    /// Messages one pass claims at most (delivered concurrently).
    pub batch: i64,
    /// Attempts before a message is `dead` (re-sent only by an admin).
    pub max_attempts: i32,
    /// The first retry waits about this long; each further one twice as long (with jitter).
    pub backoff_base_seconds: i64,
    /// The longest wait between two attempts.
    pub backoff_max_seconds: i64,
    /// How long a claimed message stays with its worker before another may take it (a worker
    /// that died mid-delivery).
    pub lease_seconds: i64,
    /// Delivered messages are deleted after this many days (the event log keeps the history).
    pub retention_days: i64,
    /// Links in e-mails start with this (the console or API address users reach).
    pub link_base_url: String,
    /// A directory whose template files replace the built-in ones of the same name (empty: the
    /// built-in templates, the files of config/templates/ compiled in).
    pub templates_dir: String,
    /// Local time (the calendar's time zone) of the daily digest to departments, `HH:MM`; empty
    /// turns the digest off.
    pub digest_time: String,
    pub email: EmailSettings,
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// No encryption (a relay on the same host or network only).
    Plain,
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The SMTP server; empty: no e-mail is sent (messages wait in the outbox).
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: no authentication.
    pub username: String,
    /// From the environment only: `HOTLINE__NOTIFICATIONS__EMAIL__PASSWORD`.
    #[serde(default, serialize_with = "redact")]
    pub password: Option<SecretString>,
    /// The sender, e.g. `12345 热线 <hotline@example.gov.cn>`.
    pub from: String,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Seconds a receiver has to answer (connect included).
    pub timeout_seconds: u64,
    /// Allow subscriptions to loopback, private and link-local addresses (tests, an in-house
    /// gateway). Off by default: such targets are refused (SSRF).
    pub allow_private_targets: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    /// An IANA time zone, e.g. `Asia/Shanghai`.
    pub time_zone: String,
    /// Working periods of a working day, e.g. `["08:30-12:00", "14:00-17:30"]`.
    pub working_hours: Vec<String>,
}

impl CalendarSettings {
    /// The calendar these settings describe, over the shipped year files.
    pub fn build(&self) -> Result<crate::calendar::Calendar, ConfigError> {
        let tz: chrono_tz::Tz = self.time_zone.parse().map_err(|_| {
            ConfigError(format!(
                "calendar.time_zone: '{}' is not an IANA time zone such as Asia/Shanghai",
                self.time_zone
            ))
        })?;
        let periods = self
            .working_hours
            .iter()
            .map(|p| crate::calendar::parse_period(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ConfigError(format!("calendar.working_hours: {e}")))?;
        let years = crate::calendar::shipped_years()
            .map_err(|e| ConfigError(format!("calendar files: {e}")))?;
        crate::calendar::Calendar::new(tz, periods, years)
            .map_err(|e| ConfigError(format!("calendar.working_hours: {e}")))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSettings {
    pub auto_dispatch: bool,
    pub department_contact_roles: Vec<crate::auth::Role>,
    pub attachment_max_bytes: usize,
    pub attachments_per_ticket: usize,
    /// How long an operator's claim on a callback lasts.
    pub callback_claim_minutes: i64,
    /// Failed attempts (no answer, busy, wrong number, refused) before a citizen is unreachable.
    pub callback_max_failed_attempts: i32,
    /// Days after closing in which an operator may reopen a ticket (the citizen calls again).
    pub reopen_window_days: i64,
    /// Hot spots: this many new tickets of one category in one village (or smaller region)
    /// within `hotspot_window_minutes` raise one alert; 0 turns it off.
    pub hotspot_threshold: i32,
    pub hotspot_window_minutes: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub workers: usize,
    pub max_json_bytes: usize,
    pub max_import_bytes: usize,
    pub shutdown_timeout_seconds: u64,
    pub trust_forwarded_for: bool,
}

impl DatabaseSettings {
    /// The pool's size: `pool_size`, or when it is 0, by the backend of `url` (as the
    /// command line may have changed it): PostgreSQL 10 connections (its work waits on the
    /// network, and several instances share the server's connections); SQLite one per core,
    /// at least two (a reader beside the writer) — its work is the process's own CPU, and each
    /// connection is also a thread keeping its own memory: on two cores, 4 instead of 10 served
    /// pages 11 % faster and kept the server's peak memory at 159 MiB instead of 231, and 2
    /// instead of 4 kept it at 118 MiB instead of 143, with the write path as fast or faster
    /// and a department's search at c=8 a fifth slower (docs/benchmarks.md, "The tenth round").
    pub fn pool_size(&self) -> u32 {
        match (self.pool_size, Backend::from_url(&self.url)) {
            (0, Some(Backend::Postgres)) => 10,
            (0, _) => std::thread::available_parallelism().map_or(2, |n| (n.get() as u32).max(2)),
            (n, _) => n,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_seconds: u64,
    pub sqlite_busy_timeout_ms: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub issuer: String,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    #[serde(default, serialize_with = "redact")]
    pub jwt_secret: Option<SecretString>,
    pub jwt_secret_file: String,
    pub max_failed_logins_per_account: i32,
    pub max_failed_logins_per_address: i32,
    pub failed_login_window_seconds: i64,
    pub lockout_seconds: i64,
    /// Seconds an authenticated session is trusted without asking the database again; a
    /// logout or revocation in another instance takes effect within this time (0: always ask).
    pub session_cache_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

fn redact<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

/// Values given on the command line; they win over every other layer.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

impl Settings {
    /// Loads the layered configuration from `config_dir` and the process environment.
    pub fn load(config_dir: &Path, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let run_env = std::env::var("HOTLINE_ENV").ok().filter(|s| !s.is_empty());
        let mut files = Config::builder()
            .add_source(File::from_str(BUILTIN_DEFAULTS, FileFormat::Toml))
            .add_source(File::from(config_dir.join("default.toml")).required(false));
        if let Some(env) = &run_env {
            let overlay = config_dir.join(format!("{env}.toml"));
            if !overlay.exists() {
                return Err(ConfigError(format!(
                    "HOTLINE_ENV={env} but the overlay {} does not exist",
                    overlay.display()
                )));
            }
            files = files.add_source(File::from(overlay));
        }
        // Secrets must not sit in files that end up in a repository or a backup.
        let from_files = files.clone().build()?;
        for key in SECRET_KEYS {
            if from_files.get::<config::Value>(key).is_ok() {
                return Err(ConfigError(format!(
                    "{key} must not be set in a config file; set it in the environment \
                     (HOTLINE__{}) or point to a file with its *_file key",
                    key.to_uppercase().replace('.', "__")
                )));
            }
        }

        let mut builder = files.add_source(
            Environment::with_prefix("HOTLINE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()) {
            builder = builder.set_override("database.url", url)?;
        }
        if let Some(bind) = &overrides.bind {
            builder = builder.set_override("server.bind", bind.as_str())?;
        }
        if let Some(dir) = &overrides.data_dir {
            builder = builder.set_override("data_dir", dir.to_string_lossy().to_string())?;
        }
        if let Some(url) = &overrides.database_url {
            builder = builder.set_override("database.url", url.as_str())?;
        }
        if let Ok(format) = std::env::var("HOTLINE_LOG_FORMAT") {
            builder = builder.set_override("log.format", format)?;
        }
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        if settings.database.url.trim().is_empty() {
            settings.database.url = format!(
                "sqlite://{}",
                settings.data_dir.join("hotline.db").display()
            );
        }
        settings.validate()?;
        let calendar = settings.calendar.build()?;
        // the message templates parse and render (a broken edit stops the start, named)
        crate::notify::templates::Templates::load(
            &settings.notifications.templates_dir,
            calendar.time_zone(),
            &settings.notifications.link_base_url,
        )?;
        settings
            .deadlines
            .validate()
            .map_err(|e| ConfigError(e.to_string()))?;
        Ok(settings)
    }

    /// Checks what serde cannot: every message names the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("{key}: {why}")));
        let resolves = self
            .server
            .bind
            .to_socket_addrs()
            .map(|mut a| a.next().is_some());
        if !matches!(resolves, Ok(true)) {
            return bad(
                "server.bind",
                format!("'{}' is not a HOST:PORT address", self.server.bind),
            );
        }
        if self.server.max_json_bytes < 1024 {
            return bad("server.max_json_bytes", "must be at least 1024".into());
        }
        if Backend::from_url(&self.database.url).is_none() {
            return bad(
                "database.url",
                format!(
                    "'{}' must start with sqlite://, postgres:// or postgresql://",
                    redact_url(&self.database.url)
                ),
            );
        }
        if self.database.connect_timeout_seconds == 0 {
            return bad(
                "database.connect_timeout_seconds",
                "must be at least 1".into(),
            );
        }
        let positive = [
            (
                "auth.access_token_ttl_seconds",
                self.auth.access_token_ttl_seconds,
            ),
            (
                "auth.refresh_token_ttl_seconds",
                self.auth.refresh_token_ttl_seconds,
            ),
            (
                "auth.failed_login_window_seconds",
                self.auth.failed_login_window_seconds,
            ),
            ("auth.lockout_seconds", self.auth.lockout_seconds),
            (
                "tickets.callback_claim_minutes",
                self.tickets.callback_claim_minutes,
            ),
            (
                "tickets.callback_max_failed_attempts",
                self.tickets.callback_max_failed_attempts.into(),
            ),
            (
                "tickets.reopen_window_days",
                self.tickets.reopen_window_days,
            ),
            (
                "auth.max_failed_logins_per_account",
                self.auth.max_failed_logins_per_account.into(),
            ),
            (
                "auth.max_failed_logins_per_address",
                self.auth.max_failed_logins_per_address.into(),
            ),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return bad(key, format!("must be positive, got {value}"));
            }
        }
        if let Some(secret) = &self.auth.jwt_secret {
            if secret.expose_secret().len() < 32 {
                return bad("auth.jwt_secret", "must be at least 32 characters".into());
            }
        }
        self.validate_notifications()?;
        if self
            .log
            .level
            .parse::<tracing_subscriber::EnvFilter>()
            .is_err()
        {
            return bad(
                "log.level",
                format!("'{}' is not a valid filter", self.log.level),
            );
        }
        Ok(())
    }

    fn validate_notifications(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("notifications.{key}: {why}")));
        let n = &self.notifications;
        let positive = [
            ("batch", n.batch),
            ("max_attempts", i64::from(n.max_attempts)),
            ("backoff_base_seconds", n.backoff_base_seconds),
            ("backoff_max_seconds", n.backoff_max_seconds),
            ("lease_seconds", n.lease_seconds),
            ("retention_days", n.retention_days),
            (
                "webhooks.timeout_seconds",
                n.webhooks.timeout_seconds as i64,
            ),
            ("email.timeout_seconds", n.email.timeout_seconds as i64),
        ];
        for (key, value) in positive {
            if value <= 0 {
                return bad(key, format!("must be positive, got {value}"));
            }
        }
        if !(n.link_base_url.starts_with("http://") || n.link_base_url.starts_with("https://")) {
            return bad(
                "link_base_url",
                format!("'{}' must start with http:// or https://", n.link_base_url),
            );
        }
        if !n.digest_time.is_empty()
            && chrono::NaiveTime::parse_from_str(&n.digest_time, "%H:%M").is_err()
        {
            return bad(
                "digest_time",
                format!("'{}' is not a time HH:MM (or empty for off)", n.digest_time),
            );
        }
        if !n.email.host.is_empty() {
            if n.email.from.parse::<lettre::message::Mailbox>().is_err() {
                return bad(
                    "email.from",
                    format!(
                        "'{}' is not an address such as 热线 <hotline@example.gov.cn>",
                        n.email.from
                    ),
                );
            }
            if n.email.password.is_some() && n.email.username.is_empty() {
                return bad("email.username", "is required with a password".into());
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        // validate() guarantees a known scheme
        Backend::from_url(&self.database.url).unwrap_or(Backend::Sqlite)
    }

    /// The effective configuration as pretty JSON, secrets and URL passwords redacted.
    pub fn redacted_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(url) = value.pointer_mut("/database/url") {
            *url = serde_json::Value::String(redact_url(&self.database.url));
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_url_password() {
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:[redacted]@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn the_pool_follows_the_backend() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let load = |url: &str| {
            Settings::load(
                &root,
                &Overrides {
                    database_url: Some(url.into()),
                    ..Default::default()
                },
            )
            .map(|s| s.database.pool_size())
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        // unless the environment sets it
        if std::env::var_os("HOTLINE__DATABASE__POOL_SIZE").is_none() {
            assert_eq!(load("sqlite://x.db").ok(), Some(cores.max(2)));
            assert_eq!(load("postgres://h/db").ok(), Some(10));
        }
    }

    #[test]
    fn backend_from_scheme() {
        assert_eq!(Backend::from_url("sqlite://a.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgresql://h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://h/db"), None);
    }
}
