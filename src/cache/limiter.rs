//! A shared operations-per-second budget (`--max-ops-per-sec`,
//! `--max-rate`): callers say how many operations they are about to send
//! and wait until the budget allows it. One limiter spans all nodes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

#[derive(Clone)]
pub struct Limiter {
    inner: Option<Arc<Mutex<(Instant, f64)>>>,
    per_sec: f64,
}

impl Limiter {
    /// `None` or 0: unlimited.
    pub fn new(per_sec: Option<u64>) -> Limiter {
        match per_sec.filter(|n| *n > 0) {
            Some(n) => Limiter {
                inner: Some(Arc::new(Mutex::new((Instant::now(), 0.0)))),
                per_sec: n as f64,
            },
            None => Limiter {
                inner: None,
                per_sec: 0.0,
            },
        }
    }

    /// Account for `ops` operations about to be sent, first sleeping until
    /// the operations already sent fit the rate (so the first batch goes at
    /// once and the average never exceeds the rate by more than one batch).
    pub async fn acquire(&self, ops: u64) {
        let Some(inner) = &self.inner else { return };
        let wait = {
            let mut g = inner.lock().await;
            let due = g.0 + Duration::from_secs_f64(g.1 / self.per_sec);
            g.1 += ops as f64;
            due.saturating_duration_since(Instant::now())
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
