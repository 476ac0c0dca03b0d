//! The hold on a physical camera during preset work. Both sites drive the same
//! camera, and `SetPreset` stores wherever the camera points: so from a move
//! until the preset is stored, nobody may point it elsewhere. Sites that want
//! it at the *same* position (one operation applied to both sites) share the
//! hold and work at once, so a two-site write costs about one site's time; a
//! site that wants another position (catching up on an older operation) waits
//! until every holder is done.

use std::sync::{Arc, Mutex};

use tandem_core::Position;
use tokio::sync::Notify;

/// One physical camera's hold. Cheap to clone (shared).
#[derive(Debug, Default, Clone)]
pub struct CameraHold(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    /// The position the holders keep the camera at, and how many they are.
    held: Mutex<Option<(Position, usize)>>,
    released: Notify,
}

/// Keeps the camera at its position until dropped.
#[derive(Debug)]
pub struct Held(Arc<Shared>);

impl CameraHold {
    /// Waits until the camera is free or held for exactly `at`, then holds it there.
    pub async fn hold(&self, at: Position) -> Held {
        loop {
            // Registered before looking, so a release between the look and the
            // wait still wakes this waiter.
            let released = self.0.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut held = self.0.lock();
                match &mut *held {
                    None => {
                        *held = Some((at, 1));
                        return Held(self.0.clone());
                    }
                    Some((position, holders)) if *position == at => {
                        *holders += 1;
                        return Held(self.0.clone());
                    }
                    Some(_) => {}
                }
            }
            released.await;
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Position, usize)>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.0.lock();
        if let Some((_, holders)) = &mut *held {
            *holders -= 1;
            if *holders == 0 {
                *held = None;
            }
        }
        drop(held);
        self.0.released.notify_waiters();
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
}
