//! The order service's time: when an unpaid order expires, and what the sweep
//! counts as overdue. A test (or a model-based run) turns it by hand.

use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        shared::sql::now_secs()
    }
}

/// A clock that starts at the wall clock's time and moves only when told, so a
/// test can let half an hour pass in no time. It never goes back: leases and
/// other times written with the wall clock stay in its past.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: AtomicI64,
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs.max(0), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        shared::sql::now_secs() + self.offset.load(Ordering::SeqCst)
    }
}
