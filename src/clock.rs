//! Time as a dependency: the service asks the clock, tests move it instead of sleeping.

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDateTime, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock (tests).
    manual: Option<Arc<Mutex<NaiveDateTime>>>,
}

impl Clock {
    pub fn system() -> Self {
        Clock { manual: None }
    }

    /// A clock that stands still until `advance` is called.
    pub fn manual(start: NaiveDateTime) -> Self {
        Clock {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    /// The current time, UTC, without offset (the storage convention), to the microsecond: what
    /// both databases keep, so that an answer built from a row just written shows the times a
    /// later read of it shows.
    pub fn now(&self) -> NaiveDateTime {
        use chrono::SubsecRound;
        match &self.manual {
            None => Utc::now().naive_utc(),
            Some(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
        .trunc_subsecs(6)
    }

    /// Sets a manual clock to `t`; no effect on the system clock.
    pub fn set(&self, t: NaiveDateTime) {
        if let Some(m) = &self.manual {
            *m.lock().unwrap_or_else(|p| p.into_inner()) = t;
        }
    }

    /// Moves a manual clock forward; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.manual {
            let mut guard = t.lock().unwrap_or_else(|p| p.into_inner());
            *guard += by;
        }
    }
}
