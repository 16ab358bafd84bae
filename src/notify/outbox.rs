//! The outbox table: written with the event, claimed by one worker at a time, its outcome
//! recorded; listed, inspected and re-sent by admins.
//!
//! Claiming is exactly-once across instances: on PostgreSQL the due rows are selected
//! `FOR UPDATE SKIP LOCKED` (two workers never wait on, or take, the same row); on SQLite the
//! write transaction holds the database's write lock. The claim marks the row `sending` with a
//! lease (its `next_attempt_at`); a worker that dies mid-delivery leaves the row to be claimed
//! again when the lease ends. Outcomes are recorded only by the claim that is still current
//! (same `attempts`), so a late answer from an expired claim cannot undo a newer one.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::EventType;
use crate::accounts::utc;
use crate::db::schema::{outbox, webhook_subscriptions};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::pagination::{Page, PageParams};
use crate::tickets::model::TicketRow;
use crate::vocab::{DeliveryChannel, OutboxState};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
pub struct OutboxRow {
    pub id: String,
    pub channel: DeliveryChannel,
    pub event_type: String,
    pub template: Option<String>,
    pub recipient: String,
    pub ticket_id: Option<String>,
    pub payload: String,
    pub state: OutboxState,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// A message to write.
#[derive(Debug, Clone)]
pub struct NewMessage {
    channel: DeliveryChannel,
    event_type: String,
    template: Option<String>,
    recipient: String,
    ticket_id: Option<String>,
    payload: Value,
    dedupe_key: Option<String>,
}

impl NewMessage {
    /// An e-mail: `template` rendered with `context` at delivery.
    pub fn email(
        event_type: &str,
        template: &str,
        to: &str,
        ticket_id: Option<&str>,
        context: Value,
    ) -> NewMessage {
        NewMessage {
            channel: DeliveryChannel::Email,
            event_type: event_type.to_string(),
            template: Some(template.to_string()),
            recipient: to.to_string(),
            ticket_id: ticket_id.map(str::to_string),
            payload: context,
            dedupe_key: None,
        }
    }

    /// A webhook POST of `body` to subscription `subscription`.
    pub fn webhook(
        event: EventType,
        subscription: &str,
        ticket: &TicketRow,
        body: Value,
    ) -> NewMessage {
        NewMessage {
            channel: DeliveryChannel::Webhook,
            event_type: event.as_str().to_string(),
            template: None,
            recipient: subscription.to_string(),
            ticket_id: Some(ticket.id.clone()),
            payload: body,
            dedupe_key: None,
        }
    }

    /// Written at most once, however often it is asked for (a daily digest).
    pub fn once(mut self, key: String) -> NewMessage {
        self.dedupe_key = Some(key);
        self
    }
}

/// Writes messages in the caller's transaction; those with a dedupe key already written are
/// skipped. The row's id is also the webhook's idempotency id (`id` in the body).
pub fn insert(
    conn: &mut DbConnection,
    messages: Vec<NewMessage>,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    for m in messages {
        let id = db::new_id();
        let mut payload = m.payload;
        if m.channel == DeliveryChannel::Webhook {
            payload["id"] = Value::String(id.clone());
        }
        let row = OutboxRow {
            id,
            channel: m.channel,
            event_type: m.event_type,
            template: m.template,
            recipient: m.recipient,
            ticket_id: m.ticket_id,
            payload: payload.to_string(),
            state: OutboxState::Queued,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            dedupe_key: m.dedupe_key,
            created_at: now,
            updated_at: now,
            delivered_at: None,
        };
        if row.dedupe_key.is_some() {
            db::insert_unless_duplicate(conn, |c| {
                Ok(db::Cached(diesel::insert_into(outbox::table).values(&row)).execute(c)?)
            })?;
        } else {
            db::Cached(diesel::insert_into(outbox::table).values(&row)).execute(conn)?;
        }
    }
    Ok(())
}

/// A claimed webhook's target, read at delivery (a rotated secret signs from then on).
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub secret: String,
    pub active: bool,
}

/// A row claimed for delivery, with its webhook target (`None`: e-mail, or a deleted
/// subscription).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub row: OutboxRow,
    pub target: Option<Target>,
}

/// Claims up to `batch` due rows of `channels` for `lease` and counts the attempt.
pub fn claim(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    batch: i64,
    lease: Duration,
    channels: Vec<DeliveryChannel>,
) -> Result<Vec<Claimed>, AppError> {
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    db::write_tx(conn, |conn| {
        let due = outbox::table
            .filter(outbox::state.eq_any([
                OutboxState::Queued,
                OutboxState::Retrying,
                OutboxState::Sending,
            ]))
            .filter(outbox::next_attempt_at.le(now))
            .filter(outbox::channel.eq_any(channels))
            .order(outbox::next_attempt_at.asc())
            .limit(batch.max(1))
            .select(outbox::id);
        let ids: Vec<String> = if let DbConnection::Pg(pg) = conn {
            due.for_update().skip_locked().load(pg)?
        } else {
            due.load(conn)?
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set((
                outbox::state.eq(OutboxState::Sending),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::next_attempt_at.eq(now + lease),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?;
        let rows: Vec<OutboxRow> = outbox::table
            .filter(outbox::id.eq_any(&ids))
            .order(outbox::next_attempt_at.asc())
            .load(conn)?;
        let subscriptions: Vec<String> = rows
            .iter()
            .filter(|r| r.channel == DeliveryChannel::Webhook)
            .map(|r| r.recipient.clone())
            .collect();
        let targets: Vec<(String, String, String, bool)> = if subscriptions.is_empty() {
            Vec::new()
        } else {
            webhook_subscriptions::table
                .filter(webhook_subscriptions::id.eq_any(&subscriptions))
                .select((
                    webhook_subscriptions::id,
                    webhook_subscriptions::url,
                    webhook_subscriptions::secret,
                    webhook_subscriptions::active,
                ))
                .load(conn)?
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let target = (row.channel == DeliveryChannel::Webhook)
                    .then(|| targets.iter().find(|t| t.0 == row.recipient))
                    .flatten()
                    .map(|(_, url, secret, active)| Target {
                        url: url.clone(),
                        secret: secret.clone(),
                        active: *active,
                    });
                Claimed { row, target }
            })
            .collect())
    })
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another attempt (a timeout, a 5xx, the SMTP server down).
    Failed(String),
    /// No attempt can succeed (a deleted subscription, a template that does not render).
    Undeliverable(String),
}

/// The retry schedule: the waits grow as `base * 2^(n-1)` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), without jitter.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exponent = u32::try_from(attempt.clamp(1, 31) - 1).unwrap_or(0);
        let factor = 2i64.saturating_pow(exponent);
        let seconds = self.base.num_seconds().saturating_mul(factor);
        Duration::seconds(seconds.min(self.max.num_seconds()))
    }

    /// The wait with "equal jitter": between half and all of the backoff, so that messages
    /// failing together do not retry together.
    pub fn jittered(&self, attempt: i32) -> Duration {
        let full = self.backoff(attempt).num_milliseconds().max(2);
        let half = full / 2;
        Duration::milliseconds(half + rand::thread_rng().gen_range(0..=half))
    }
}

/// What a pass recorded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

/// Records the outcomes of claimed rows; a row whose claim is no longer current is left alone.
pub fn record(
    conn: &mut DbConnection,
    outcomes: Vec<(OutboxRow, Outcome)>,
    now: NaiveDateTime,
    policy: RetryPolicy,
) -> Result<Recorded, AppError> {
    let mut recorded = Recorded::default();
    db::write_tx(conn, |conn| {
        for (row, outcome) in outcomes {
            let current = outbox::table
                .find(&row.id)
                .filter(outbox::state.eq(OutboxState::Sending))
                .filter(outbox::attempts.eq(row.attempts));
            let changed = match &outcome {
                Outcome::Delivered => diesel::update(current)
                    .set((
                        outbox::state.eq(OutboxState::Delivered),
                        outbox::delivered_at.eq(Some(now)),
                        outbox::updated_at.eq(now),
                    ))
                    .execute(conn)?,
                Outcome::Failed(error) if row.attempts < policy.max_attempts => {
                    diesel::update(current)
                        .set((
                            outbox::state.eq(OutboxState::Retrying),
                            outbox::next_attempt_at.eq(now + policy.jittered(row.attempts)),
                            outbox::last_error.eq(Some(truncate(error))),
                            outbox::updated_at.eq(now),
                        ))
                        .execute(conn)?
                }
                Outcome::Failed(error) | Outcome::Undeliverable(error) => diesel::update(current)
                    .set((
                        outbox::state.eq(OutboxState::Dead),
                        outbox::last_error.eq(Some(truncate(error))),
                        outbox::updated_at.eq(now),
                    ))
                    .execute(conn)?,
            };
            if changed == 1 {
                match outcome {
                    Outcome::Delivered => recorded.delivered += 1,
                    Outcome::Failed(_) if row.attempts < policy.max_attempts => {
                        recorded.failed += 1
                    }
                    _ => {
                        recorded.failed += 1;
                        recorded.dead += 1;
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(recorded)
}

fn truncate(error: &str) -> String {
    error.chars().take(1000).collect()
}

// ---- the admin API --------------------------------------------------------------------------

/// One message as admins see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    /// Also the idempotency id a webhook receiver sees (`X-Hotline-Delivery`).
    pub id: String,
    pub channel: DeliveryChannel,
    pub event_type: String,
    /// The e-mail template.
    pub template: Option<String>,
    /// The e-mail address, or the webhook subscription id.
    pub recipient: String,
    pub ticket_id: Option<String>,
    pub state: OutboxState,
    pub attempts: i32,
    /// When the next attempt is due (queued, retrying), or the claim ends (sending).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The template context (e-mail) or the body (webhook); in the single-message answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

impl Message {
    fn from_row(row: OutboxRow, with_payload: bool) -> Message {
        let pending = matches!(
            row.state,
            OutboxState::Queued | OutboxState::Retrying | OutboxState::Sending
        );
        Message {
            payload: with_payload.then(|| serde_json::from_str(&row.payload).unwrap_or_default()),
            id: row.id,
            channel: row.channel,
            event_type: row.event_type,
            template: row.template,
            recipient: row.recipient,
            ticket_id: row.ticket_id,
            state: row.state,
            attempts: row.attempts,
            next_attempt_at: pending.then(|| utc(row.next_attempt_at)),
            last_error: row.last_error,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            delivered_at: row.delivered_at.map(utc),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    pub state: Option<OutboxState>,
    pub channel: Option<DeliveryChannel>,
    pub ticket_id: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Messages, newest first, by state, channel and ticket.
pub fn list(conn: &mut DbConnection, filter: ListFilter) -> Result<Page<Message>, AppError> {
    let page = PageParams {
        limit: filter.limit,
        cursor: filter.cursor,
    }
    .validate()?;
    let mut query = outbox::table.into_boxed();
    if let Some(state) = filter.state {
        query = query.filter(outbox::state.eq(state));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(outbox::channel.eq(channel));
    }
    if let Some(ticket) = filter.ticket_id {
        query = query.filter(outbox::ticket_id.eq(ticket));
    }
    if let Some(after) = page.after_key()? {
        query = query.filter(outbox::id.lt(after.to_string()));
    }
    let rows: Vec<OutboxRow> = query
        .order(outbox::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, &page, |r| vec![r.id.clone()]).map(|r| Message::from_row(r, false)))
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Message, AppError> {
    outbox::table
        .find(id)
        .first::<OutboxRow>(conn)
        .optional()?
        .map(|r| Message::from_row(r, true))
        .ok_or_else(|| AppError::NotFound(format!("no outbox message with id {id}")))
}

/// What to re-send: the given ids, or every message in one state.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// At most 1,000 ids.
    pub ids: Option<Vec<String>>,
    /// Every message in this state (`dead` or `retrying`).
    pub state: Option<OutboxState>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resent {
    /// Messages queued again for delivery now.
    pub queued: usize,
}

/// Queues messages again for delivery now with fresh attempts (a message being sent at this
/// moment is left alone). A re-sent webhook keeps its idempotency id.
pub fn resend(
    conn: &mut DbConnection,
    request: ResendRequest,
    now: NaiveDateTime,
) -> Result<Resent, AppError> {
    let target = outbox::table
        .filter(outbox::state.ne(OutboxState::Sending))
        .into_boxed();
    let target = match (request.ids, request.state) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > 1000 {
                return Err(AppError::validation("ids: give 1 to 1,000 message ids"));
            }
            target.filter(outbox::id.eq_any(ids))
        }
        (None, Some(state @ (OutboxState::Dead | OutboxState::Retrying))) => {
            target.filter(outbox::state.eq(state))
        }
        (None, Some(state)) => {
            return Err(AppError::validation(format!(
                "state: only dead or retrying messages are re-sent by state, not {state}"
            )))
        }
        _ => return Err(AppError::validation("give either ids or state")),
    };
    let ids: Vec<String> = target.select(outbox::id).load(conn)?;
    let queued = db::write_tx(conn, |conn| {
        let mut queued = 0;
        for chunk in ids.chunks(500) {
            queued += diesel::update(
                outbox::table
                    .filter(outbox::id.eq_any(chunk))
                    .filter(outbox::state.ne(OutboxState::Sending)),
            )
            .set((
                outbox::state.eq(OutboxState::Queued),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?;
        }
        Ok(queued)
    })?;
    Ok(Resent { queued })
}

/// Re-sends one message (404 when unknown, 409 while it is being sent).
pub fn resend_one(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<Message, AppError> {
    let current = get(conn, id)?;
    if current.state == OutboxState::Sending {
        return Err(AppError::conflict(
            "being_sent",
            "the message is being delivered right now; look again in a moment",
        ));
    }
    resend(
        conn,
        ResendRequest {
            ids: Some(vec![id.to_string()]),
            state: None,
        },
        now,
    )?;
    get(conn, id)
}

/// Counts by state and the age of the oldest undelivered message.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Stats {
    pub queued: i64,
    pub sending: i64,
    pub retrying: i64,
    pub delivered: i64,
    pub dead: i64,
    /// Seconds since the oldest queued or retrying message was written (0 when none).
    pub oldest_pending_seconds: i64,
}

/// `with_delivered`: also count the delivered rows (the admin API; the metrics scrape leaves them
/// out and reads the process's delivery counter instead, so a scrape never scans the history).
pub fn stats(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    with_delivered: bool,
) -> Result<Stats, AppError> {
    use diesel::dsl::{count_star, min};
    let mut counts = outbox::table
        .group_by(outbox::state)
        .select((outbox::state, count_star()))
        .into_boxed();
    if !with_delivered {
        counts = counts.filter(outbox::state.ne(OutboxState::Delivered));
    }
    let counts: Vec<(OutboxState, i64)> = counts.load(conn)?;
    let oldest: Option<NaiveDateTime> = outbox::table
        .filter(outbox::state.eq_any([OutboxState::Queued, OutboxState::Retrying]))
        .select(min(outbox::created_at))
        .first(conn)?;
    let mut s = Stats {
        oldest_pending_seconds: oldest.map_or(0, |t| (now - t).num_seconds().max(0)),
        ..Stats::default()
    };
    for (state, n) in counts {
        match state {
            OutboxState::Queued => s.queued = n,
            OutboxState::Sending => s.sending = n,
            OutboxState::Retrying => s.retrying = n,
            OutboxState::Delivered => s.delivered = n,
            OutboxState::Dead => s.dead = n,
        }
    }
    Ok(s)
}

/// Deletes delivered messages older than `keep` (at most `batch` per call): the outbox is a queue,
/// not an archive (the event log keeps what happened). Answers the rows deleted.
pub fn prune(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    keep: Duration,
    batch: i64,
) -> Result<usize, AppError> {
    let old: Vec<String> = outbox::table
        .filter(outbox::state.eq(OutboxState::Delivered))
        .filter(outbox::delivered_at.lt(now - keep))
        .select(outbox::id)
        .limit(batch)
        .load(conn)?;
    if old.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(
        outbox::table
            .filter(outbox::id.eq_any(&old))
            .filter(outbox::state.eq(OutboxState::Delivered)),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_inside() {
        let p = RetryPolicy {
            max_attempts: 8,
            base: Duration::seconds(30),
            max: Duration::seconds(3600),
        };
        let waits: Vec<i64> = (1..=9).map(|n| p.backoff(n).num_seconds()).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        for n in 1..=9 {
            let j = p.jittered(n).num_milliseconds();
            let full = p.backoff(n).num_milliseconds();
            assert!(j >= full / 2 && j <= full, "{n}: {j} of {full}");
        }
    }
}
