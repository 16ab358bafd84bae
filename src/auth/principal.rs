//! Who is making a request, and the checks handlers ask of it.

use serde::Serialize;
use utoipa::ToSchema;

use super::roles::{Role, RoleSet, Scope};
use crate::error::AppError;
use crate::ids::{ApiClientId, DepartmentId, SessionId, UserId};

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub roles: RoleSet,
    pub department_id: Option<DepartmentId>,
    /// The department's tree path (`/<root>/.../<id>/`), for "my department and below".
    pub department_path: Option<String>,
    pub session_id: SessionId,
}

/// A channel gateway authenticated by API key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiClientPrincipal {
    pub id: ApiClientId,
    pub name: String,
    pub scopes: Vec<Scope>,
}

#[derive(Debug, Clone)]
pub enum Principal {
    User(UserPrincipal),
    ApiClient(ApiClientPrincipal),
}

impl Principal {
    /// The staff user, or 403 for API clients.
    pub fn user(&self) -> Result<&UserPrincipal, AppError> {
        match self {
            Principal::User(u) => Ok(u),
            Principal::ApiClient(c) => Err(AppError::Forbidden(format!(
                "API client '{}' cannot use this endpoint; it is for staff accounts",
                c.name
            ))),
        }
    }

    /// The staff user if they hold at least one of `roles`, else 403.
    pub fn require_any_role(&self, roles: &[Role]) -> Result<&UserPrincipal, AppError> {
        let user = self.user()?;
        if roles.iter().any(|r| user.roles.contains(*r)) {
            Ok(user)
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(AppError::Forbidden(format!(
                "this action needs one of the roles: {}",
                names.join(", ")
            )))
        }
    }

    /// The API client if it holds `scope`, else 403.
    pub fn require_scope(&self, scope: Scope) -> Result<&ApiClientPrincipal, AppError> {
        match self {
            Principal::ApiClient(c) if c.scopes.contains(&scope) => Ok(c),
            Principal::ApiClient(c) => Err(AppError::Forbidden(format!(
                "API client '{}' lacks the scope '{scope}'",
                c.name
            ))),
            Principal::User(_) => Err(AppError::Forbidden(format!(
                "this endpoint is for API clients with the scope '{scope}'"
            ))),
        }
    }
}
