//! Named leases with an owner and an expiry: [`LeaseStore`].

use chrono::{DateTime, Utc};

use tandem_core::CameraId;

use crate::error::StoreError;

/// Leases: the part of the [`Store`](crate::Store) through which processes
/// sharing one store claim a piece of work (a camera's preset work) for
/// themselves alone; a lease ends by itself when it expires.
pub trait LeaseStore {
    // --- Leases ------------------------------------------------------------

    /// Takes the lease `name` for `owner` until `now + ttl`, when it is free,
    /// expired, or already `owner`'s (then it is extended). Answers whether
    /// `owner` holds it now; never waits.
    fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// Extends `owner`'s lease `name` by `ttl` only while `owner` still holds
    /// it unexpired, and answers whether it did: the fencing check made
    /// before each device write. Unlike [`LeaseStore::try_lease`] it never
    /// takes a lease that has ended, so a process that was paused past its
    /// lease learns that it lost it instead of quietly taking it back.
    fn hold_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// Ends `owner`'s lease `name`; no error when `owner` does not hold it.
    fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError>;

    /// The lease `name`'s owner and expiry as stored, expired or not: a row
    /// of another owner that has expired is work that process may have left
    /// half done (it died, or was paused past its lease).
    fn lease_row(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError>;

    /// Every lease not yet expired: (name, owner, expires), sorted by name.
    fn leases(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError>;

    // --- The leader ---------------------------------------------------------

    /// Takes the lead for `owner` until `ttl` from now, or renews it, when no
    /// one leads or the lead has expired or is `owner`'s; answers `owner`'s
    /// epoch while it leads, `None` otherwise. A new leader gets the old
    /// epoch plus one; a renewal keeps it. Expiry is the store's clock (the
    /// database's on PostgreSQL), never the caller's.
    fn lead(&self, owner: &str, ttl: std::time::Duration) -> Result<Option<u64>, StoreError>;

    /// Gives the lead up at once when `owner` holds it, so another instance
    /// need not wait for it to expire (a clean shutdown).
    fn resign(&self, owner: &str) -> Result<(), StoreError>;

    /// Who leads now, when anyone does.
    fn leader(&self) -> Result<Option<Leader>, StoreError>;

    // --- Manual control of cameras ----------------------------------------

    /// Changes who steers `camera`, in one transaction: `decide` gets the
    /// stored row (lapsed or not) and the store's now, and answers what to
    /// write; the rules are the caller's. Answers the row as it was and that
    /// now. `decide` may run more than once (a retried transaction).
    fn claim_control(
        &self,
        camera: &CameraId,
        decide: &(dyn Fn(Option<&ControlRow>, DateTime<Utc>) -> ControlWrite + Sync),
    ) -> Result<(Option<ControlRow>, DateTime<Utc>), StoreError>;

    /// Who steers `camera` as stored (lapsed or not), and the store's now.
    fn control_of(
        &self,
        camera: &CameraId,
    ) -> Result<(Option<ControlRow>, DateTime<Utc>), StoreError>;
}

/// Who steers a camera, as the store keeps it for every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRow {
    /// The user.
    pub user: String,
    /// Their PTZ priority on the camera.
    pub priority: u16,
    /// Reserved by an admin for preset work.
    pub reserved: bool,
    /// When the hold lapses without commands; `None` for a reservation.
    pub until_utc: Option<DateTime<Utc>>,
}

/// What [`LeaseStore::claim_control`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlWrite {
    /// Nothing changes.
    Keep,
    /// This row replaces the camera's.
    Put(ControlRow),
    /// The camera's row goes: nobody steers it.
    Remove,
}

/// The instance that runs the background duties, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The instance's owner id.
    pub holder: String,
    /// Its epoch: raised by one each time the lead changes hands.
    pub epoch: u64,
    /// When its lead ends unless renewed.
    pub expires_utc: DateTime<Utc>,
}
