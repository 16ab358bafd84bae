//! Background loops of a `serve` process, each safe to run in every instance at once:
//! - the deadline sweeper records one `warning` event per ticket, step and level (yellow, then
//!   red) when it comes due — exactly once, however many instances run on one database;
//! - the outbox worker delivers the messages events cause (e-mail, webhooks), each claimed by one
//!   worker, retried with backoff (`notify::worker`);
//! - the digest clock writes the departments' daily digest once per day (`notify::digest`);
//! - ledger export jobs run as soon as they are requested, in the process that accepted them;
//!   the export clock restarts stranded ones (a crashed process) and removes expired files.
//!
//! The loops live on the server's runtime and end with it (SIGTERM stops the server, then the
//! runtime). An error is logged and the loop tries again at its next tick.

use std::time::Duration;

use actix_web::web;

use crate::db;
use crate::notify;
use crate::state::AppState;
use crate::tickets::deadlines;

/// Starts the sweeper on the current actix runtime, one pass every `interval`.
pub fn spawn_sweeper(state: web::Data<AppState>, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            ticker.tick().await;
            let now = state.clock.now();
            let batch = state.settings.jobs.sweep_batch;
            match db::run(&state.pool, move |c| deadlines::sweep(c, now, batch)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(warnings = n, "deadline sweep recorded warnings"),
                Err(e) => tracing::warn!(error = %e, "deadline sweep failed; retrying next tick"),
            }
        }
    });
}

/// Starts the outbox worker: a pass every `interval`, and at once again while passes find a
/// full batch (a backlog drains at full speed).
pub fn spawn_outbox_worker(state: web::Data<AppState>, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            ticker.tick().await;
            loop {
                match notify::worker::deliver_due(&state).await {
                    Ok(r) if r.delivered + r.failed == 0 => break,
                    Ok(r) => {
                        tracing::debug!(delivered = r.delivered, failed = r.failed, "outbox pass");
                        let full = i64::try_from(r.delivered + r.failed)
                            .is_ok_and(|n| n >= state.notifier.batch);
                        if !full {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox pass failed; retrying next tick");
                        break;
                    }
                }
            }
        }
    });
}

/// Starts the outbox's minute clock: writes the day's digest when its time has come (if
/// `digest_time` is set), and deletes delivered messages past their retention.
pub fn spawn_outbox_clock(state: web::Data<AppState>) {
    // empty: no digest (validated at start)
    let at =
        chrono::NaiveTime::parse_from_str(&state.settings.notifications.digest_time, "%H:%M").ok();
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(Duration::from_secs(60));
        let keep = chrono::Duration::days(state.settings.notifications.retention_days);
        loop {
            ticker.tick().await;
            let now = state.clock.now();
            let tz = state.calendar.time_zone();
            if let Some(at) = at {
                let written = db::run(&state.pool, move |c| {
                    notify::digest::run_if_due(c, now, tz, at)
                });
                match written.await {
                    Ok(Some(n)) => tracing::info!(messages = n, "daily digest written"),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "daily digest failed; retrying next tick"),
                }
            }
            let pruned = db::run(&state.pool, move |c| {
                notify::outbox::prune(c, now, keep, 10_000)
            });
            match pruned.await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "old delivered outbox messages deleted"),
                Err(e) => tracing::warn!(error = %e, "outbox pruning failed; retrying next tick"),
            }
        }
    });
}

/// Runs ledger export job `id` now, off the async workers, in this process.
pub fn start_export(state: web::Data<AppState>, id: String) {
    actix_web::rt::spawn(async move { run_export(&state, id).await });
}

async fn run_export(state: &AppState, id: String) {
    let tz = state.calendar.time_zone();
    let dir = state.settings.data_dir.join("exports");
    let clock = state.clock.clone();
    let job = id.clone();
    let ran = db::run(&state.pool, move |c| {
        crate::stats::exports::run(c, &job, tz, &dir, &|| clock.now())
    });
    match ran.await {
        Ok(true) => tracing::info!(export = %id, "ledger export finished"),
        Ok(false) => {}
        Err(e) => tracing::warn!(export = %id, error = %e, "ledger export failed"),
    }
}

/// Every minute: restarts export jobs whose process died, and removes files past retention.
pub fn spawn_export_clock(state: web::Data<AppState>) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(Duration::from_secs(60));
        let keep = chrono::Duration::hours(state.settings.jobs.export_retention_hours);
        loop {
            ticker.tick().await;
            let now = state.clock.now();
            match db::run(&state.pool, move |c| {
                crate::stats::exports::stranded(c, now)
            })
            .await
            {
                Ok(ids) => {
                    for id in ids {
                        run_export(&state, id).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "export recovery failed; retrying next tick"),
            }
            let dir = state.settings.data_dir.join("exports");
            match db::run(&state.pool, move |c| {
                crate::stats::exports::prune(c, &dir, now, keep)
            })
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "expired ledger exports removed"),
                Err(e) => tracing::warn!(error = %e, "export pruning failed; retrying next tick"),
            }
        }
    });
}
