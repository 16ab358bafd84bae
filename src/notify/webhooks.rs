//! Webhook subscriptions (managed by admins), the signature, and the HTTP client that delivers.
//!
//! Each POST carries `X-Hotline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
//! `X-Hotline-Timestamp` (Unix seconds), `X-Hotline-Event` and `X-Hotline-Delivery` (the message
//! id, the same on every retry, so receivers drop repeats). Targets are http(s) only; loopback,
//! private, link-local and other non-public addresses are refused unless
//! `notifications.webhooks.allow_private_targets` — checked when a subscription is saved and again
//! on every delivery, after DNS resolution (a name that resolves to a private address is refused
//! then, so DNS cannot be used to reach inside). Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::EventType;
use crate::accounts::utc;
use crate::config::WebhookSettings;
use crate::db::schema::webhook_subscriptions;
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::serde_util::{from_json_text, to_json_text};
use crate::validate;
use crate::vocab::WebhookContact;

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub event_types: String,
    pub secret: String,
    pub contact: String,
    pub active: bool,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A subscription as admins see it (the secret only once, when created or rotated).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    pub id: String,
    pub name: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub contact: WebhookContact,
    pub active: bool,
    /// The signing secret: in the answer that creates or rotates it, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Subscription {
    fn from_row(row: SubscriptionRow, show_secret: bool) -> Subscription {
        Subscription {
            id: row.id,
            name: row.name,
            url: row.url,
            event_types: from_json_text::<Vec<String>>(&row.event_types)
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect(),
            contact: row.contact.parse().unwrap_or(WebhookContact::None),
            active: row.active,
            secret: show_secret.then_some(row.secret),
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Who receives (e.g. "小程序网关"), 1-100 characters.
    pub name: String,
    /// An http(s) URL of at most 2,000 characters.
    pub url: String,
    /// At least one event type.
    pub event_types: Vec<EventType>,
    /// Which citizen contact field the subscriber receives (default none).
    pub contact: Option<WebhookContact>,
    /// 16-200 characters; generated (64 hex digits) when absent.
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChanges {
    pub name: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub contact: Option<WebhookContact>,
    pub active: Option<bool>,
    /// `true`: a new secret is generated and answered once.
    pub rotate_secret: Option<bool>,
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn check_name(name: &str) -> Result<(), AppError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(AppError::validation("name: give 1 to 100 characters"));
    }
    validate::text_ok(name, 100).map_err(|e| AppError::validation(format!("name: {e}")))
}

fn check_event_types(types: &[EventType]) -> Result<(), AppError> {
    if types.is_empty() {
        let known: Vec<&str> = EventType::all()
            .into_iter()
            .map(EventType::as_str)
            .collect();
        return Err(AppError::validation(format!(
            "event_types: give at least one of {}",
            known.join(", ")
        )));
    }
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    settings: &WebhookSettings,
    input: NewSubscription,
    actor: &str,
    now: NaiveDateTime,
) -> Result<Subscription, AppError> {
    check_name(&input.name)?;
    check_target(&input.url, settings.allow_private_targets)?;
    check_event_types(&input.event_types)?;
    let secret = match input.secret {
        Some(s) if !(16..=200).contains(&s.chars().count()) => {
            return Err(AppError::validation("secret: give 16 to 200 characters"))
        }
        Some(s) => s,
        None => generate_secret(),
    };
    let row = SubscriptionRow {
        id: db::new_id(),
        name: input.name.trim().to_string(),
        url: input.url,
        event_types: to_json_text(&input.event_types),
        secret,
        contact: input
            .contact
            .unwrap_or(WebhookContact::None)
            .as_str()
            .to_string(),
        active: true,
        created_by: Some(actor.to_string()),
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(webhook_subscriptions::table)
        .values(&row)
        .execute(conn)?;
    Ok(Subscription::from_row(row, true))
}

fn load(conn: &mut DbConnection, id: &str) -> Result<SubscriptionRow, AppError> {
    webhook_subscriptions::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no webhook subscription with id {id}")))
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Subscription, AppError> {
    Ok(Subscription::from_row(load(conn, id)?, false))
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Subscription>, AppError> {
    let rows: Vec<SubscriptionRow> = webhook_subscriptions::table
        .order(webhook_subscriptions::created_at.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Subscription::from_row(r, false))
        .collect())
}

pub fn update(
    conn: &mut DbConnection,
    settings: &WebhookSettings,
    id: &str,
    changes: SubscriptionChanges,
    now: NaiveDateTime,
) -> Result<Subscription, AppError> {
    db::write_tx(conn, |conn| {
        let mut row = load(conn, id)?;
        if let Some(name) = changes.name {
            check_name(&name)?;
            row.name = name.trim().to_string();
        }
        if let Some(url) = changes.url {
            check_target(&url, settings.allow_private_targets)?;
            row.url = url;
        }
        if let Some(types) = changes.event_types {
            check_event_types(&types)?;
            row.event_types = to_json_text(&types);
        }
        if let Some(contact) = changes.contact {
            row.contact = contact.as_str().to_string();
        }
        if let Some(active) = changes.active {
            row.active = active;
        }
        let rotated = changes.rotate_secret == Some(true);
        if rotated {
            row.secret = generate_secret();
        }
        row.updated_at = now;
        diesel::update(webhook_subscriptions::table.find(id))
            .set(&row)
            .execute(conn)?;
        Ok(Subscription::from_row(row, rotated))
    })
}

/// Deletes a subscription; its undelivered messages go `dead` when their turn comes.
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), AppError> {
    let n = diesel::delete(webhook_subscriptions::table.find(id)).execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound(format!(
            "no webhook subscription with id {id}"
        )));
    }
    Ok(())
}

/// One subscription that takes one event.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub event: EventType,
    pub subscription: String,
    pub contact: WebhookContact,
}

/// The active subscriptions of each of `events`.
pub fn subscribers_of(
    conn: &mut DbConnection,
    events: &[EventType],
) -> Result<Vec<Subscriber>, AppError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String)> = webhook_subscriptions::table
        .filter(webhook_subscriptions::active.eq(true))
        .select((
            webhook_subscriptions::id,
            webhook_subscriptions::event_types,
            webhook_subscriptions::contact,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (id, types, contact) in rows {
        let types: Vec<String> = from_json_text(&types);
        for event in events {
            if types.iter().any(|t| t == event.as_str()) {
                out.push(Subscriber {
                    event: *event,
                    subscription: id.clone(),
                    contact: contact.parse().unwrap_or(WebhookContact::None),
                });
            }
        }
    }
    Ok(out)
}

// ---- targets (SSRF) --------------------------------------------------------------------------

/// Whether an address is one the public internet routes to.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// Checks a subscription URL: http(s), a host, no credentials, and (unless allowed) no
/// literal non-public address or `localhost`.
pub fn check_target(url: &str, allow_private: bool) -> Result<Url, AppError> {
    let bad = |why: &str| AppError::validation(format!("url: {why}"));
    if url.len() > 2000 {
        return Err(bad("at most 2,000 characters"));
    }
    let parsed = Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https URLs are allowed"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "no credentials in the URL; the signature authenticates us",
        ));
    }
    let Some(host) = parsed.host() else {
        return Err(bad("no host"));
    };
    if !allow_private {
        let private = match host {
            url::Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
            url::Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
        };
        if private {
            return Err(bad("loopback, private and link-local targets are refused \
                 (notifications.webhooks.allow_private_targets)"));
        }
    }
    Ok(parsed)
}

/// Resolves names like the system does, then drops non-public addresses (unless allowed): a
/// public name that resolves to an inside address is refused at connection time.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The signature header value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers webhooks: one client (connection reuse) with bounded timeouts and no redirects.
pub struct WebhookClient {
    client: reqwest::Client,
    allow_private: bool,
}

impl WebhookClient {
    pub fn new(settings: &WebhookSettings) -> Result<WebhookClient, AppError> {
        let timeout = Duration::from_secs(settings.timeout_seconds);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hotline-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private_targets,
            }))
            .build()
            .map_err(|e| AppError::Config(format!("webhook client: {e}")))?;
        Ok(WebhookClient {
            client,
            allow_private: settings.allow_private_targets,
        })
    }

    /// POSTs `body`; Ok on a 2xx answer, otherwise the reason (a retry may succeed).
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        event: &str,
        delivery: &str,
        body: String,
        timestamp: i64,
    ) -> Result<(), String> {
        let target = check_target(url, self.allow_private).map_err(|e| e.to_string())?;
        let signature = sign(secret, timestamp, body.as_bytes());
        let answer = self
            .client
            .post(target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Hotline-Event", event)
            .header("X-Hotline-Delivery", delivery)
            .header("X-Hotline-Timestamp", timestamp.to_string())
            .header("X-Hotline-Signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {}", status.as_u16()))
        }
    }
}

/// A reqwest error with its causes (the resolver's refusal sits in the source chain).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_inside_are_refused() {
        for url in [
            "http://127.0.0.1/x",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ] {
            assert!(check_target(url, false).is_err(), "{url}");
            assert!(check_target(url, true).is_ok(), "{url} when allowed");
        }
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://u:p@example.com/",
        ] {
            assert!(check_target(url, true).is_err(), "{url}");
        }
        assert!(check_target("https://sms.example.com/hook", false).is_ok());
        assert!(check_target("http://8.8.8.8/", false).is_ok());
    }

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sign("secret", 1_700_000_000, b"{}"),
            "sha256=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
