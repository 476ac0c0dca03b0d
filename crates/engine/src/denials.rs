//! Refused requests, audited in aggregate: a user probing what they may not
//! do (or a console page polling a camera outside their rights) would
//! otherwise write an audit entry per request. [`Denials`] counts refusals
//! per user and route within each UTC minute; a minute's count becomes one
//! `access.denied` entry once the minute is over (at the user's next refusal
//! on that route, when the watcher flushes, or when the service stops).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tandem_core::{AuditAction, CameraId};

use crate::engine::Engine;

/// Most distinct cameras one entry names; beyond, it says how many more.
const MAX_CAMERAS: usize = 16;

/// The refusals of the current minute, per (user, route).
#[derive(Debug, Default)]
pub(crate) struct Denials {
    windows: Mutex<HashMap<(String, String), Window>>,
}

/// One (user, route)'s refusals within one minute.
#[derive(Debug, Clone)]
struct Window {
    /// Minutes since the Unix epoch.
    minute: i64,
    first_utc: DateTime<Utc>,
    last_utc: DateTime<Utc>,
    count: u64,
    cameras: BTreeSet<CameraId>,
    /// Cameras beyond [`MAX_CAMERAS`].
    more_cameras: u64,
    /// Why the first one was refused.
    reason: String,
}

impl Denials {
    fn windows(&self) -> MutexGuard<'_, HashMap<(String, String), Window>> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn minute_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

impl Engine {
    /// Counts one refused request of `user` on `route` (a method and path
    /// template such as `POST /api/v1/cameras/{camera}/ptz/stop`), about
    /// `camera` if any, refused because of `reason`. Writes the previous
    /// minute's count of the same user and route, if any.
    pub fn record_denial(&self, user: &str, route: &str, camera: Option<&CameraId>, reason: &str) {
        let now = self.utc();
        let finished = {
            let mut windows = self.denials().windows();
            let key = (user.to_string(), route.to_string());
            let current = windows
                .get(&key)
                .is_some_and(|w| w.minute == minute_of(now));
            let finished = if current { None } else { windows.remove(&key) };
            let window = windows.entry(key).or_insert_with(|| Window {
                minute: minute_of(now),
                first_utc: now,
                last_utc: now,
                count: 0,
                cameras: BTreeSet::new(),
                more_cameras: 0,
                reason: reason.to_string(),
            });
            window.count += 1;
            window.last_utc = now;
            if let Some(camera) = camera
                && !window.cameras.contains(camera)
            {
                if window.cameras.len() < MAX_CAMERAS {
                    window.cameras.insert(camera.clone());
                } else {
                    window.more_cameras += 1;
                }
            }
            finished
        };
        if let Some(window) = finished {
            self.write_denials(user, route, &window);
        }
    }

    /// Writes the counts of minutes that are over (the watcher calls it on
    /// each tick).
    pub fn flush_denials(&self) {
        let now = minute_of(self.utc());
        self.flush_where(|w| w.minute < now);
    }

    /// Writes every count, the current minute's too (the service stopping).
    pub fn flush_all_denials(&self) {
        self.flush_where(|_| true);
    }

    fn flush_where(&self, done: impl Fn(&Window) -> bool) {
        let finished: Vec<((String, String), Window)> = {
            let mut windows = self.denials().windows();
            let keys: Vec<_> = windows
                .iter()
                .filter(|(_, w)| done(w))
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| windows.remove(&k).map(|w| (k, w)))
                .collect()
        };
        for ((user, route), window) in finished {
            self.write_denials(&user, &route, &window);
        }
    }

    fn write_denials(&self, user: &str, route: &str, window: &Window) {
        // One camera: the entry's own column, so that filtering by camera finds it.
        let camera = (window.cameras.len() == 1 && window.more_cameras == 0)
            .then(|| window.cameras.iter().next())
            .flatten();
        self.audit(
            user,
            AuditAction::AccessDenied,
            camera,
            None,
            Some(serde_json::json!({
                "route": route,
                "count": window.count,
                "first_utc": window.first_utc.to_rfc3339(),
                "last_utc": window.last_utc.to_rfc3339(),
                "cameras": window.cameras,
                "more_cameras": window.more_cameras,
                "reason": window.reason,
            })),
        );
    }
}
