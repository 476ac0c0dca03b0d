//! Leases in the store: exclusive work claimed across processes. Two CLI runs,
//! a CLI run and `tandem serve`, or several service instances share one store
//! and move the same physical cameras; whoever moves a camera for preset work,
//! or applies a camera's pending operations on a site, first takes that
//! camera's lease in the store (`Store::try_lease`). A lease has an owner (this
//! process) and an expiry, renewed while the work goes on, so a process that
//! dies leaves a lease that ends by itself within [`LEASE_TTL`].
//!
//! Within one process a lease is shared: tasks asking for a name this process
//! holds get it at once (the in-process rules, [`crate::hold::CameraHold`] and
//! the per-queue turn, already order them), and the store's row is released
//! when the last of them is done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tandem_core::{CameraId, SiteId};
use tandem_store::Store;

use crate::error::EngineError;

/// How long a lease lasts without renewal: the longest a dead process can
/// keep others from a camera or a queue (so, with the leader's lease, how
/// long pending work waits after a process dies).
pub const LEASE_TTL: Duration = Duration::from_secs(6);
/// How often a held lease is renewed: three times in its life, so one
/// renewal lost to a slow store does not end it.
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// How often a busy lease is asked for again.
const POLL: Duration = Duration::from_millis(40);

/// The lease of whoever moves a physical camera for preset work.
pub fn camera_lease(camera: &CameraId) -> String {
    format!("camera:{camera}")
}

/// The lease of whoever applies a camera's pending operations on a site.
pub fn drain_lease(camera: &CameraId, site: &SiteId) -> String {
    format!("drain:{camera}:{site}")
}

/// This process's leases. Cheap to clone (shared).
#[derive(Clone)]
pub struct Leases(Arc<Shared>);

struct Shared {
    store: Arc<dyn Store>,
    /// This process's owner id: the pid and a random part, so a restarted
    /// process (which may get the same pid) never passes for a dead one.
    owner: String,
    /// The names this process holds: how many tasks hold each, and the task renewing it.
    held: Mutex<HashMap<String, (usize, tokio::task::JoinHandle<()>)>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("owner", &self.0.owner)
            .finish_non_exhaustive()
    }
}

/// A held lease; released (by the last holder in this process) when dropped.
#[derive(Debug)]
pub struct Lease {
    leases: Leases,
    name: String,
}

impl Leases {
    /// This process's leases in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let owner = format!("pid {} {:08x}", std::process::id(), rand::random::<u32>());
        Leases(Arc::new(Shared {
            store,
            owner,
            held: Mutex::new(HashMap::new()),
        }))
    }

    /// Takes `name` if it is free, expired or already this process's; never waits.
    pub fn try_take(&self, name: &str) -> Result<Option<Lease>, EngineError> {
        let mut held = self.0.lock();
        if let Some((holders, _)) = held.get_mut(name) {
            *holders += 1;
            return Ok(Some(self.lease(name)));
        }
        // Asked under the map's lock, so that a release by this process (also
        // under it) cannot delete the row between this take and its record.
        if !self.0.store.try_lease(name, &self.0.owner, LEASE_TTL)? {
            return Ok(None);
        }
        held.insert(name.to_string(), (1, self.spawn_renewal(name)));
        Ok(Some(self.lease(name)))
    }

    /// Takes `name`, waiting while another process holds it, for at most
    /// `wait`; then fails with a retryable error naming the holder.
    pub async fn take(&self, name: &str, wait: Duration) -> Result<Lease, EngineError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lease) = self.try_take(name)? {
                return Ok(lease);
            }
            if tokio::time::Instant::now() >= deadline {
                let holder = self
                    .0
                    .store
                    .leases()?
                    .into_iter()
                    .find(|(n, _, _)| n == name)
                    .map(|(_, owner, _)| owner)
                    .unwrap_or_else(|| "another process".into());
                return Err(EngineError::Busy(format!(
                    "{name} is held by {holder}; tried for {} ms",
                    wait.as_millis()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// This process's owner id in the store.
    pub fn owner(&self) -> &str {
        &self.0.owner
    }

    fn lease(&self, name: &str) -> Lease {
        Lease {
            leases: self.clone(),
            name: name.to_string(),
        }
    }

    /// Keeps `name` from expiring while this process holds it.
    fn spawn_renewal(&self, name: &str) -> tokio::task::JoinHandle<()> {
        let store = self.0.store.clone();
        let owner = self.0.owner.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                // Renew only what is still ours: a lease that ended while this
                // process was paused belongs to whoever took it since, and
                // `Lease::confirm` tells the work so before its next device call.
                match store.hold_lease(&name, &owner, LEASE_TTL) {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(lease = %name, "lease lost: it ended before it was renewed");
                        return;
                    }
                    Err(e) => tracing::warn!(lease = %name, error = %e, "renewing a lease"),
                }
            }
        })
    }
}

impl Lease {
    /// The fencing check, made before each device call done under the
    /// lease: renews it, and fails with [`StoreError::Fenced`] when it has
    /// ended (this process was paused, or cut off from the store, for longer
    /// than [`LEASE_TTL`]) so that another process may now be doing the same
    /// work. The store decides, by its own clock.
    ///
    /// [`StoreError::Fenced`]: tandem_store::StoreError::Fenced
    pub fn confirm(&self) -> Result<(), EngineError> {
        let shared = &self.leases.0;
        if shared
            .store
            .hold_lease(&self.name, &shared.owner, LEASE_TTL)?
        {
            Ok(())
        } else {
            Err(tandem_store::StoreError::Fenced(format!(
                "{} ended before this process renewed it; another process may hold it now",
                self.name
            ))
            .into())
        }
    }
}

impl Shared {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (usize, tokio::task::JoinHandle<()>)>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let shared = &self.leases.0;
        let mut held = shared.lock();
        let Some((holders, _)) = held.get_mut(&self.name) else {
            return;
        };
        *holders -= 1;
        if *holders > 0 {
            return;
        }
        if let Some((_, renewal)) = held.remove(&self.name) {
            renewal.abort();
        }
        // Under the map's lock: see `try_take`. A failure leaves a row that
        // expires within LEASE_TTL.
        if let Err(e) = shared.store.release_lease(&self.name, &shared.owner) {
            tracing::warn!(lease = %self.name, error = %e, "releasing a lease");
        }
    }
}
