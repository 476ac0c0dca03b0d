//! The physical motion of one simulated PTZ camera.
//!
//! Motion is computed from time rather than stepped by a timer: a camera that
//! nobody looks at costs nothing, which is what lets one process hold
//! thousands of them. Every function takes `now`, so tests drive time exactly.

use std::time::{Duration, Instant};

/// Pan, tilt, zoom in ONVIF's generic spaces.
pub type Axes = [f64; 3];

/// Lower limits of pan, tilt, zoom.
pub const MIN: Axes = [-1.0, -1.0, 0.0];
/// Upper limits of pan, tilt, zoom.
pub const MAX: Axes = [1.0, 1.0, 1.0];
/// Top speed per axis, generic units per second: a full pan sweep takes 2 s,
/// a full zoom 2 s, like a fast dome camera.
pub const TOP_SPEED: Axes = [1.0, 1.0, 0.5];

/// Clamps a position into the limits.
pub fn clamp(p: Axes) -> Axes {
    std::array::from_fn(|i| p[i].clamp(MIN[i], MAX[i]))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Idle,
    /// Moving toward `target` at `speed` units per second per axis.
    Toward {
        target: Axes,
        speed: Axes,
    },
    /// Moving at `velocity` units per second until `until`.
    Continuous {
        velocity: Axes,
        until: Instant,
    },
}

/// One camera's mechanics: where it was at `since`, and what it has been doing since.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    origin: Axes,
    since: Instant,
    mode: Mode,
}

impl Motion {
    /// A camera at rest at `position`.
    pub fn at_rest(position: Axes, now: Instant) -> Self {
        Motion {
            origin: clamp(position),
            since: now,
            mode: Mode::Idle,
        }
    }

    /// Where the camera is at `now`.
    pub fn position(&self, now: Instant) -> Axes {
        let dt = now.saturating_duration_since(self.since).as_secs_f64();
        match self.mode {
            Mode::Idle => self.origin,
            Mode::Toward { target, speed } => std::array::from_fn(|i| {
                let delta = target[i] - self.origin[i];
                let step = (speed[i] * dt).min(delta.abs());
                self.origin[i] + step.copysign(delta)
            }),
            Mode::Continuous { velocity, until } => {
                let dt = until
                    .saturating_duration_since(self.since)
                    .as_secs_f64()
                    .min(dt);
                clamp(std::array::from_fn(|i| self.origin[i] + velocity[i] * dt))
            }
        }
    }

    /// Whether pan/tilt and zoom are moving at `now`.
    pub fn moving(&self, now: Instant) -> (bool, bool) {
        let p = self.position(now);
        let axis = |i: usize| match self.mode {
            Mode::Idle => false,
            Mode::Toward { target, .. } => (target[i] - p[i]).abs() > 1e-9,
            Mode::Continuous { velocity, until } => {
                now < until
                    && ((velocity[i] > 0.0 && p[i] < MAX[i])
                        || (velocity[i] < 0.0 && p[i] > MIN[i]))
            }
        };
        (axis(0) || axis(1), axis(2))
    }

    /// True when any axis moves.
    pub fn is_moving(&self, now: Instant) -> bool {
        let (pt, z) = self.moving(now);
        pt || z
    }

    /// Starts a move to `target` (clamped). `speed` is the generic speed in
    /// [0, 1] per axis; `None` means top speed. Axes are timed to arrive together,
    /// as a real camera interpolates.
    pub fn move_to(&mut self, target: Axes, speed: Option<Axes>, now: Instant) {
        let from = self.position(now);
        let target = clamp(target);
        let scale = speed
            .unwrap_or([1.0; 3])
            .map(|s| if s > 0.0 { s.min(1.0) } else { 1.0 });
        // The slowest axis sets the duration; the others slow down to match.
        let duration = (0..3)
            .map(|i| (target[i] - from[i]).abs() / (TOP_SPEED[i] * scale[i]))
            .fold(0.0f64, f64::max);
        let speed = std::array::from_fn(|i| {
            if duration > 0.0 {
                (target[i] - from[i]).abs() / duration
            } else {
                0.0
            }
        });
        *self = Motion {
            origin: from,
            since: now,
            mode: Mode::Toward { target, speed },
        };
    }

    /// Starts a continuous move at `velocity` in [-1, 1] (fraction of top speed) for `timeout`.
    pub fn continuous(&mut self, velocity: Axes, timeout: Duration, now: Instant) {
        let from = self.position(now);
        let velocity = std::array::from_fn(|i| velocity[i].clamp(-1.0, 1.0) * TOP_SPEED[i]);
        *self = Motion {
            origin: from,
            since: now,
            mode: Mode::Continuous {
                velocity,
                until: now + timeout,
            },
        };
    }

    /// Stops the chosen axes where they are; others keep going.
    pub fn stop(&mut self, pan_tilt: bool, zoom: bool, now: Instant) {
        let here = self.position(now);
        let keep = [!pan_tilt, !pan_tilt, !zoom];
        let mode = match self.mode {
            Mode::Idle => Mode::Idle,
            Mode::Toward { target, speed } => Mode::Toward {
                target: std::array::from_fn(|i| if keep[i] { target[i] } else { here[i] }),
                speed,
            },
            Mode::Continuous { velocity, until } => Mode::Continuous {
                velocity: std::array::from_fn(|i| if keep[i] { velocity[i] } else { 0.0 }),
                until,
            },
        };
        *self = Motion {
            origin: here,
            since: now,
            mode,
        };
        if !self.is_moving(now) {
            self.mode = Mode::Idle;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    #[test]
    fn absolute_move_takes_time_in_proportion_to_distance() {
        let t0 = Instant::now();
        let mut m = Motion::at_rest([0.0, 0.0, 0.0], t0);
        m.move_to([1.0, 0.0, 0.0], None, t0);
        assert!(m.is_moving(t0 + Duration::from_millis(500)));
        assert!((m.position(t0 + Duration::from_millis(500))[0] - 0.5).abs() < EPS);
        assert!(!m.is_moving(t0 + Duration::from_millis(1001)));
        assert!((m.position(t0 + Duration::from_secs(5))[0] - 1.0).abs() < EPS);
        // Twice the distance at half the speed takes four times as long.
        let mut slow = Motion::at_rest([-1.0, 0.0, 0.0], t0);
        slow.move_to([1.0, 0.0, 0.0], Some([0.5; 3]), t0);
        assert!(slow.is_moving(t0 + Duration::from_millis(3900)));
        assert!(!slow.is_moving(t0 + Duration::from_millis(4001)));
    }

    #[test]
    fn axes_arrive_together() {
        let t0 = Instant::now();
        let mut m = Motion::at_rest([0.0, 0.0, 0.0], t0);
        m.move_to([1.0, 0.5, 0.0], None, t0);
        let half = m.position(t0 + Duration::from_millis(500));
        assert!((half[0] - 0.5).abs() < EPS && (half[1] - 0.25).abs() < EPS);
    }

    #[test]
    fn continuous_move_honours_timeout_and_limits() {
        let t0 = Instant::now();
        let mut m = Motion::at_rest([0.0, 0.0, 0.5], t0);
        m.continuous([0.5, 0.0, 0.0], Duration::from_secs(1), t0);
        assert!(m.is_moving(t0 + Duration::from_millis(900)));
        assert!(!m.is_moving(t0 + Duration::from_millis(1100)));
        assert!((m.position(t0 + Duration::from_secs(10))[0] - 0.5).abs() < EPS);
        let mut edge = Motion::at_rest([0.9, 0.0, 0.5], t0);
        edge.continuous([1.0, 0.0, 0.0], Duration::from_secs(10), t0);
        assert!(
            !edge.is_moving(t0 + Duration::from_secs(1)),
            "stops at the limit"
        );
        assert!((edge.position(t0 + Duration::from_secs(1))[0] - 1.0).abs() < EPS);
    }

    #[test]
    fn stop_freezes_only_the_chosen_axes() {
        let t0 = Instant::now();
        let mut m = Motion::at_rest([0.0, 0.0, 0.0], t0);
        m.continuous([1.0, 0.0, 1.0], Duration::from_secs(10), t0);
        let t1 = t0 + Duration::from_millis(200);
        m.stop(true, false, t1);
        let (pt, zoom) = m.moving(t1 + Duration::from_millis(100));
        assert!(!pt && zoom);
        m.stop(true, true, t1 + Duration::from_millis(100));
        assert!(!m.is_moving(t1 + Duration::from_millis(150)));
        assert!((m.position(t1 + Duration::from_secs(3))[0] - 0.2).abs() < 1e-6);
    }
}
