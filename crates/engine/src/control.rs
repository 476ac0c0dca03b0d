//! Manual control of a camera: who steers it now, at which PTZ priority, and
//! admin reservations for preset work. (Not to be confused with a login
//! session: this is about one camera.) A higher priority takes over at once;
//! a hold lapses after an idle time without commands; preset work waits while
//! someone else holds the camera (see `Engine::drain`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tandem_core::CameraId;

/// Who holds each camera's manual control, with PTZ priority.
#[derive(Debug, Default)]
pub struct CameraControl {
    holders: Mutex<HashMap<CameraId, Holder>>,
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

/// Why control was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("camera is controlled by {} (priority {}){}", .0.user, .0.priority, if .0.reserved { ", reserved" } else { "" })]
pub struct Busy(pub Holder);

impl CameraControl {
    /// Takes or renews control of `camera` for `user` at `priority`, idle
    /// timeout `idle`. A higher priority takes over at once; an equal or lower
    /// one is refused while the holder's session lasts.
    pub fn acquire(
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
                self.touch(camera, now);
                return Ok(());
            }
        }
        self.touch(camera, now);
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
        self.touch(camera, now);
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
    pub fn release(&self, camera: &CameraId, user: &str, now: Instant) -> Option<Holder> {
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
    pub fn holder(&self, camera: &CameraId, now: Instant) -> Option<Holder> {
        let holders = self.holders.lock().unwrap_or_else(|p| p.into_inner());
        holders
            .get(camera)
            .filter(|h| h.until.is_none_or(|t| t > now))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(15);

    #[test]
    fn higher_priority_takes_over_and_equal_is_refused_until_expiry() {
        let control = CameraControl::default();
        let cam = CameraId::from("cam-1");
        let t0 = Instant::now();
        control
            .acquire(&cam, "ann", 1000, IDLE, t0)
            .expect("free camera");
        let busy = control
            .acquire(&cam, "bob", 1000, IDLE, t0 + Duration::from_secs(1))
            .expect_err("equal priority");
        assert_eq!(busy.0.user, "ann");
        control
            .acquire(&cam, "ann", 1000, IDLE, t0 + Duration::from_secs(10))
            .expect("renewal");
        assert!(
            control
                .acquire(&cam, "bob", 500, IDLE, t0 + Duration::from_secs(20))
                .is_err(),
            "renewed at 10 s"
        );
        control
            .acquire(&cam, "bob", 500, IDLE, t0 + Duration::from_secs(26))
            .expect("ann idle for 16 s");
        control
            .acquire(&cam, "cat", 5000, IDLE, t0 + Duration::from_secs(27))
            .expect("higher priority takes over");
        assert_eq!(
            control
                .holder(&cam, t0 + Duration::from_secs(28))
                .map(|h| h.user),
            Some("cat".into())
        );
    }

    #[test]
    fn a_reservation_is_exclusive_until_released() {
        let control = CameraControl::default();
        let cam = CameraId::from("cam-1");
        let t0 = Instant::now();
        control.reserve(&cam, "admin", t0).expect("reserve");
        assert!(control.acquire(&cam, "boss", 32000, IDLE, t0).is_err());
        assert!(
            control
                .holder(&cam, t0 + Duration::from_secs(3600))
                .is_some(),
            "no idle expiry"
        );
        assert_eq!(control.release(&cam, "boss", t0), None, "not boss's");
        assert!(control.holder(&cam, t0).is_some(), "still reserved");
        assert!(control.release(&cam, "admin", t0).is_some());
        assert_eq!(control.release(&cam, "admin", t0), None, "released once");
        control
            .acquire(&cam, "boss", 1, IDLE, t0)
            .expect("free again");
    }
}
