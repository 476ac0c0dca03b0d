//! The hold on a physical camera during preset work. Both sites drive the same
//! camera, and `SetPreset` stores wherever the camera points: so from a move
//! until the preset is stored, nobody may point it elsewhere. Sites that want
//! it at the *same* position (one operation applied to both sites) share the
//! hold and work at once, so a two-site write costs about one site's time; a
//! site that wants another position (catching up on an older operation) waits
//! until every holder is done.
//!
//! The hold also remembers where the camera was before the work moved it (its
//! [`Origin`]), read once by the first holder before anyone moves it, and handed
//! on to whoever waits next: the last holder of a run, with nobody waiting,
//! gets it back and returns the camera there ("the camera goes back").

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tandem_core::Position;
use tokio::sync::{Notify, OnceCell};

/// One physical camera's hold. Cheap to clone (shared).
#[derive(Debug, Default, Clone)]
pub struct CameraHold(Arc<Shared>);

/// Where the camera pointed before preset work moved it, and when that work began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Origin {
    /// The position to return to.
    pub position: Position,
    /// When the work began: control taken after this means someone else now
    /// decides where the camera points.
    pub since: Instant,
}

/// The origin of one run of holders, read once.
type OriginCell = Arc<OnceCell<Option<Origin>>>;

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    released: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// The position the holders keep the camera at, and how many they are.
    held: Option<(Position, usize)>,
    /// How many wait for another position.
    waiting: usize,
    /// The origin of the current run, kept while someone waits.
    origin: Option<OriginCell>,
    /// Where the last run sent the camera back to, and when: the next run
    /// starts from there rather than from wherever the return has got to.
    returning: Option<Origin>,
}

/// Keeps the camera at its position until released or dropped.
#[derive(Debug)]
pub struct Held {
    shared: Arc<Shared>,
    origin: OriginCell,
    released: bool,
}

/// Counts a waiter while it waits, also when its future is dropped.
struct Waiting<'a>(&'a Shared);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

impl CameraHold {
    /// Waits until the camera is free or held for exactly `at`, then holds it there.
    pub async fn hold(&self, at: Position) -> Held {
        let mut waiting: Option<Waiting<'_>> = None;
        loop {
            // Registered before looking, so a release between the look and the
            // wait still wakes this waiter.
            let released = self.0.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut state = self.0.lock();
                let joined = match &mut state.held {
                    None => {
                        state.held = Some((at, 1));
                        true
                    }
                    Some((position, holders)) if *position == at => {
                        *holders += 1;
                        true
                    }
                    Some(_) => false,
                };
                if joined {
                    let origin = state.origin.get_or_insert_with(OriginCell::default).clone();
                    drop(state);
                    drop(waiting);
                    return Held {
                        shared: self.0.clone(),
                        origin,
                        released: false,
                    };
                }
                if waiting.is_none() {
                    state.waiting += 1;
                    drop(state);
                    waiting = Some(Waiting(&self.0));
                }
            }
            released.await;
        }
    }
}

impl CameraHold {
    /// Records that the camera was sent back to `to.position` at `to.since`.
    pub fn returned(&self, to: Origin) {
        self.0.lock().returning = Some(to);
    }

    /// Takes what [`CameraHold::returned`] recorded, if anything.
    pub fn take_returning(&self) -> Option<Origin> {
        self.0.lock().returning.take()
    }
}

impl Held {
    /// Where the camera was before this run of preset work: read with `read`
    /// by the first holder, before anyone moves the camera; the others wait
    /// for that read.
    pub async fn origin(&self, read: impl Future<Output = Option<Origin>>) -> Option<Origin> {
        *self.origin.get_or_init(|| read).await
    }

    /// Lets go. The last holder, when nobody waits to move the camera
    /// elsewhere, gets the origin back: it returns the camera there.
    pub fn release(mut self) -> Option<Origin> {
        self.released = true;
        self.shared.leave(&self.origin)
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One holder leaves; answers the origin when it was the last one of the
    /// run and nobody waits (then the run is over).
    fn leave(&self, origin: &OriginCell) -> Option<Origin> {
        let mut state = self.lock();
        let mut back = None;
        if let Some((_, holders)) = &mut state.held {
            *holders -= 1;
            if *holders == 0 {
                state.held = None;
                if state.waiting == 0 {
                    state.origin = None;
                    back = origin.get().copied().flatten();
                }
            }
        }
        drop(state);
        self.released.notify_waiters();
        back
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.released {
            self.shared.leave(&self.origin);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(pan: f64) -> Position {
        Position::new(pan, 0.0, 0.0).expect("valid")
    }

    #[tokio::test]
    async fn the_same_position_is_shared_and_another_waits_for_every_holder() {
        let hold = CameraHold::default();
        let first = hold.hold(at(0.5)).await;
        // The other site of the same operation: at once.
        let second = tokio::time::timeout(Duration::from_millis(100), hold.hold(at(0.5)))
            .await
            .expect("shared without waiting");
        let other = {
            let hold = hold.clone();
            tokio::spawn(async move { hold.hold(at(-0.5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!other.is_finished(), "another position waits");
        drop(first);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!other.is_finished(), "still one holder");
        drop(second);
        let third = tokio::time::timeout(Duration::from_secs(1), other)
            .await
            .expect("released")
            .expect("task");
        // Now held at -0.5: 0.5 waits.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), hold.hold(at(0.5)))
                .await
                .is_err()
        );
        drop(third);
    }

    #[tokio::test]
    async fn the_origin_is_read_once_and_returned_to_the_last_holder_when_nobody_waits() {
        let hold = CameraHold::default();
        let since = Instant::now();
        let origin = Origin {
            position: at(0.1),
            since,
        };
        let first = hold.hold(at(0.5)).await;
        let second = hold.hold(at(0.5)).await;
        assert_eq!(first.origin(async { Some(origin) }).await, Some(origin));
        // The second holder does not read again: the camera may be moving.
        let reread = second.origin(async {
            Some(Origin {
                position: at(0.9),
                since,
            })
        });
        assert_eq!(reread.await, Some(origin));
        // Another position waits: the origin is handed on, not returned.
        let next = {
            let hold = hold.clone();
            tokio::spawn(async move { hold.hold(at(-0.5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(first.release(), None, "not the last holder");
        assert_eq!(second.release(), None, "someone waits to move it elsewhere");
        let next = tokio::time::timeout(Duration::from_secs(1), next)
            .await
            .expect("released")
            .expect("task");
        let inherited = next.origin(async {
            Some(Origin {
                position: at(0.9),
                since,
            })
        });
        assert_eq!(inherited.await, Some(origin), "the first origin is kept");
        assert_eq!(next.release(), Some(origin), "the last holder returns it");
        // A new run reads its own origin.
        let fresh = hold.hold(at(0.2)).await;
        let other = Origin {
            position: at(-0.3),
            since,
        };
        assert_eq!(fresh.origin(async { Some(other) }).await, Some(other));
        assert_eq!(fresh.release(), Some(other));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_keep_the_origin_from_the_last_holder() {
        let hold = CameraHold::default();
        let origin = Origin {
            position: at(0.1),
            since: Instant::now(),
        };
        let first = hold.hold(at(0.5)).await;
        first.origin(async { Some(origin) }).await;
        let impatient = tokio::time::timeout(Duration::from_millis(30), hold.hold(at(-0.5))).await;
        assert!(impatient.is_err(), "it waited and gave up");
        assert_eq!(first.release(), Some(origin));
    }
}
