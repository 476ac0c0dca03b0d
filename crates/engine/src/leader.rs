//! Leadership: which of several `tandem serve` instances sharing one store
//! runs the background duties (retries, scheduled scans, scans when a site
//! returns). Everything else (the API, live control, an operator's own
//! operations) runs on every instance.
//!
//! The lead is a row in the store with a holder, an epoch and an expiry set
//! by the store's clock ([`LeaseStore::lead`](tandem_store::LeaseStore::lead)).
//! The leader renews it every third of its lease. It **steps down by its own
//! monotonic clock** once half a lease has passed since its last successful
//! renewal, so it has stopped before the row can expire and another instance
//! take over, whatever any wall clock says. A new leader's epoch is the old
//! one plus one, which the store's fencing checks compare.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_store::Store;
use tokio::sync::watch;

/// How long the lead lasts without renewal, by default: the longest the
/// background duties pause when the leader dies.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);

/// This instance's view of the lead. Cheap to clone (shared).
#[derive(Clone)]
pub struct Leadership(Arc<Shared>);

struct Shared {
    store: Arc<dyn Store>,
    owner: String,
    lease: Duration,
    /// The epoch while leading, and the last renewal's (monotonic) time.
    state: Mutex<Option<(u64, Instant)>>,
    changes: watch::Sender<Option<u64>>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("owner", &self.0.owner)
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

impl Leadership {
    /// This instance (`owner`, unique among the instances and over restarts)
    /// asking `store` for a lead of `lease`. Nothing happens until
    /// [`Leadership::spawn`].
    pub fn new(store: Arc<dyn Store>, owner: impl Into<String>, lease: Duration) -> Self {
        Leadership(Arc::new(Shared {
            store,
            owner: owner.into(),
            lease: lease.max(Duration::from_millis(300)),
            state: Mutex::new(None),
            changes: watch::channel(None).0,
        }))
    }

    /// This instance's owner id.
    pub fn owner(&self) -> &str {
        &self.0.owner
    }

    /// The epoch while this instance leads, `None` otherwise. Also `None`
    /// once half a lease has passed since the last renewal, even when the
    /// renewing task has not run since (a paused process, a stalled store).
    pub fn epoch(&self) -> Option<u64> {
        let state = self.0.lock();
        state.and_then(|(epoch, renewed)| (renewed.elapsed() < self.0.lease / 2).then_some(epoch))
    }

    /// Whether this instance leads now.
    pub fn leads(&self) -> bool {
        self.epoch().is_some()
    }

    /// Changes of the lead as this instance sees them: `Some(epoch)` on
    /// taking it, `None` on losing it.
    pub fn subscribe(&self) -> watch::Receiver<Option<u64>> {
        self.0.changes.subscribe()
    }

    /// Asks for the lead once now, then every third of a lease while leading
    /// (every tenth while not), until the returned [`Renewal`] is dropped
    /// (then see [`Leadership::resign`]).
    ///
    /// Two threads of their own, not tasks: the renewal blocks on the store
    /// (up to its connect timeout while the database is away), and the
    /// step-down must happen, and be told, at half a lease whatever else
    /// blocks, the async workers included; the other watches that deadline.
    pub fn spawn(&self) -> Renewal {
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (me, stop) = (self.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    me.renew_once();
                    // A leader renews every third of its lease; the others
                    // ask every tenth, so one takes over soon after the
                    // lead expires.
                    let pause = if me.leads() {
                        me.0.lease / 3
                    } else {
                        me.0.lease / 10
                    };
                    sleep_unless(&stop, pause);
                }
            }
        };
        let watchdog = {
            let (me, stop) = (self.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    me.step_down_if_late();
                    let deadline = me.0.lock().map(|(_, at)| at + me.0.lease / 2);
                    let pause = deadline
                        .map(|d| d.saturating_duration_since(Instant::now()))
                        .unwrap_or(me.0.lease / 10)
                        .clamp(Duration::from_millis(5), me.0.lease / 10);
                    sleep_unless(&stop, pause);
                }
            }
        };
        for (name, work) in [
            ("tandem-lead", Box::new(renewer) as Box<dyn FnOnce() + Send>),
            ("tandem-lead-watch", Box::new(watchdog)),
        ] {
            if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(work) {
                tracing::error!(error = %e, "cannot start {name}: this instance will not lead");
            }
        }
        Renewal { stop }
    }

    /// One attempt to take or renew the lead, and the step-down check.
    pub fn renew_once(&self) {
        let asked = Instant::now();
        let answer = self.0.store.lead(&self.0.owner, self.0.lease);
        let mut state = self.0.lock();
        match answer {
            Ok(Some(epoch)) => {
                if state.map(|(e, _)| e) != Some(epoch) {
                    tracing::info!(epoch, owner = %self.0.owner, "leading: running the background duties");
                }
                // The renewal counts from when it was asked: the store's
                // expiry runs from some moment after that.
                *state = Some((epoch, asked));
            }
            Ok(None) => {
                if let Some((epoch, _)) = state.take() {
                    tracing::warn!(epoch, "the lead was taken by another instance");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing the lead");
            }
        }
        drop(state);
        self.step_down_if_late();
    }

    /// Stops leading once half a lease has passed since the last renewal,
    /// and tells it.
    fn step_down_if_late(&self) {
        let mut state = self.0.lock();
        if let Some((epoch, renewed)) = *state
            && renewed.elapsed() >= self.0.lease / 2
        {
            tracing::warn!(
                epoch,
                "stepping down: the lead could not be renewed in time"
            );
            *state = None;
        }
        let now = state.map(|(e, _)| e);
        drop(state);
        self.0.changes.send_if_modified(|seen| {
            let changed = *seen != now;
            *seen = now;
            changed
        });
    }

    /// Gives the lead up at once (a clean shutdown), so another instance
    /// need not wait for it to expire.
    pub fn resign(&self) {
        *self.0.lock() = None;
        self.0.changes.send_replace(None);
        if let Err(e) = self.0.store.resign(&self.0.owner) {
            tracing::warn!(error = %e, "giving up the lead");
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Instant)>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The renewal of the lead [`Leadership::spawn`] started; it stops (within
/// a tenth of a lease) when this is dropped.
#[derive(Debug)]
pub struct Renewal {
    stop: Arc<AtomicBool>,
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sleeps `pause`, in short steps, unless `stop` is set meanwhile.
fn sleep_unless(stop: &AtomicBool, pause: Duration) {
    let until = Instant::now() + pause;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}
