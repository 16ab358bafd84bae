//! The one application state shared by every handler (through `web::Data`): built once at
//! start, never re-read from disk or the environment per request.

use std::sync::Arc;

use chrono::Duration;

use crate::accounts::sessions::SessionSettings;
use crate::accounts::throttle::ThrottlePolicy;
use crate::auth::tokens::JwtKeys;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Pool;
use crate::http::metrics::Metrics;
use crate::notify::worker::Notifier;
use crate::tickets::TicketPolicy;

pub struct AppState {
    pub pool: Pool,
    /// The business calendar over the shipped year files (edits are read from the database).
    pub calendar: Calendar,
    pub settings: Arc<Settings>,
    pub keys: JwtKeys,
    pub clock: Clock,
    pub metrics: Metrics,
    pub throttle: ThrottlePolicy,
    pub tickets: TicketPolicy,
    /// Templates, the SMTP transport and the webhook client of the outbox worker.
    pub notifier: Arc<Notifier>,
    /// Recently authenticated principals (`auth.session_cache_seconds`).
    pub principals: Arc<crate::accounts::sessions::PrincipalCache>,
}

impl AppState {
    pub fn session_settings(&self) -> SessionSettings<'_> {
        SessionSettings {
            keys: &self.keys,
            refresh_ttl: Duration::seconds(self.settings.auth.refresh_token_ttl_seconds),
            throttle: &self.throttle,
        }
    }
}
