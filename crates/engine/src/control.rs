//! Manual control of a camera: who steers it now, at which PTZ priority, and
//! admin reservations for preset work. (Not to be confused with a login
//! session: this is about one camera.) A higher priority takes over at once;
//! a hold lapses after an idle time without commands; preset work waits while
//! someone else holds the camera (see `Engine::drain`).
//!
//! One process keeps it in memory; several `tandem serve` instances sharing
//! a store keep it there ([`CameraControl::share`]), with the same rules
//! and the store's clock, so that they agree on who steers which camera.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tandem_core::CameraId;
use tandem_store::{ControlRow, ControlWrite, Store, StoreError};

/// Who holds each camera's manual control, with PTZ priority.
#[derive(Default)]
pub struct CameraControl {
    holders: Mutex<HashMap<CameraId, Holder>>,
    /// The store every instance shares, once [`CameraControl::share`]d: then
    /// the holders are its rows, not `holders`.
    shared: OnceLock<Arc<dyn Store>>,
    /// When someone last took, renewed or reserved each camera: preset work
    /// that moved a camera returns it only if nobody did meanwhile.
    touched: Mutex<HashMap<CameraId, Instant>>,
}

/// Who holds a camera.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Holder {
    /// The user.
    pub user: String,
    /// Their PTZ priority on this camera.
    pub priority: u16,
    /// Reserved for preset work by an admin: exclusive until released.
    pub reserved: bool,
    /// When the hold lapses without further commands (`None` for reservations).
    #[serde(skip)]
    pub until: Option<Instant>,
}

impl std::fmt::Debug for CameraControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraControl")
            .field("shared", &self.shared.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Why control was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("camera is controlled by {} (priority {}){}", .0.user, .0.priority, if .0.reserved { ", reserved" } else { "" })]
pub struct Busy(pub Holder);

/// The rule of [`CameraControl::acquire`]: whether `current` (not lapsed)
/// keeps `user` at `priority` out.
fn refuses(current: &Holder, user: &str, priority: u16) -> bool {
    current.user != user && (current.reserved || current.priority >= priority)
}

impl CameraControl {
    /// Keeps control in `store` from now on, shared with every instance on it.
    pub fn share(&self, store: Arc<dyn Store>) {
        let _ = self.shared.set(store);
    }

    /// Takes or renews control of `camera` for `user` at `priority`, idle
    /// timeout `idle`. A higher priority takes over at once; an equal or lower
    /// one is refused while the holder's session lasts. Answers who held it
    /// before (`user` themselves when renewing), if anyone did.
    pub fn acquire(
        &self,
        camera: &CameraId,
        user: &str,
        priority: u16,
        idle: Duration,
        now: Instant,
    ) -> Result<Result<Option<Holder>, Busy>, StoreError> {
        self.touch(camera, now);
        if let Some(store) = self.shared.get() {
            let idle = chrono::TimeDelta::from_std(idle).unwrap_or(chrono::TimeDelta::MAX);
            let decide = |row: Option<&ControlRow>, at: DateTime<Utc>| match row
                .map(|r| holder_of(r, at, now))
            {
                Some(h) if !lapsed(&h, now) && refuses(&h, user, priority) => ControlWrite::Keep,
                Some(h) if h.user == user && h.reserved => ControlWrite::Keep,
                _ => ControlWrite::Put(ControlRow {
                    user: user.into(),
                    priority,
                    reserved: false,
                    until_utc: Some(at + idle),
                }),
            };
            let (before, at) = store.claim_control(camera, &decide)?;
            return Ok(match before.map(|r| holder_of(&r, at, now)) {
                Some(h) if !lapsed(&h, now) && refuses(&h, user, priority) => Err(Busy(h)),
                before => Ok(before.filter(|h| !lapsed(h, now))),
            });
        }
        let before = self.holder_here(camera, now);
        Ok(self
            .acquire_here(camera, user, priority, idle, now)
            .map(|()| before))
    }

    fn acquire_here(
        &self,
        camera: &CameraId,
        user: &str,
        priority: u16,
        idle: Duration,
        now: Instant,
    ) -> Result<(), Busy> {
        let mut holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = holders.get(camera) {
            let lapsed = h.until.is_some_and(|t| t <= now);
            let same = h.user == user;
            if !lapsed && !same && (h.reserved || h.priority >= priority) {
                return Err(Busy(h.clone()));
            }
            if same && h.reserved {
                return Ok(());
            }
        }
        holders.insert(
            camera.clone(),
            Holder {
                user: user.into(),
                priority,
                reserved: false,
                until: Some(now + idle),
            },
        );
        Ok(())
    }

    /// Reserves `camera` for preset work (admins): exclusive until released.
    /// Answers whom it was taken from, if someone else held it.
    pub fn reserve(
        &self,
        camera: &CameraId,
        user: &str,
        now: Instant,
    ) -> Result<Result<Option<Holder>, Busy>, StoreError> {
        self.touch(camera, now);
        if let Some(store) = self.shared.get() {
            // Not against another's live reservation.
            let blocked = |h: &Holder| h.user != user && h.reserved && !lapsed(h, now);
            let decide = |row: Option<&ControlRow>, at: DateTime<Utc>| match row {
                Some(r) if blocked(&holder_of(r, at, now)) => ControlWrite::Keep,
                _ => ControlWrite::Put(ControlRow {
                    user: user.into(),
                    priority: u16::MAX,
                    reserved: true,
                    until_utc: None,
                }),
            };
            let (before, at) = store.claim_control(camera, &decide)?;
            let before = before.map(|r| holder_of(&r, at, now));
            return Ok(match before {
                Some(h) if blocked(&h) => Err(Busy(h)),
                before => Ok(before.filter(|h| h.user != user && !lapsed(h, now))),
            });
        }
        Ok(self.reserve_here(camera, user, now))
    }

    fn reserve_here(
        &self,
        camera: &CameraId,
        user: &str,
        now: Instant,
    ) -> Result<Option<Holder>, Busy> {
        let mut holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        // An admin's reservation outranks any operator's session, but not another reservation.
        if let Some(h) = holders.get(camera)
            && h.user != user
            && h.reserved
            && h.until.is_none_or(|t| t > now)
        {
            return Err(Busy(h.clone()));
        }
        let before = holders.insert(
            camera.clone(),
            Holder {
                user: user.into(),
                priority: u16::MAX,
                reserved: true,
                until: None,
            },
        );
        Ok(before.filter(|h| h.user != user && h.until.is_none_or(|t| t > now)))
    }

    /// Releases `user`'s hold on `camera`, if they hold it now; answers the
    /// hold released (`None` when there was none of theirs, or it had lapsed).
    pub fn release(
        &self,
        camera: &CameraId,
        user: &str,
        now: Instant,
    ) -> Result<Option<Holder>, StoreError> {
        if let Some(store) = self.shared.get() {
            let decide = |row: Option<&ControlRow>, _: DateTime<Utc>| match row {
                Some(r) if r.user == user => ControlWrite::Remove,
                _ => ControlWrite::Keep,
            };
            let (before, at) = store.claim_control(camera, &decide)?;
            return Ok(before
                .map(|r| holder_of(&r, at, now))
                .filter(|h| h.user == user && !lapsed(h, now)));
        }
        Ok(self.release_here(camera, user, now))
    }

    fn release_here(&self, camera: &CameraId, user: &str, now: Instant) -> Option<Holder> {
        let mut holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        if holders.get(camera).is_none_or(|h| h.user != user) {
            return None;
        }
        holders
            .remove(camera)
            .filter(|h| h.until.is_none_or(|t| t > now))
    }

    /// Whether anyone took, renewed or reserved control of `camera` after `since`.
    pub fn taken_since(&self, camera: &CameraId, since: Instant) -> bool {
        let touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        touched.get(camera).is_some_and(|t| *t > since)
    }

    fn touch(&self, camera: &CameraId, now: Instant) {
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        let at = touched.entry(camera.clone()).or_insert(now);
        *at = (*at).max(now);
    }

    /// Who holds `camera` now, if anyone.
    pub fn holder(&self, camera: &CameraId, now: Instant) -> Result<Option<Holder>, StoreError> {
        if let Some(store) = self.shared.get() {
            let (row, at) = store.control_of(camera)?;
            return Ok(row
                .map(|r| holder_of(&r, at, now))
                .filter(|h| !lapsed(h, now)));
        }
        Ok(self.holder_here(camera, now))
    }

    fn holder_here(&self, camera: &CameraId, now: Instant) -> Option<Holder> {
        let holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        holders
            .get(camera)
            .filter(|h| h.until.is_none_or(|t| t > now))
            .cloned()
    }
}

/// A stored row as a [`Holder`], its lapse time moved from the store's
/// clock (`at` is its now) to this process's monotonic one (`now`).
fn holder_of(row: &ControlRow, at: DateTime<Utc>, now: Instant) -> Holder {
    Holder {
        user: row.user.clone(),
        priority: row.priority,
        reserved: row.reserved,
        until: row
            .until_utc
            .map(|t| now + (t - at).to_std().unwrap_or(Duration::ZERO)),
    }
}

fn lapsed(h: &Holder, now: Instant) -> bool {
    h.until.is_some_and(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::clock::{Clock, ManualClock};

    const IDLE: Duration = Duration::from_secs(15);

    /// Control kept in memory, and control kept in a store (as several
    /// instances share it), each with a clock the test moves.
    fn both() -> Vec<(&'static str, CameraControl, ManualClock)> {
        let here =
            ManualClock::at(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30));
        let shared_clock = here.clone();
        let store = tandem_store::SqliteStore::open_in_memory()
            .expect("store")
            .with_clock(Arc::new(shared_clock.clone()));
        let shared = CameraControl::default();
        shared.share(Arc::new(store));
        vec![
            ("in memory", CameraControl::default(), here),
            ("in the store", shared, shared_clock),
        ]
    }

    fn ok<T>(r: Result<Result<T, Busy>, StoreError>) -> Result<T, Busy> {
        r.expect("the store answers")
    }

    #[test]
    fn higher_priority_takes_over_and_equal_is_refused_until_expiry() {
        for (mode, control, clock) in both() {
            let cam = CameraId::from("cam-1");
            let at = |s: u64| {
                clock.advance(Duration::from_secs(s));
                clock.monotonic()
            };
            ok(control.acquire(&cam, "ann", 1000, IDLE, at(0))).expect("free camera");
            let busy =
                ok(control.acquire(&cam, "bob", 1000, IDLE, at(1))).expect_err("equal priority");
            assert_eq!(busy.0.user, "ann", "{mode}");
            ok(control.acquire(&cam, "ann", 1000, IDLE, at(9))).expect("renewal");
            assert!(
                ok(control.acquire(&cam, "bob", 500, IDLE, at(10))).is_err(),
                "{mode}: renewed at 10 s"
            );
            let before = ok(control.acquire(&cam, "bob", 500, IDLE, at(6))).expect("ann idle 16 s");
            assert_eq!(before, None, "{mode}: ann's hold had lapsed");
            let before =
                ok(control.acquire(&cam, "cat", 5000, IDLE, at(1))).expect("higher priority");
            assert_eq!(before.map(|h| h.user), Some("bob".into()), "{mode}");
            let holder = control.holder(&cam, at(1)).expect("store");
            assert_eq!(holder.map(|h| h.user), Some("cat".into()), "{mode}");
        }
    }

    #[test]
    fn a_reservation_is_exclusive_until_released() {
        for (mode, control, clock) in both() {
            let cam = CameraId::from("cam-1");
            let t0 = clock.monotonic();
            ok(control.reserve(&cam, "admin", t0)).expect("reserve");
            assert!(
                ok(control.acquire(&cam, "boss", 32000, IDLE, t0)).is_err(),
                "{mode}"
            );
            clock.advance(Duration::from_secs(3600));
            let later = clock.monotonic();
            assert!(
                control.holder(&cam, later).expect("store").is_some(),
                "{mode}: no idle expiry"
            );
            assert_eq!(
                control.release(&cam, "boss", later).expect("store"),
                None,
                "not boss's"
            );
            assert!(
                control.holder(&cam, later).expect("store").is_some(),
                "still reserved"
            );
            assert!(
                control
                    .release(&cam, "admin", later)
                    .expect("store")
                    .is_some()
            );
            assert_eq!(
                control.release(&cam, "admin", later).expect("store"),
                None,
                "{mode}: released once"
            );
            ok(control.acquire(&cam, "boss", 1, IDLE, later)).expect("free again");
        }
    }
}
