//! The ticket state machine (docs/domain.md §2) as one pure function: given the ticket's facts, who
//! acts and what they ask, it answers the new status or the precise refusal. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Role, RoleSet};
use crate::vocab::{ExtensionState, Status};

/// Every command a ticket accepts (`POST /api/v1/tickets/{id}/{action}`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// registered → dispatched: send to a lead department (dispatcher)
    Dispatch,
    /// registered → replied: an operator answers a consultation at once
    DirectAnswer,
    /// dispatched → in_progress: the lead department acknowledges
    Sign,
    /// dispatched/in_progress → dispatched: pass down to a sub-department
    Forward,
    /// in_progress: give the ticket to one person of the lead department
    Assign,
    /// in_progress: a co-handling department adds its part
    Contribute,
    /// dispatched/in_progress → return_pending: the department refuses a wrong routing
    Return,
    /// return_pending → dispatched: the dispatcher agrees and re-dispatches
    ApproveReturn,
    /// return_pending → back to the department
    RejectReturn,
    /// in_progress: ask for more time (once)
    RequestExtension,
    /// in_progress: a supervisor grants the extension
    ApproveExtension,
    /// in_progress: a supervisor refuses the extension
    RejectExtension,
    /// in_progress → replied: the department's answer
    Reply,
    /// replied → in_progress: back to the department (automatic when the callback finds the
    /// citizen dissatisfied or the matter unresolved; by hand, a supervisor with a reason)
    Redo,
    /// replied → closed: automatic when the callbacks end; by hand, a supervisor with a reason
    /// (e.g. 不合理诉求)
    Close,
    /// closed → in_progress: the citizen called again within the reopening window
    Reopen,
    /// open → merged: a duplicate folded into the surviving ticket
    Merge,
    /// registered → cancelled: invalid or withdrawn
    Cancel,
    /// an internal note (no state change)
    Note,
    /// a progress note the citizen can see (no state change)
    PublicNote,
}

impl Action {
    pub const ALL: &'static [Action] = <Action as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Action> {
        s.parse().ok()
    }
}

/// Who may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Hotline staff holding one of these roles.
    Hotline(&'static [Role]),
    /// Staff of the lead department itself.
    Lead,
    /// Staff of a co-handling department.
    CoHandler,
    /// Hotline staff with these roles, or the lead department.
    HotlineOrLead(&'static [Role]),
    /// Anyone who can see the ticket.
    AnyViewer,
}

const DISPATCHERS: &[Role] = &[Role::Dispatcher, Role::Supervisor, Role::Admin];
const FRONT_DESK: &[Role] = &[
    Role::Operator,
    Role::Dispatcher,
    Role::Supervisor,
    Role::Admin,
];
const SUPERVISORS: &[Role] = &[Role::Supervisor, Role::Admin];
/// Roles that see every non-confidential ticket.
pub const HOTLINE_ROLES: &[Role] = &[
    Role::Operator,
    Role::Dispatcher,
    Role::Supervisor,
    Role::Admin,
];

const OPEN: &[Status] = &[
    Status::Registered,
    Status::Dispatched,
    Status::InProgress,
    Status::ReturnPending,
    Status::Replied,
];
const ANY: &[Status] = &[
    Status::Registered,
    Status::Dispatched,
    Status::InProgress,
    Status::ReturnPending,
    Status::Replied,
    Status::Closed,
    Status::Merged,
    Status::Cancelled,
];

/// The static rule of each action: the states it starts from and who may take it.
fn rule(action: Action) -> (&'static [Status], Who) {
    use Status as S;
    match action {
        Action::Dispatch => (&[S::Registered], Who::Hotline(DISPATCHERS)),
        Action::DirectAnswer => (&[S::Registered], Who::Hotline(FRONT_DESK)),
        Action::Sign => (&[S::Dispatched], Who::Lead),
        Action::Forward => (&[S::Dispatched, S::InProgress], Who::Lead),
        Action::Assign => (&[S::InProgress], Who::Lead),
        Action::Contribute => (&[S::InProgress], Who::CoHandler),
        Action::Return => (&[S::Dispatched, S::InProgress], Who::Lead),
        Action::ApproveReturn | Action::RejectReturn => {
            (&[S::ReturnPending], Who::Hotline(DISPATCHERS))
        }
        Action::RequestExtension => (&[S::InProgress], Who::Lead),
        Action::ApproveExtension | Action::RejectExtension => {
            (&[S::InProgress], Who::Hotline(SUPERVISORS))
        }
        Action::Reply => (&[S::InProgress], Who::Lead),
        Action::Redo | Action::Close => (&[S::Replied], Who::Hotline(SUPERVISORS)),
        Action::Reopen => (&[S::Closed], Who::Hotline(FRONT_DESK)),
        Action::Merge => (OPEN, Who::Hotline(FRONT_DESK)),
        Action::Cancel => (&[S::Registered], Who::Hotline(FRONT_DESK)),
        Action::Note => (ANY, Who::AnyViewer),
        Action::PublicNote => (OPEN, Who::HotlineOrLead(FRONT_DESK)),
    }
}

/// What the state machine needs to know of a ticket.
#[derive(Debug, Clone)]
pub struct Facts {
    pub status: Status,
    pub confidential: bool,
    pub lead_department_id: Option<String>,
    pub lead_department_path: Option<String>,
    pub co_department_ids: Vec<String>,
    pub co_department_paths: Vec<String>,
    pub status_before_return: Option<Status>,
    pub extension_state: Option<ExtensionState>,
}

/// Who is acting.
#[derive(Debug, Clone)]
pub struct Actor {
    pub roles: RoleSet,
    pub department_id: Option<String>,
    pub department_path: Option<String>,
}

impl Actor {
    fn is_hotline(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(*r))
    }

    fn is_department_user(&self) -> bool {
        self.roles.contains(Role::DepartmentStaff) || self.roles.contains(Role::DepartmentAdmin)
    }

    fn in_lead(&self, facts: &Facts) -> bool {
        self.is_department_user()
            && self.department_id.is_some()
            && self.department_id == facts.lead_department_id
    }

    fn in_co_handler(&self, facts: &Facts) -> bool {
        self.is_department_user()
            && self
                .department_id
                .as_ref()
                .is_some_and(|d| facts.co_department_ids.contains(d))
    }
}

/// Whether the actor may see the ticket at all (otherwise: 404, existence not revealed).
/// Supervisors and admins see everything; operators and dispatchers every non-confidential
/// ticket; department staff the tickets led or co-handled by their department or one below it,
/// and of confidential tickets only those their own department leads.
pub fn can_see(actor: &Actor, facts: &Facts) -> bool {
    if actor.is_hotline(SUPERVISORS) {
        return true;
    }
    if actor.is_hotline(HOTLINE_ROLES) && !facts.confidential {
        return true;
    }
    if !actor.is_department_user() {
        return false;
    }
    if facts.confidential {
        return actor.in_lead(facts);
    }
    let Some(own) = actor.department_path.as_deref() else {
        return false;
    };
    facts
        .lead_department_path
        .as_deref()
        .is_some_and(|p| p.starts_with(own))
        || facts.co_department_paths.iter().any(|p| p.starts_with(own))
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 404: the actor cannot see the ticket.
    NotVisible,
    /// 403: visible, but the actor's role or department may not take this action.
    Forbidden(String),
    /// 409: the action does not apply in the current state.
    Illegal {
        status: Status,
        allowed: Vec<Action>,
    },
}

fn permitted(actor: &Actor, facts: &Facts, who: Who) -> bool {
    match who {
        Who::Hotline(roles) => actor.is_hotline(roles),
        Who::Lead => actor.in_lead(facts),
        Who::CoHandler => actor.in_co_handler(facts),
        Who::HotlineOrLead(roles) => actor.is_hotline(roles) || actor.in_lead(facts),
        Who::AnyViewer => true,
    }
}

/// Extra state conditions beyond the starting status.
fn state_allows(action: Action, facts: &Facts) -> bool {
    match action {
        Action::RequestExtension => facts.extension_state.is_none(),
        Action::ApproveExtension | Action::RejectExtension => {
            facts.extension_state == Some(ExtensionState::Requested)
        }
        _ => true,
    }
}

/// The actions the actor may take now (shown on the ticket view).
pub fn allowed_actions(actor: &Actor, facts: &Facts) -> Vec<Action> {
    if !can_see(actor, facts) {
        return Vec::new();
    }
    Action::ALL
        .iter()
        .copied()
        .filter(|a| {
            let (from, who) = rule(*a);
            from.contains(&facts.status) && permitted(actor, facts, who) && state_allows(*a, facts)
        })
        .collect()
}

/// Decides an action: `Ok(new status)` or the refusal. Visibility is checked first (404), then
/// role and department (403), then the state (409, naming the allowed actions).
pub fn decide(actor: &Actor, facts: &Facts, action: Action) -> Result<Status, Refusal> {
    if !can_see(actor, facts) {
        return Err(Refusal::NotVisible);
    }
    let (from, who) = rule(action);
    if !permitted(actor, facts, who) {
        let needed = match who {
            Who::Hotline(roles) | Who::HotlineOrLead(roles) => {
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                format!("one of the roles {}", names.join(", "))
            }
            Who::Lead => "staff of the lead department".to_string(),
            Who::CoHandler => "staff of a co-handling department".to_string(),
            Who::AnyViewer => "access to the ticket".to_string(),
        };
        return Err(Refusal::Forbidden(format!(
            "'{}' needs {needed}",
            action.as_str()
        )));
    }
    if !from.contains(&facts.status) || !state_allows(action, facts) {
        return Err(Refusal::Illegal {
            status: facts.status,
            allowed: allowed_actions(actor, facts),
        });
    }
    Ok(next_status(action, facts))
}

fn next_status(action: Action, facts: &Facts) -> Status {
    use Status as S;
    match action {
        Action::Dispatch | Action::Forward | Action::ApproveReturn => S::Dispatched,
        Action::DirectAnswer | Action::Reply => S::Replied,
        Action::Sign | Action::Redo | Action::Reopen => S::InProgress,
        Action::Return => S::ReturnPending,
        Action::RejectReturn => facts.status_before_return.unwrap_or(S::Dispatched),
        Action::Close => S::Closed,
        Action::Merge => S::Merged,
        Action::Cancel => S::Cancelled,
        Action::Assign
        | Action::Contribute
        | Action::RequestExtension
        | Action::ApproveExtension
        | Action::RejectExtension
        | Action::Note
        | Action::PublicNote => facts.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: Status) -> Facts {
        Facts {
            status,
            confidential: false,
            lead_department_id: Some("water".into()),
            lead_department_path: Some("/gov/water/".into()),
            co_department_ids: vec!["power".into()],
            co_department_paths: vec!["/gov/power/".into()],
            status_before_return: Some(Status::InProgress),
            extension_state: None,
        }
    }

    fn staff(dept: &str, path: &str) -> Actor {
        Actor {
            roles: RoleSet::new([Role::DepartmentStaff]),
            department_id: Some(dept.into()),
            department_path: Some(path.into()),
        }
    }

    fn hotline(role: Role) -> Actor {
        Actor {
            roles: RoleSet::new([role]),
            department_id: None,
            department_path: None,
        }
    }

    #[test]
    fn refusals_in_order() {
        let water = staff("water", "/gov/water/");
        let other = staff("edu", "/gov/edu/");
        let parent = staff("gov", "/gov/");
        let f = facts(Status::Dispatched);
        assert_eq!(decide(&water, &f, Action::Sign), Ok(Status::InProgress));
        assert_eq!(decide(&other, &f, Action::Sign), Err(Refusal::NotVisible));
        assert!(
            matches!(
                decide(&parent, &f, Action::Sign),
                Err(Refusal::Forbidden(_))
            ),
            "sees, may not act"
        );
        assert!(matches!(
            decide(&hotline(Role::Operator), &f, Action::Sign),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            decide(&water, &f, Action::Reply),
            Err(Refusal::Illegal {
                status: Status::Dispatched,
                ..
            })
        ));
        assert!(matches!(
            decide(&hotline(Role::Dispatcher), &f, Action::Dispatch),
            Err(Refusal::Illegal { .. })
        ));
    }

    #[test]
    fn return_review_and_confidentiality() {
        let f = facts(Status::ReturnPending);
        assert_eq!(
            decide(&hotline(Role::Dispatcher), &f, Action::RejectReturn),
            Ok(Status::InProgress)
        );
        assert_eq!(
            decide(&hotline(Role::Dispatcher), &f, Action::ApproveReturn),
            Ok(Status::Dispatched)
        );
        let mut secret = facts(Status::InProgress);
        secret.confidential = true;
        assert!(!can_see(&hotline(Role::Operator), &secret));
        assert!(can_see(&hotline(Role::Supervisor), &secret));
        assert!(can_see(&staff("water", "/gov/water/"), &secret));
        assert!(!can_see(&staff("gov", "/gov/"), &secret));
        assert!(!can_see(&staff("power", "/gov/power/"), &secret));
    }

    #[test]
    fn allowed_actions_follow_the_state() {
        let water = staff("water", "/gov/water/");
        let actions = allowed_actions(&water, &facts(Status::InProgress));
        assert!(actions.contains(&Action::Reply) && actions.contains(&Action::RequestExtension));
        assert!(!actions.contains(&Action::Sign) && !actions.contains(&Action::Dispatch));
        let co = staff("power", "/gov/power/");
        assert!(allowed_actions(&co, &facts(Status::InProgress)).contains(&Action::Contribute));
    }

    /// The lifecycle of docs/domain.md §2, written out as a table independently of `rule` and
    /// `next_status`: action, the states it starts from, the state it leads to (`=`: unchanged,
    /// `before`: the state before the return), and who may take it (hotline roles by name,
    /// `lead` = the lead department's staff and admins, `co` = a co-handler's staff, `viewer` =
    /// anyone who sees the ticket).
    const TABLE: &[(&str, &str, &str, &str)] = &[
        (
            "dispatch",
            "registered",
            "dispatched",
            "dispatcher supervisor admin",
        ),
        (
            "direct_answer",
            "registered",
            "replied",
            "operator dispatcher supervisor admin",
        ),
        ("sign", "dispatched", "in_progress", "lead"),
        ("forward", "dispatched in_progress", "dispatched", "lead"),
        ("assign", "in_progress", "=", "lead"),
        ("contribute", "in_progress", "=", "co"),
        ("return", "dispatched in_progress", "return_pending", "lead"),
        (
            "approve_return",
            "return_pending",
            "dispatched",
            "dispatcher supervisor admin",
        ),
        (
            "reject_return",
            "return_pending",
            "before",
            "dispatcher supervisor admin",
        ),
        ("request_extension", "in_progress", "=", "lead"),
        ("approve_extension", "in_progress", "=", "supervisor admin"),
        ("reject_extension", "in_progress", "=", "supervisor admin"),
        ("reply", "in_progress", "replied", "lead"),
        ("redo", "replied", "in_progress", "supervisor admin"),
        ("close", "replied", "closed", "supervisor admin"),
        (
            "reopen",
            "closed",
            "in_progress",
            "operator dispatcher supervisor admin",
        ),
        (
            "merge",
            "registered dispatched in_progress return_pending replied",
            "merged",
            "operator dispatcher supervisor admin",
        ),
        (
            "cancel",
            "registered",
            "cancelled",
            "operator dispatcher supervisor admin",
        ),
        (
            "note",
            "registered dispatched in_progress return_pending replied closed merged cancelled",
            "=",
            "viewer",
        ),
        (
            "public_note",
            "registered dispatched in_progress return_pending replied",
            "=",
            "operator dispatcher supervisor admin lead",
        ),
    ];

    /// Every action × every status × every kind of actor × both extension states, against the
    /// table: the right new status, or 403 for the wrong actor, or 409 for the wrong state.
    #[test]
    fn every_action_status_and_role_follows_the_table() {
        assert_eq!(
            TABLE.len(),
            Action::ALL.len(),
            "every action is in the table"
        );
        let mut admin_staff = staff("water", "/gov/water/");
        admin_staff.roles = RoleSet::new([Role::DepartmentAdmin]);
        let actors: Vec<(&str, Actor)> = vec![
            ("admin", hotline(Role::Admin)),
            ("supervisor", hotline(Role::Supervisor)),
            ("dispatcher", hotline(Role::Dispatcher)),
            ("operator", hotline(Role::Operator)),
            ("lead", staff("water", "/gov/water/")),
            ("lead", admin_staff),
            ("co", staff("power", "/gov/power/")),
            ("parent", staff("gov", "/gov/")),
        ];
        let mut checked = 0;
        for (action_name, from, to, who) in TABLE {
            let action = Action::parse(action_name).expect("action in table");
            for &status in Status::ALL.iter() {
                for extension in [None, Some("requested")] {
                    for (kind, actor) in &actors {
                        let mut f = facts(status);
                        f.extension_state = extension.map(|_| ExtensionState::Requested);
                        let allowed_actor = who.split(' ').any(|w| w == *kind || w == "viewer");
                        let extension_ok = match *action_name {
                            "request_extension" => extension.is_none(),
                            "approve_extension" | "reject_extension" => extension.is_some(),
                            _ => true,
                        };
                        let state_ok =
                            from.split(' ').any(|s| s == status.as_str()) && extension_ok;
                        let got = decide(actor, &f, action);
                        let context = format!("{action_name} by {kind} on {status} (extension {extension:?}): {got:?}");
                        match (allowed_actor, state_ok) {
                            (true, true) => {
                                let expected = match *to {
                                    "=" => status,
                                    "before" => Status::InProgress,
                                    other => other.parse().expect("status in table"),
                                };
                                assert_eq!(got, Ok(expected), "{context}");
                                assert!(allowed_actions(actor, &f).contains(&action), "{context}");
                            }
                            (false, _) => {
                                assert!(matches!(got, Err(Refusal::Forbidden(_))), "{context}");
                                assert!(!allowed_actions(actor, &f).contains(&action), "{context}");
                            }
                            (true, false) => {
                                assert!(matches!(got, Err(Refusal::Illegal { .. })), "{context}");
                            }
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 20 * Status::ALL.len() * 2 * 8);
    }
}
