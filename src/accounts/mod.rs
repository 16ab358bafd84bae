//! Staff accounts, sign-in sessions, API clients and login throttling: the use-cases behind
//! `/auth`, `/me`, `/users` and `/api-clients`, written against a `DbConnection` and a time,
//! knowing nothing of HTTP.

pub mod api_clients;
pub mod sessions;
pub mod throttle;
pub mod users;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Stored timestamps are naive UTC; the API shows them with their offset.
pub fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
