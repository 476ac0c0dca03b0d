//! Named leases with an owner and an expiry: [`LeaseStore`].

use chrono::{DateTime, Utc};

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

    /// Ends `owner`'s lease `name`; no error when `owner` does not hold it.
    fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError>;

    /// Every lease not yet expired: (name, owner, expires), sorted by name.
    fn leases(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError>;
}
