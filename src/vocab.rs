//! The shared vocabulary of docs/domain.md §1 as types: parsed once at the edge, never re-checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! text_enum {
    (@backend $name:ident, $backend:ty) => {
        impl diesel::deserialize::FromSql<diesel::sql_types::Text, $backend> for $name {
            fn from_sql(
                bytes: <$backend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    $backend,
                >>::from_sql(bytes)?;
                text.parse()
                    .map_err(|e: String| format!("stored {}: {e}", stringify!($name)).into())
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, $backend> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, $backend>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, $backend>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }
    };
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        // stored as its text, on each backend and through the MultiConnection: a value no
        // variant has is an error when read, never a guess
        impl diesel::deserialize::FromSql<diesel::sql_types::Text, crate::db::MultiBackend> for $name {
            fn from_sql(
                bytes: <crate::db::MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                bytes.from_sql::<Self, diesel::sql_types::Text>()
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, crate::db::MultiBackend> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, crate::db::MultiBackend>,
            ) -> diesel::serialize::Result {
                out.set_value((diesel::sql_types::Text, self.as_str()));
                Ok(diesel::serialize::IsNull::No)
            }
        }

        text_enum!(@backend $name, diesel::pg::Pg);
        text_enum!(@backend $name, diesel::sqlite::Sqlite);

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("'{s}' is not one of {}", known.join(", "))
                })
            }
        }
    };
}

text_enum!(
    /// What the citizen wants (诉求类型).
    Kind {
        /// 咨询
        Consultation => "consultation",
        /// 求助
        Help => "help",
        /// 投诉
        Complaint => "complaint",
        /// 举报: the reporter is never shown to departments
        Report => "report",
        /// 建议
        Suggestion => "suggestion",
        /// 表扬
        Praise => "praise",
    }
);

text_enum!(
    /// The level of a department in the organisation tree.
    DepartmentLevel {
        /// The county (or city) government itself
        County => "county",
        /// A functional department of the county (water, housing, civil affairs, ...)
        Department => "department",
        /// A town or street office
        Town => "town",
        /// A village or community committee
        Village => "village",
        /// A grid (the lowest unit, a few hundred households)
        Grid => "grid",
        /// A public utility (water company, power company)
        Utility => "utility",
    }
);

text_enum!(
    /// The level of an administrative region.
    RegionLevel {
        County => "county",
        /// Town or street
        Town => "town",
        /// Village or community
        Village => "village",
        Grid => "grid",
    }
);

text_enum!(
    /// How a request reached the hotline (渠道).
    Channel {
        /// A phone call entered by an operator
        Hotline => "hotline",
        /// The WeChat mini-program, through its gateway
        Miniprogram => "miniprogram",
        Web => "web",
        Wechat => "wechat",
        Open311 => "open311",
        /// At the service counter
        WalkIn => "walk_in",
    }
);

text_enum!(
    /// How pressing a request is (紧急程度).
    Urgency {
        Normal => "normal",
        Urgent => "urgent",
        /// Life, safety or property at risk
        Critical => "critical",
    }
);

text_enum!(
    /// Where a ticket stands in its lifecycle (docs/domain.md §2).
    Status {
        /// Taken in, not yet dispatched (the dispatch queue)
        Registered => "registered",
        /// Sent to the lead department, waiting for it to sign for it
        Dispatched => "dispatched",
        /// Signed for; being handled
        InProgress => "in_progress",
        /// Returned by the department; a dispatcher reviews the return
        ReturnPending => "return_pending",
        /// Answered; waiting for the callback
        Replied => "replied",
        /// Done
        Closed => "closed",
        /// Merged into another ticket about the same matter
        Merged => "merged",
        /// Invalid or withdrawn
        Cancelled => "cancelled",
    }
);

impl Status {
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Closed | Status::Merged | Status::Cancelled)
    }
}

text_enum!(
    /// Where a ticket's extension request stands.
    ExtensionState {
        /// Asked for, waiting for a supervisor
        Requested => "requested",
        /// Granted
        Approved => "approved",
        /// Refused
        Rejected => "rejected",
    }
);

text_enum!(
    /// Where an outbox message stands (docs/notifications.md).
    OutboxState {
        /// Written with its event, never tried yet
        Queued => "queued",
        /// Claimed by a worker that is delivering it now
        Sending => "sending",
        /// Failed at least once; waits for its next attempt
        Retrying => "retrying",
        /// Accepted by the SMTP server or the webhook receiver
        Delivered => "delivered",
        /// Given up after the last attempt (or undeliverable); an admin may re-send it
        Dead => "dead",
    }
);

text_enum!(
    /// How an outbox message travels.
    DeliveryChannel {
        Email => "email",
        Webhook => "webhook",
    }
);

text_enum!(
    /// Which citizen contact field a webhook subscriber receives with each event.
    WebhookContact {
        /// None: the citizen-safe ticket view only
        None => "none",
        /// The WeChat open id (the mini-program gateway)
        OpenId => "open_id",
        /// The phone number (an SMS gateway)
        Phone => "phone",
    }
);

text_enum!(
    /// How one callback attempt ended (回访结果).
    CallOutcome {
        /// The citizen answered and gave their verdict
        Reached => "reached",
        NoAnswer => "no_answer",
        Busy => "busy",
        WrongNumber => "wrong_number",
        /// The citizen declined to talk
        Refused => "refused",
    }
);

text_enum!(
    /// The citizen's verdict (满意度).
    Satisfaction {
        Satisfied => "satisfied",
        BasicallySatisfied => "basically_satisfied",
        Dissatisfied => "dissatisfied",
    }
);

text_enum!(
    /// How the citizen was reached back.
    CallbackChannel {
        Phone => "phone",
        Sms => "sms",
        Miniprogram => "miniprogram",
    }
);

text_enum!(
    /// Where one citizen's callback stands.
    CallbackState {
        /// Waiting for an operator (or the citizen's own rating)
        Pending => "pending",
        /// The citizen was reached and gave a verdict
        Done => "done",
        /// Too many failed attempts
        Unreachable => "unreachable",
        /// Ended without a verdict (a supervisor closed or sent back the ticket)
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// How a ticket's closing follow-up ended (typed on the ticket and in its events).
    CallbackResult {
        Satisfied => "satisfied",
        BasicallySatisfied => "basically_satisfied",
        /// Dissatisfied or unresolved: the ticket went back to the department (redo)
        Dissatisfied => "dissatisfied",
        /// No citizen could be reached: closed, counted apart
        Unreachable => "unreachable",
        /// Closed by a supervisor with a recorded reason (e.g. 不合理诉求)
        ClosedBySupervisor => "closed_by_supervisor",
        /// Praise and anonymous tickets close without a callback
        NoCallback => "no_callback",
    }
);

text_enum!(
    /// The level of a supervision flag (督办级别).
    SupervisionLevel {
        /// 一般督办
        Normal => "normal",
        /// 重点督办
        Prominent => "prominent",
        /// 领导督办
        Leadership => "leadership",
    }
);
