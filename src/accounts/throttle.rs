//! Failed-login throttling, per account and per client address. Kept in the database so that
//! every instance behind a load balancer sees the same counts.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::config::AuthSettings;
use crate::db::schema::login_throttle;
use crate::db::DbConnection;
use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    pub max_per_account: i32,
    pub max_per_address: i32,
    pub window: Duration,
    pub lockout: Duration,
}

impl From<&AuthSettings> for ThrottlePolicy {
    fn from(a: &AuthSettings) -> Self {
        ThrottlePolicy {
            max_per_account: a.max_failed_logins_per_account,
            max_per_address: a.max_failed_logins_per_address,
            window: Duration::seconds(a.failed_login_window_seconds),
            lockout: Duration::seconds(a.lockout_seconds),
        }
    }
}

#[derive(Debug, Queryable, Insertable)]
#[diesel(table_name = login_throttle)]
struct ThrottleRow {
    key: String,
    failures: i32,
    window_start: NaiveDateTime,
    locked_until: Option<NaiveDateTime>,
}

pub fn account_key(username: &str) -> String {
    format!("user:{username}")
}

pub fn address_key(address: &str) -> String {
    format!("ip:{address}")
}

/// If any of `keys` is locked now, the seconds until the last lock ends.
pub fn locked_for(
    conn: &mut DbConnection,
    keys: &[String],
    now: NaiveDateTime,
) -> Result<Option<u64>, AppError> {
    let until: Vec<Option<NaiveDateTime>> = login_throttle::table
        .filter(login_throttle::key.eq_any(keys))
        .select(login_throttle::locked_until)
        .load(conn)?;
    let latest = until.into_iter().flatten().filter(|t| *t > now).max();
    Ok(latest.map(|t| u64::try_from((t - now).num_seconds().max(1)).unwrap_or(1)))
}

/// Counts one failure for `key`; the failure that reaches `max` inside the window locks the key.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    max: i32,
    policy: &ThrottlePolicy,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    crate::db::write_tx(conn, |conn| {
        let existing: Option<ThrottleRow> =
            login_throttle::table.find(key).first(conn).optional()?;
        let (failures, window_start) = match &existing {
            Some(row) if now - row.window_start <= policy.window => {
                (row.failures + 1, row.window_start)
            }
            _ => (1, now),
        };
        let (failures, locked_until) = if failures >= max {
            (0, Some(now + policy.lockout))
        } else {
            (failures, existing.as_ref().and_then(|r| r.locked_until))
        };
        let row = ThrottleRow {
            key: key.to_string(),
            failures,
            window_start,
            locked_until,
        };
        if existing.is_some() {
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::failures.eq(row.failures),
                    login_throttle::window_start.eq(row.window_start),
                    login_throttle::locked_until.eq(row.locked_until),
                ))
                .execute(conn)?;
        } else {
            diesel::insert_into(login_throttle::table)
                .values(&row)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Forgets the failures of `key` (after a successful login).
pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), AppError> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}
