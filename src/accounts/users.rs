//! Staff accounts.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::utc;
use crate::auth::{password, Role, RoleSet, UserPrincipal};
use crate::db::schema::{sessions, users};
use crate::db::DbConnection;
use crate::error::AppError;
use crate::ids::{DepartmentId, UserId};
use crate::pagination::{Page, PageRequest};

#[derive(Debug, Clone, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub roles: String,
    pub active: bool,
    pub department_id: Option<String>,
    pub password_changed_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A staff account as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    pub active: bool,
    /// The department a `department_staff` / `department_admin` works in.
    pub department_id: Option<DepartmentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            username: r.username,
            display_name: r.display_name,
            email: r.email,
            roles: RoleSet::from_db(&r.roles).to_vec(),
            active: r.active,
            department_id: r.department_id.map(DepartmentId),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 3–64 characters: lower-case letters, digits, `.`, `_`, `-`.
    pub username: String,
    /// Shown in the ticket history; defaults to the username.
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// At least 10 characters.
    pub password: String,
    /// At least one role.
    pub roles: Vec<Role>,
    /// Required for department roles.
    #[serde(default)]
    pub department_id: Option<DepartmentId>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub roles: Option<Vec<Role>>,
    /// `false` disables the account and ends all its sessions at once.
    pub active: Option<bool>,
    /// Moves the user to another department (`null`: none).
    #[serde(default, deserialize_with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub department_id: Option<Option<DepartmentId>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub department_id: Option<DepartmentId>,
}

pub const MAX_USERNAME_CHARS: usize = 64;

pub fn validate_username(username: &str) -> Result<(), AppError> {
    let ok_len = (3..=MAX_USERNAME_CHARS).contains(&username.len());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(AppError::validation(
            "username: 3-64 characters of lower-case letters, digits, '.', '_' or '-'",
        ))
    }
}

fn validate_display_name(name: &str) -> Result<(), AppError> {
    crate::validate::name("display_name", name, 100)
}

fn validate_email(email: &str) -> Result<(), AppError> {
    crate::validate::email("email", email)
}

/// Roles a department admin may grant within their own department.
const DEPARTMENT_ROLES: [Role; 2] = [Role::DepartmentStaff, Role::DepartmentAdmin];

/// Who may manage an account: admins any; a department admin only accounts of their own
/// department whose roles are all department roles (`current_roles`, for an existing account),
/// and may grant only department roles (`granted_roles`). Anyone else gets 403.
pub fn authorize_manage(
    actor: &UserPrincipal,
    department: Option<&DepartmentId>,
    granted_roles: Option<&[Role]>,
    current_roles: Option<&[Role]>,
) -> Result<(), AppError> {
    if actor.roles.contains(Role::Admin) {
        return Ok(());
    }
    if !actor.roles.contains(Role::DepartmentAdmin) {
        return Err(AppError::Forbidden(
            "managing accounts needs the admin or department_admin role".into(),
        ));
    }
    if actor.department_id.is_none() || department != actor.department_id.as_ref() {
        return Err(AppError::Forbidden(
            "department admins manage the accounts of their own department only".into(),
        ));
    }
    if granted_roles.is_some_and(|roles| roles.iter().any(|r| !DEPARTMENT_ROLES.contains(r))) {
        return Err(AppError::Forbidden(
            "department admins grant only department_staff and department_admin".into(),
        ));
    }
    if current_roles.is_some_and(|roles| roles.iter().any(|r| !DEPARTMENT_ROLES.contains(r))) {
        return Err(AppError::Forbidden(
            "department admins manage only accounts whose roles are all department roles".into(),
        ));
    }
    Ok(())
}

/// Department roles need a department, and the department must exist.
fn check_department(
    conn: &mut DbConnection,
    roles: &RoleSet,
    department: Option<&DepartmentId>,
) -> Result<(), AppError> {
    let needs = roles.contains(Role::DepartmentStaff) || roles.contains(Role::DepartmentAdmin);
    match department {
        Some(d) => crate::org::referenced(conn, "department_id", d).map(|_| ()),
        None if needs => Err(AppError::validation(
            "department_id: department_staff and department_admin users belong to a department",
        )),
        None => Ok(()),
    }
}

fn role_set(roles: &[Role]) -> Result<RoleSet, AppError> {
    let set = RoleSet::new(roles.iter().copied());
    if set.is_empty() {
        return Err(AppError::validation("roles: give at least one role"));
    }
    Ok(set)
}

/// Creates an account. The caller has checked the password policy if it wants it enforced
/// (`create` does), and hashing happens here, before any row is written.
pub fn create(
    conn: &mut DbConnection,
    input: NewUser,
    now: NaiveDateTime,
) -> Result<User, AppError> {
    validate_username(&input.username)?;
    password::check_policy(&input.password, &[&input.username])?;
    let display_name = input.display_name.unwrap_or_else(|| input.username.clone());
    validate_display_name(&display_name)?;
    if let Some(email) = &input.email {
        validate_email(email)?;
    }
    let roles = role_set(&input.roles)?;
    check_department(conn, &roles, input.department_id.as_ref())?;
    let row = UserRow {
        id: UserId::generate().0,
        username: input.username,
        display_name,
        email: input.email,
        password_hash: password::hash(&input.password)?,
        roles: roles.to_db(),
        active: true,
        department_id: input.department_id.map(|d| d.0),
        password_changed_at: now,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| match AppError::from(e) {
            AppError::Duplicate => AppError::conflict(
                "username_taken",
                format!("the username '{}' is taken", row.username),
            ),
            other => other,
        })?;
    Ok(row.into())
}

pub fn find_by_username(
    conn: &mut DbConnection,
    username: &str,
) -> Result<Option<UserRow>, AppError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .first::<UserRow>(conn)
        .optional()?)
}

fn find_row(conn: &mut DbConnection, id: &UserId) -> Result<UserRow, AppError> {
    users::table
        .find(id.as_str())
        .first::<UserRow>(conn)
        .optional()?
        .ok_or_else(|| AppError::NotFound(format!("no user with id {id}")))
}

pub fn get(conn: &mut DbConnection, id: &UserId) -> Result<User, AppError> {
    find_row(conn, id).map(User::from)
}

pub fn id_by_username(conn: &mut DbConnection, username: &str) -> Result<UserId, AppError> {
    find_by_username(conn, username)?
        .map(|r| UserId(r.id))
        .ok_or_else(|| AppError::NotFound(format!("no user named '{username}'")))
}

/// Lists accounts in creation order.
pub fn list(
    conn: &mut DbConnection,
    filter: &UserFilter,
    page: &PageRequest,
) -> Result<Page<User>, AppError> {
    let mut query = users::table.into_boxed();
    if let Some(after) = page.after_key()? {
        query = query.filter(users::id.gt(after.to_string()));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(department) = &filter.department_id {
        query = query.filter(users::department_id.eq(department.0.clone()));
    }
    if let Some(role) = filter.role {
        // roles is a short comma-separated list; match a whole element
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(',' || roles || ',') LIKE ")
                .bind::<diesel::sql_types::Text, _>(format!("%,{},%", role.as_str())),
        );
    }
    let rows: Vec<UserRow> = query
        .order(users::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| vec![r.id.clone()]).map(User::from))
}

/// Applies changes; disabling an account also ends its sessions, in the same transaction.
pub fn update(
    conn: &mut DbConnection,
    id: &UserId,
    changes: UserChanges,
    now: NaiveDateTime,
) -> Result<User, AppError> {
    // roles, department or status may change: cached principals are stale
    crate::accounts::sessions::note_change();
    if let Some(name) = &changes.display_name {
        validate_display_name(name)?;
    }
    if let Some(email) = &changes.email {
        validate_email(email)?;
    }
    let roles = changes.roles.as_deref().map(role_set).transpose()?;
    crate::db::write_tx(conn, |conn| {
        let mut row = find_row(conn, id)?;
        if let Some(name) = changes.display_name {
            row.display_name = name;
        }
        if let Some(email) = changes.email {
            row.email = Some(email);
        }
        if let Some(roles) = roles {
            row.roles = roles.to_db();
        }
        if let Some(department) = changes.department_id {
            row.department_id = department.map(|d| d.0);
        }
        let department = row.department_id.clone().map(DepartmentId);
        check_department(conn, &RoleSet::from_db(&row.roles), department.as_ref())?;
        if let Some(active) = changes.active {
            if row.active && !active {
                revoke_all_sessions(conn, id, now)?;
            }
            row.active = active;
        }
        row.updated_at = now;
        diesel::update(users::table.find(id.as_str()))
            .set(&row)
            .execute(conn)?;
        Ok(row.into())
    })
}

/// Sets a new password and ends every session of the account.
pub fn set_password(
    conn: &mut DbConnection,
    id: &UserId,
    new_password: &str,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let username = find_row(conn, id)?.username;
    password::check_policy(new_password, &[&username])?;
    let hash = password::hash(new_password)?;
    crate::db::write_tx(conn, |conn| {
        let changed = diesel::update(users::table.find(id.as_str()))
            .set((
                users::password_hash.eq(&hash),
                users::password_changed_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Err(AppError::NotFound(format!("no user with id {id}")));
        }
        revoke_all_sessions(conn, id, now)
    })
}

/// The stored hash, for a user proving they know their current password.
pub fn password_hash(conn: &mut DbConnection, id: &UserId) -> Result<String, AppError> {
    Ok(find_row(conn, id)?.password_hash)
}

pub fn revoke_all_sessions(
    conn: &mut DbConnection,
    id: &UserId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    crate::accounts::sessions::note_change();
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(id.as_str()))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// On a database without accounts, creates `admin` with the given or a generated password and
/// returns the password to show once. Safe when several instances start together.
pub fn ensure_initial_admin(
    conn: &mut DbConnection,
    password: Option<String>,
    now: NaiveDateTime,
) -> Result<Option<String>, AppError> {
    let count: i64 = users::table.count().get_result(conn)?;
    if count > 0 {
        return Ok(None);
    }
    let password = password.unwrap_or_else(password::generate);
    let input = NewUser {
        username: "admin".into(),
        display_name: Some("Administrator".into()),
        email: None,
        password: password.clone(),
        roles: vec![Role::Admin],
        department_id: None,
    };
    match create(conn, input, now) {
        Ok(_) => Ok(Some(password)),
        Err(AppError::Conflict {
            code: "username_taken",
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}
