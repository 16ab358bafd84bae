//! Background loops of a `serve` process. Today: the deadline sweeper, which records one
//! `warning` event per ticket, step and level (yellow, then red) when it comes due — exactly
//! once, however many instances run on one database. The loops live on the server's runtime and
//! end with it (SIGTERM stops the server, then the runtime).

use std::time::Duration;

use actix_web::web;

use crate::db;
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
