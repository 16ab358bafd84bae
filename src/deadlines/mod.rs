//! Deadlines (docs/deadlines.md): the time-limit policy of each step — per step × kind ×
//! urgency, with the catalogue's per-category overrides — and the arithmetic that turns a limit
//! into a due instant with the business calendar. Pure: no I/O.

pub mod policy;

pub use self::policy::{Limit, Policy, PolicyError, Step};
