//! API clients: channel gateways (the WeChat mini-program backend, later Open311 clients) that
//! authenticate with a key instead of a password.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::utc;
use crate::auth::tokens;
use crate::auth::{ApiClientPrincipal, Scope};
use crate::db::schema::api_clients;
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::{ApiClientId, UserId};
use crate::pagination::{Page, PageRequest};

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = api_clients)]
struct ApiClientRow {
    id: String,
    name: String,
    key_prefix: String,
    key_hash: String,
    scopes: String,
    active: bool,
    created_by: Option<String>,
    created_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiClient {
    pub id: ApiClientId,
    pub name: String,
    /// The public part of the key (`hlk_<prefix>_...`), to recognise it in logs.
    pub key_prefix: String,
    pub scopes: Vec<Scope>,
    pub active: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Returned once, at creation: the only time the key is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClient,
    /// Send as `Authorization: Bearer <api_key>` or `X-Api-Key: <api_key>`. Not retrievable later.
    pub api_key: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    /// Unique, 3–64 characters.
    pub name: String,
    /// At least one scope.
    pub scopes: Vec<Scope>,
}

fn parse_scopes(s: &str) -> Vec<Scope> {
    s.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

impl From<ApiClientRow> for ApiClient {
    fn from(r: ApiClientRow) -> Self {
        ApiClient {
            id: ApiClientId(r.id),
            name: r.name,
            key_prefix: r.key_prefix,
            scopes: parse_scopes(&r.scopes),
            active: r.active,
            created_by: r.created_by.map(UserId),
            created_at: utc(r.created_at),
            last_used_at: r.last_used_at.map(utc),
        }
    }
}

pub fn create(
    conn: &mut DbConnection,
    input: NewApiClient,
    created_by: Option<&UserId>,
    now: NaiveDateTime,
) -> Result<CreatedApiClient, AppError> {
    let name = input.name.trim().to_string();
    if !(3..=64).contains(&name.chars().count()) {
        return Err(AppError::validation("name: 3-64 characters"));
    }
    if input.scopes.is_empty() {
        return Err(AppError::validation("scopes: give at least one scope"));
    }
    let mut scopes = input.scopes;
    scopes.sort();
    scopes.dedup();
    let (key, prefix) = tokens::new_api_key();
    let row = ApiClientRow {
        id: ApiClientId::generate().0,
        name,
        key_prefix: prefix,
        key_hash: tokens::token_hash(&key),
        scopes: scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        active: true,
        created_by: created_by.map(|u| u.0.clone()),
        created_at: now,
        last_used_at: None,
    };
    diesel::insert_into(api_clients::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Duplicate => AppError::conflict(
                "name_taken",
                format!("an API client named '{}' exists", row.name),
            ),
            other => other,
        })?;
    Ok(CreatedApiClient {
        client: row.into(),
        api_key: key,
    })
}

pub fn list(conn: &mut DbConnection, page: &PageRequest) -> Result<Page<ApiClient>, AppError> {
    let mut query = api_clients::table.into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(api_clients::id.gt(after.to_string()));
    }
    let rows: Vec<ApiClientRow> = query
        .order(api_clients::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(ApiClient::from))
}

pub fn get(conn: &mut DbConnection, id: &ApiClientId) -> Result<ApiClient, AppError> {
    api_clients::table
        .find(id.as_str())
        .first::<ApiClientRow>(conn)
        .optional()?
        .map(ApiClient::from)
        .ok_or_else(|| AppError::NotFound(format!("no API client with id {id}")))
}

pub fn id_by_name(conn: &mut DbConnection, name: &str) -> Result<ApiClientId, AppError> {
    api_clients::table
        .filter(api_clients::name.eq(name))
        .select(api_clients::id)
        .first::<String>(conn)
        .optional()?
        .map(ApiClientId)
        .ok_or_else(|| AppError::NotFound(format!("no API client named '{name}'")))
}

/// Enables or disables a client; a disabled client's key is refused at once.
pub fn set_active(
    conn: &mut DbConnection,
    id: &ApiClientId,
    active: bool,
) -> Result<ApiClient, AppError> {
    let changed = diesel::update(api_clients::table.find(id.as_str()))
        .set(api_clients::active.eq(active))
        .execute(conn)?;
    if changed == 0 {
        return Err(AppError::NotFound(format!("no API client with id {id}")));
    }
    get(conn, id)
}

/// Resolves a presented key. `last_used_at` is refreshed at most once a minute, so a busy
/// gateway does not turn every read into a write.
pub fn authenticate(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
) -> Result<ApiClientPrincipal, AppError> {
    let invalid = || AppError::unauthorized("invalid_api_key", "the API key is not valid");
    let prefix = tokens::api_key_prefix(key).ok_or_else(invalid)?;
    let row: ApiClientRow = api_clients::table
        .filter(api_clients::key_prefix.eq(prefix))
        .first(conn)
        .optional()?
        .ok_or_else(invalid)?;
    if row.key_hash != tokens::token_hash(key) {
        return Err(invalid());
    }
    if !row.active {
        return Err(AppError::unauthorized(
            "api_client_disabled",
            "this API client is disabled",
        ));
    }
    if row
        .last_used_at
        .is_none_or(|t| now - t > Duration::minutes(1))
    {
        diesel::update(api_clients::table.find(&row.id))
            .set(api_clients::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(ApiClientPrincipal {
        id: ApiClientId(row.id),
        name: row.name,
        scopes: parse_scopes(&row.scopes),
    })
}
