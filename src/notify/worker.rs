//! The delivery worker: claims due outbox rows, delivers them concurrently, records each
//! outcome. Runs in every `serve` process (`jobs::spawn_outbox_worker`); a pass can also be run
//! directly (the tests, with the manual clock).

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Duration;
use futures_util::future::join_all;

use super::email::{Mailer, SendError};
use super::outbox::{self, Claimed, Outcome, Recorded, RetryPolicy};
use super::templates::Templates;
use super::webhooks::WebhookClient;
use crate::config::{ConfigError, NotificationSettings};
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use crate::vocab::DeliveryChannel;

/// What the worker needs, built once at start.
pub struct Notifier {
    pub templates: Templates,
    pub mailer: Option<Mailer>,
    pub webhooks: WebhookClient,
    pub retry: RetryPolicy,
    pub batch: i64,
    pub lease: Duration,
    /// Said once: e-mail messages wait because no SMTP host is configured.
    warned_no_smtp: AtomicBool,
}

impl Notifier {
    pub fn new(
        settings: &NotificationSettings,
        tz: chrono_tz::Tz,
    ) -> Result<Notifier, ConfigError> {
        let templates = Templates::load(&settings.templates_dir, tz, &settings.link_base_url)?;
        let mailer = Mailer::new(&settings.email).map_err(|e| ConfigError(e.to_string()))?;
        let webhooks =
            WebhookClient::new(&settings.webhooks).map_err(|e| ConfigError(e.to_string()))?;
        Ok(Notifier {
            templates,
            mailer,
            webhooks,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts,
                base: Duration::seconds(settings.backoff_base_seconds),
                max: Duration::seconds(settings.backoff_max_seconds),
            },
            batch: settings.batch,
            lease: Duration::seconds(settings.lease_seconds),
            warned_no_smtp: AtomicBool::new(false),
        })
    }

    /// The channels this process can deliver: e-mail only with an SMTP host (otherwise e-mail
    /// messages stay queued, nothing is lost, until one is configured).
    fn channels(&self) -> Vec<DeliveryChannel> {
        if self.mailer.is_some() {
            vec![DeliveryChannel::Email, DeliveryChannel::Webhook]
        } else {
            if !self.warned_no_smtp.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "no SMTP host configured (notifications.email.host): e-mail messages stay \
                     in the outbox"
                );
            }
            vec![DeliveryChannel::Webhook]
        }
    }

    async fn deliver(&self, claimed: &Claimed, timestamp: i64) -> Outcome {
        let row = &claimed.row;
        match row.channel {
            DeliveryChannel::Email => {
                let Some(mailer) = &self.mailer else {
                    return Outcome::Failed("no SMTP host is configured".into());
                };
                let context: serde_json::Value =
                    serde_json::from_str(&row.payload).unwrap_or_default();
                let template = row.template.as_deref().unwrap_or_default();
                let mail = match self.templates.email(template, &context) {
                    Ok(mail) => mail,
                    Err(e) => return Outcome::Undeliverable(e),
                };
                match mailer.send(&row.recipient, &mail, &row.id).await {
                    Ok(()) => Outcome::Delivered,
                    Err(SendError::Transient(e)) => Outcome::Failed(e),
                    Err(SendError::Permanent(e)) => Outcome::Undeliverable(e),
                }
            }
            DeliveryChannel::Webhook => match &claimed.target {
                None => Outcome::Undeliverable("the webhook subscription was deleted".into()),
                Some(t) if !t.active => {
                    Outcome::Undeliverable("the webhook subscription is inactive".into())
                }
                Some(t) => {
                    let sent = self
                        .webhooks
                        .post(
                            &t.url,
                            &t.secret,
                            &row.event_type,
                            &row.id,
                            row.payload.clone(),
                            timestamp,
                        )
                        .await;
                    match sent {
                        Ok(()) => Outcome::Delivered,
                        Err(e) => Outcome::Failed(e),
                    }
                }
            },
        }
    }
}

/// One pass: claim what is due, deliver it, record the outcomes. Answers what was recorded.
pub async fn deliver_due(state: &AppState) -> Result<Recorded, AppError> {
    let notifier = state.notifier.clone();
    let now = state.clock.now();
    let channels = notifier.channels();
    let (batch, lease) = (notifier.batch, notifier.lease);
    let claimed = db::run(&state.pool, move |c| {
        outbox::claim(c, now, batch, lease, channels.clone())
    })
    .await?;
    if claimed.is_empty() {
        return Ok(Recorded::default());
    }
    let timestamp = chrono::Utc::now().timestamp();
    let outcomes = join_all(claimed.iter().map(|c| notifier.deliver(c, timestamp))).await;
    for (c, outcome) in claimed.iter().zip(&outcomes) {
        let channel = c.row.channel.as_str();
        match outcome {
            Outcome::Delivered => state.metrics.outbox_delivery(channel, "delivered"),
            Outcome::Failed(e) | Outcome::Undeliverable(e) => {
                tracing::warn!(message = %c.row.id, channel, attempt = c.row.attempts,
                    error = %e, "delivery failed");
                state.metrics.outbox_delivery(channel, "failed");
                let last = c.row.attempts >= notifier.retry.max_attempts;
                if last || matches!(outcome, Outcome::Undeliverable(_)) {
                    state.metrics.outbox_delivery(channel, "dead");
                }
            }
        }
    }
    let rows: Vec<_> = claimed.into_iter().map(|c| c.row).zip(outcomes).collect();
    let done = state.clock.now();
    let retry = notifier.retry;
    db::run(&state.pool, move |c| {
        outbox::record(c, rows.clone(), done, retry)
    })
    .await
}
