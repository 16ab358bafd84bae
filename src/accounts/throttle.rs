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

pub fn password_change_key(user_id: &str) -> String {
    format!("password:{user_id}")
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

fn too_many(wait: u64) -> AppError {
    AppError::TooManyRequests {
        message: format!("too many failed attempts; try again in {wait} seconds"),
        retry_after: wait,
    }
}

/// Counts one attempt against each `(key, max)` *before* the secret is checked, atomically on
/// both backends (one transaction; the counter moves by a single `UPDATE ... + 1`, which
/// concurrent requests queue on). The count holds the failures of the window plus the attempts
/// in flight, so of N parallel guesses at most `max` are ever checked: an attempt that would go
/// over is refused with 429 at once (not counted; `Retry-After: 1`, as it may be a burst of
/// good logins behind one address), and a locked key refuses until its lock ends. After the
/// check, call [`succeeded`] or [`failed`].
pub fn take_attempt(
    conn: &mut DbConnection,
    keys: &[(String, i32)],
    policy: &ThrottlePolicy,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    crate::db::write_tx(conn, |conn| {
        let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
        if let Some(wait) = locked_for(conn, &names, now)? {
            return Err(too_many(wait));
        }
        for (key, max) in keys {
            match increment(conn, key, policy, now)? {
                Some(n) if n <= *max => {}
                Some(_) => {
                    // the rest of the transaction (the other keys' counts) rolls back with this
                    return Err(AppError::TooManyRequests {
                        message: "too many attempts at once; try again in a moment".into(),
                        retry_after: 1,
                    });
                }
                None => {
                    let wait = locked_for(conn, std::slice::from_ref(key), now)?.unwrap_or(1);
                    return Err(too_many(wait));
                }
            }
        }
        Ok(())
    })
}

/// After a failed check: the attempt stays counted, and a key whose count has reached its limit
/// is locked for `policy.lockout`.
pub fn failed(
    conn: &mut DbConnection,
    keys: &[(String, i32)],
    policy: &ThrottlePolicy,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    for (key, max) in keys {
        diesel::update(
            login_throttle::table
                .find(key)
                .filter(login_throttle::failures.ge(*max)),
        )
        .set((
            login_throttle::failures.eq(0),
            login_throttle::window_start.eq(now),
            login_throttle::locked_until.eq(Some(now + policy.lockout)),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Adds one to the key's count in its window; `None` when the key is locked.
fn increment(
    conn: &mut DbConnection,
    key: &str,
    policy: &ThrottlePolicy,
    now: NaiveDateTime,
) -> Result<Option<i32>, AppError> {
    let not_locked = login_throttle::locked_until
        .is_null()
        .or(login_throttle::locked_until.le(now));
    // a window that has run out starts again
    diesel::update(
        login_throttle::table
            .find(key)
            .filter(login_throttle::window_start.lt(now - policy.window)),
    )
    .set((
        login_throttle::failures.eq(0),
        login_throttle::window_start.eq(now),
    ))
    .execute(conn)?;
    let bump = |conn: &mut DbConnection| -> Result<Option<i32>, AppError> {
        Ok(
            diesel::update(login_throttle::table.find(key).filter(not_locked))
                .set(login_throttle::failures.eq(login_throttle::failures + 1))
                .returning(login_throttle::failures)
                .get_result::<i32>(conn)
                .optional()?,
        )
    };
    if let Some(n) = bump(conn)? {
        return Ok(Some(n));
    }
    let exists: i64 = login_throttle::table
        .filter(login_throttle::key.eq(key))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(None); // locked
    }
    let inserted = conn.transaction(|c| {
        diesel::insert_into(login_throttle::table)
            .values(ThrottleRow {
                key: key.to_string(),
                failures: 1,
                window_start: now,
                locked_until: None,
            })
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(Some(1)),
        // a concurrent first attempt created the row: count on it
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => bump(conn),
        Err(e) => Err(e.into()),
    }
}

/// After a successful check: the account's (or password change's) count starts again, and the
/// address gets its attempt back.
pub fn succeeded(
    conn: &mut DbConnection,
    cleared: &str,
    refunded: Option<&str>,
) -> Result<(), AppError> {
    diesel::delete(login_throttle::table.find(cleared)).execute(conn)?;
    if let Some(key) = refunded {
        diesel::update(
            login_throttle::table
                .find(key)
                .filter(login_throttle::failures.gt(0)),
        )
        .set(login_throttle::failures.eq(login_throttle::failures - 1))
        .execute(conn)?;
    }
    Ok(())
}
