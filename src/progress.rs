//! How long-running engine work tells the outside world how far it got, and
//! how the outside world asks it to stop.
//!
//! The engine never knows who is listening: the CLI draws an indicatif bar,
//! the desktop app forwards to a Tauri channel, `cohort serve` to server-sent
//! events. All of them implement [`Progress`]. Implementations are called
//! often (every few thousand rows); they are expected to throttle themselves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A snapshot of how far a piece of work has come.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick<'a> {
    /// What is being done right now, in the marketer's words ("Importing contacts").
    pub stage: &'a str,
    /// Units done so far (rows, customers, ...).
    pub done: u64,
    /// Units expected in total, when known.
    pub total: Option<u64>,
    /// Bytes of input consumed so far (0 when the work is not reading a file).
    pub bytes: u64,
    /// Total bytes of input, when known.
    pub total_bytes: Option<u64>,
    /// Time since the work started, so listeners can show a rate.
    pub elapsed: Duration,
}

/// Receives progress and answers whether the work should stop.
pub trait Progress {
    fn tick(&mut self, tick: &Tick<'_>);
    /// Polled between batches; returning `true` makes the work stop with
    /// [`Cancelled`] and roll back whatever it had not committed.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A listener that ignores everything: for tests and callers that do not care.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn tick(&mut self, _tick: &Tick<'_>) {}
}

/// A cancellation flag that can be shared with another thread (a UI button,
/// a Ctrl-C handler) and wrapped around any other listener.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Forwards ticks to an inner listener and adds a [`CancelToken`].
pub struct Cancellable<P> {
    pub inner: P,
    pub token: CancelToken,
}

impl<P: Progress> Progress for Cancellable<P> {
    fn tick(&mut self, tick: &Tick<'_>) {
        self.inner.tick(tick)
    }
    fn is_cancelled(&self) -> bool {
        self.token.is_cancelled() || self.inner.is_cancelled()
    }
}

/// Returned by long work that stopped because its listener asked it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled by the user; nothing was changed")]
pub struct Cancelled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_cancels_wrapped_listener() {
        let token = CancelToken::new();
        let p = Cancellable {
            inner: Silent,
            token: token.clone(),
        };
        assert!(!p.is_cancelled());
        token.cancel();
        assert!(p.is_cancelled());
    }
}
