//! Sign-in sessions: login, refresh-token rotation with reuse detection, logout, and the
//! per-request check of an access token.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::throttle::{self, ThrottlePolicy};
use super::users::{self as accounts_users, UserRow};
use crate::auth::tokens::{self, AccessClaims, JwtKeys};
use crate::auth::{RoleSet, UserPrincipal};
use crate::db::schema::{departments, refresh_tokens, sessions, users};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::{SessionId, UserId};

/// Where a login comes from, recorded on the session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// JWT to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token stays valid.
    pub expires_in: i64,
    /// Single-use token for `POST /api/v1/auth/refresh`.
    pub refresh_token: String,
    /// Seconds the refresh token stays valid.
    pub refresh_expires_in: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
struct NewSession<'a> {
    id: &'a str,
    user_id: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    client_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
struct NewRefreshToken<'a> {
    token_hash: &'a str,
    session_id: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
}

/// A refresh token with what deciding on it needs: session id, token expiry, token use,
/// user id, session revocation, account active.
type RefreshLookup = (
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    String,
    Option<NaiveDateTime>,
    bool,
);

pub struct SessionSettings<'a> {
    pub keys: &'a JwtKeys,
    pub refresh_ttl: Duration,
    pub throttle: &'a ThrottlePolicy,
}

fn invalid_credentials() -> AppError {
    AppError::unauthorized("invalid_credentials", "wrong username or password")
}

/// The first half of a login, before the password is checked: counts the attempt against the
/// account's and the address's throttle (429 once either is spent) and finds the account.
/// The caller checks the password with [`crate::auth::password::verify_or_dummy`] off the database, then
/// calls [`finish_login`].
pub fn begin_login(
    conn: &mut DbConnection,
    settings: &SessionSettings<'_>,
    username: &str,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> Result<Option<UserRow>, AppError> {
    let policy = settings.throttle;
    throttle::take_attempt(
        conn,
        &throttle_keys(settings, username, client),
        policy,
        now,
    )?;
    accounts_users::find_by_username(conn, username)
}

fn throttle_keys(
    settings: &SessionSettings<'_>,
    username: &str,
    client: &ClientInfo,
) -> Vec<(String, i32)> {
    let policy = settings.throttle;
    let mut keys = vec![(throttle::account_key(username), policy.max_per_account)];
    if let Some(address) = client.address.as_deref() {
        keys.push((throttle::address_key(address), policy.max_per_address));
    }
    keys
}

/// The second half: a wrong password, an unknown user and a disabled account all answer the
/// same `invalid_credentials` (a disabled account must not confirm its password); a right one
/// resets the account's count and opens a session.
pub fn finish_login(
    conn: &mut DbConnection,
    settings: &SessionSettings<'_>,
    username: &str,
    user: Option<UserRow>,
    verified: bool,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> Result<TokenPair, AppError> {
    let Some(user) = user.filter(|u| verified && u.active) else {
        tracing::info!(username, "failed login");
        let keys = throttle_keys(settings, username, client);
        throttle::failed(conn, &keys, settings.throttle, now)?;
        return Err(invalid_credentials());
    };
    let address_key = client.address.as_deref().map(throttle::address_key);
    throttle::succeeded(
        conn,
        &throttle::account_key(username),
        address_key.as_deref(),
    )?;

    let session_id = SessionId::generate();
    let refresh = tokens::new_refresh_token();
    let refresh_hash = tokens::token_hash(&refresh);
    let expires_at = now + settings.refresh_ttl;
    crate::db::write_tx(conn, |conn| {
        diesel::insert_into(sessions::table)
            .values(NewSession {
                id: session_id.as_str(),
                user_id: &user.id,
                created_at: now,
                expires_at,
                revoked_at: None,
                client_ip: client.address.as_deref(),
                user_agent: client.user_agent.as_deref(),
            })
            .execute(conn)?;
        diesel::insert_into(refresh_tokens::table)
            .values(NewRefreshToken {
                token_hash: &refresh_hash,
                session_id: session_id.as_str(),
                created_at: now,
                expires_at,
                used_at: None,
            })
            .execute(conn)?;
        Ok(())
    })?;
    tracing::info!(username, session = %session_id, "login");
    token_pair(settings, &UserId(user.id), &session_id, refresh, now)
}

fn token_pair(
    settings: &SessionSettings<'_>,
    user: &UserId,
    session: &SessionId,
    refresh_token: String,
    now: NaiveDateTime,
) -> Result<TokenPair, AppError> {
    Ok(TokenPair {
        access_token: settings.keys.issue_access(user, session, now)?,
        token_type: "Bearer",
        expires_in: settings.keys.access_ttl_seconds,
        refresh_token,
        refresh_expires_in: settings.refresh_ttl.num_seconds(),
    })
}

/// Exchanges a refresh token for a new pair. Each refresh token works once: presenting a used
/// one again means it was stolen or replayed, and ends the whole session.
pub fn refresh(
    conn: &mut DbConnection,
    settings: &SessionSettings<'_>,
    presented: &str,
    now: NaiveDateTime,
) -> Result<TokenPair, AppError> {
    let invalid =
        || AppError::unauthorized("invalid_refresh_token", "the refresh token is not valid");
    if !presented.starts_with(tokens::REFRESH_TOKEN_PREFIX) {
        return Err(invalid());
    }
    let hash = tokens::token_hash(presented);
    let result = crate::db::write_tx(conn, |conn| {
        let found: Option<RefreshLookup> = refresh_tokens::table
            .inner_join(sessions::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select((
                refresh_tokens::session_id,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
                sessions::user_id,
                sessions::revoked_at,
                users::active,
            ))
            .first(conn)
            .optional()?;
        let Some((session_id, expires_at, used_at, user_id, revoked_at, active)) = found else {
            return Err(invalid());
        };
        if used_at.is_some() {
            // Reuse: end the session so the thief's rotated token dies too.
            diesel::update(
                sessions::table
                    .find(&session_id)
                    .filter(sessions::revoked_at.is_null()),
            )
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?;
            note_change();
            return Ok(Err(AppError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; the session has been ended, log in again",
            )));
        }
        if revoked_at.is_some() || expires_at <= now || !active {
            return Err(invalid());
        }
        // Guarded update: of two concurrent refreshes with one token only one wins.
        let claimed = diesel::update(
            refresh_tokens::table
                .find(&hash)
                .filter(refresh_tokens::used_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)?;
        if claimed == 0 {
            return Err(invalid());
        }
        let new_token = tokens::new_refresh_token();
        let new_expiry = now + settings.refresh_ttl;
        diesel::insert_into(refresh_tokens::table)
            .values(NewRefreshToken {
                token_hash: &tokens::token_hash(&new_token),
                session_id: &session_id,
                created_at: now,
                expires_at: new_expiry,
                used_at: None,
            })
            .execute(conn)?;
        diesel::update(sessions::table.find(&session_id))
            .set(sessions::expires_at.eq(new_expiry))
            .execute(conn)?;
        Ok(Ok((UserId(user_id), SessionId(session_id), new_token)))
    })?;
    // The reuse branch commits the revocation and then reports the error; committed now, so
    // no principal cached meanwhile survives either
    if result.is_err() {
        note_change();
    }
    let (user, session, new_token) = result?;
    token_pair(settings, &user, &session, new_token, now)
}

/// Ends a session: its access and refresh tokens stop working at once.
pub fn logout(
    conn: &mut DbConnection,
    session: &SessionId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(
        sessions::table
            .find(session.as_str())
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    note_change();
    Ok(())
}

/// Changes to sessions and rights made by this process (logouts, revocations, user edits):
/// every one makes the principals cached before it stale at once (`PrincipalCache`).
static CHANGES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records that a session ended or a user's rights changed.
pub fn note_change() {
    CHANGES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

fn changes() -> u64 {
    CHANGES.load(std::sync::atomic::Ordering::SeqCst)
}

/// Authenticated principals by session, for `ttl`: a request within the time skips the session
/// query. A logout, revocation or user edit in this process empties it at once; one in another
/// instance (or by the command line) is honoured when the entry expires, within `ttl`
/// (`auth.session_cache_seconds`, default 5; 0 turns the cache off).
pub struct PrincipalCache {
    ttl: std::time::Duration,
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (UserPrincipal, std::time::Instant, u64)>,
    >,
}

impl PrincipalCache {
    pub fn new(ttl: std::time::Duration) -> PrincipalCache {
        PrincipalCache {
            ttl,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The cached principal of this session and user, if fresh.
    pub fn get(&self, claims: &AccessClaims) -> Option<UserPrincipal> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (principal, at, epoch) = entries.get(&claims.sid)?;
        (at.elapsed() < self.ttl && *epoch == changes() && principal.id.0 == claims.sub)
            .then(|| principal.clone())
    }

    /// Remembers a principal just read from the database; `epoch` is `epoch()` read before
    /// the read, so a change made meanwhile is not hidden.
    pub fn put(&self, principal: &UserPrincipal, epoch: u64) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= 10_000 {
                entries.clear();
            }
            entries.insert(
                principal.session_id.0.clone(),
                (principal.clone(), std::time::Instant::now(), epoch),
            );
        }
    }

    pub fn epoch() -> u64 {
        changes()
    }
}

/// Resolves verified access-token claims to the user, with one indexed query (session, user and
/// the user's department path): the session must be open and the account active.
pub fn authenticate(
    conn: &mut DbConnection,
    claims: &AccessClaims,
    now: NaiveDateTime,
) -> Result<UserPrincipal, AppError> {
    let found: Option<(
        UserRow,
        Option<NaiveDateTime>,
        NaiveDateTime,
        Option<String>,
    )> = sessions::table
        .inner_join(users::table.left_join(departments::table))
        .filter(sessions::id.eq(&claims.sid))
        .filter(users::id.eq(&claims.sub))
        .select((
            users::all_columns,
            sessions::revoked_at,
            sessions::expires_at,
            departments::path.nullable(),
        ))
        .first(conn)
        .optional()?;
    let revoked = || AppError::unauthorized("token_revoked", "the session has ended; log in again");
    let Some((user, revoked_at, expires_at, department_path)) = found else {
        return Err(revoked());
    };
    if revoked_at.is_some() || expires_at <= now {
        return Err(revoked());
    }
    if !user.active {
        return Err(AppError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    Ok(UserPrincipal {
        id: UserId(user.id),
        username: user.username,
        display_name: user.display_name,
        roles: RoleSet::from_db(&user.roles),
        department_id: user.department_id.map(crate::ids::DepartmentId),
        department_path,
        session_id: SessionId(claims.sid.clone()),
    })
}
