//! Who reads or acts on a ticket: a staff member (with their department path, from
//! authentication), an API client, or the system (automatic dispatch).

use super::state::{self, Actor};
use chrono::NaiveDateTime;

use super::*;
use crate::auth::{ApiClientPrincipal, Role, RoleSet, UserPrincipal};

/// The caller behind a read or an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A staff member, by user id.
    User(String),
    /// An API client (the mini-program gateway), by client id.
    ApiClient(String),
    /// The service itself (automatic dispatch).
    System,
}

/// Who reads or acts, with what they may see.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub caller: Caller,
    /// Deadline rules (calendar and policy) and the time of the request: views show each
    /// deadline's state as of `now`.
    pub rules: super::deadlines::SharedRules,
    pub now: NaiveDateTime,
    pub actor: Actor,
    /// The role recorded on events.
    pub role_label: String,
    /// May reveal the citizen's contact data (`reveal`; each reveal is logged).
    pub contact_access: bool,
    /// The callback and reopening rules.
    pub followup: Followup,
}

impl Viewer {
    /// A staff member, as authenticated (their department's path came with the session check).
    pub fn for_user(user: &UserPrincipal, policy: &TicketPolicy, now: NaiveDateTime) -> Viewer {
        let hotline = state::HOTLINE_ROLES.iter().any(|r| user.roles.contains(*r));
        let contact_access = hotline
            || policy
                .department_contact_roles
                .iter()
                .any(|r| user.roles.contains(*r));
        let role_label = user
            .roles
            .to_vec()
            .first()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default();
        Viewer {
            rules: policy.deadlines.clone(),
            now,
            caller: Caller::User(user.id.0.clone()),
            actor: Actor {
                roles: user.roles.clone(),
                department_id: user.department_id.as_ref().map(|d| d.0.clone()),
                department_path: user.department_path.clone(),
            },
            role_label,
            contact_access,
            followup: policy.followup,
        }
    }

    pub fn for_client(
        client: &ApiClientPrincipal,
        policy: &TicketPolicy,
        now: NaiveDateTime,
    ) -> Viewer {
        Viewer {
            rules: policy.deadlines.clone(),
            now,
            caller: Caller::ApiClient(client.id.0.clone()),
            actor: Actor {
                roles: RoleSet::default(),
                department_id: None,
                department_path: None,
            },
            role_label: "api_client".into(),
            contact_access: false,
            followup: policy.followup,
        }
    }

    /// A supervisor or an admin: sees every ticket, whatever the department.
    pub(crate) fn sees_all_departments(&self) -> bool {
        self.actor.roles.contains(Role::Supervisor) || self.actor.roles.contains(Role::Admin)
    }

    pub(crate) fn is_department_user(&self) -> bool {
        !state::HOTLINE_ROLES
            .iter()
            .any(|r| self.actor.roles.contains(*r))
    }

    pub(crate) fn event_actor(&self) -> (&'static str, Option<String>, Option<String>) {
        match &self.caller {
            Caller::User(u) => ("user", Some(u.clone()), Some(self.role_label.clone())),
            Caller::ApiClient(c) => ("api_client", Some(c.clone()), Some("api_client".into())),
            Caller::System => ("system", None, None),
        }
    }

    /// The staff member's id, when a staff member is the caller.
    pub fn user_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::User(u) => Some(u),
            _ => None,
        }
    }

    /// The API client's id, when an API client is the caller.
    pub fn api_client_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::ApiClient(c) => Some(c),
            _ => None,
        }
    }
}

pub(super) fn system_viewer(policy: &TicketPolicy, now: NaiveDateTime) -> Viewer {
    system(policy.deadlines.clone(), policy.followup, now)
}

impl Viewer {
    /// The service itself, concluding what this caller's request completed (the callbacks).
    pub(super) fn as_system(&self) -> Viewer {
        system(self.rules.clone(), self.followup, self.now)
    }
}

fn system(rules: super::deadlines::SharedRules, followup: Followup, now: NaiveDateTime) -> Viewer {
    Viewer {
        rules,
        now,
        caller: Caller::System,
        actor: Actor {
            // dispatches (auto-dispatch) and concludes callbacks (close, redo)
            roles: RoleSet::new([Role::Dispatcher, Role::Supervisor]),
            department_id: None,
            department_path: None,
        },
        role_label: "system".into(),
        contact_access: false,
        followup,
    }
}
