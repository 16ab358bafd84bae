//! Authentication and authorisation rules, free of HTTP and SQL: roles, scopes, password
//! hashing, token formats, and the `Principal` every request acts as.

pub mod password;
pub mod principal;
pub mod roles;
pub mod tokens;

pub use principal::{ApiClientPrincipal, Principal, UserPrincipal};
pub use roles::{Role, RoleSet, Scope};
