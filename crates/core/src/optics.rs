//! Where a point of a camera's picture is: the optics behind "click to
//! centre" and "drag a rectangle to zoom" on a live picture.
//!
//! ONVIF's generic spaces say nothing of degrees: pan and tilt run from −1 to
//! 1 over a range of degrees the camera's maker chose, and zoom from 0 (wide)
//! to 1 (tele) over its lens. [`Optics`] names those ranges (a speed dome's
//! by default: 360° of pan, 180° of tilt, a 60° to 4° lens, and a zoom that
//! magnifies by equal ratios in equal steps, as a zoom lens does), and the
//! picture is taken as an equal-angle projection.

use crate::preset::{InvalidInput, Position};

/// A camera's field of view and the degrees its generic ranges span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Optics {
    /// Horizontal field of view at zoom 0, in degrees.
    pub wide_hfov_deg: f64,
    /// Horizontal field of view at zoom 1, in degrees.
    pub tele_hfov_deg: f64,
    /// Degrees from pan −1 to pan 1 (360: all round, and pan wraps).
    pub pan_range_deg: f64,
    /// Degrees from tilt −1 to tilt 1.
    pub tilt_range_deg: f64,
}

impl Default for Optics {
    fn default() -> Self {
        Optics {
            wide_hfov_deg: 60.0,
            tele_hfov_deg: 4.0,
            pan_range_deg: 360.0,
            tilt_range_deg: 180.0,
        }
    }
}

/// A point of the picture and how much closer to look: `x` and `y` from −1
/// (left, top) to 1 (right, bottom), 0 the centre; `aspect` the picture's
/// width over its height; `factor` above 1 zooms in that many times (a
/// rectangle a third of the picture's width: 3), below 1 out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PicturePoint {
    /// Across, −1 (left edge) to 1 (right edge).
    pub x: f64,
    /// Down, −1 (top edge) to 1 (bottom edge).
    pub y: f64,
    /// Width over height of the picture.
    pub aspect: f64,
    /// Magnification to apply, 1 for none.
    pub factor: f64,
}

impl PicturePoint {
    /// Checks the ranges: x and y in −1..1, aspect in 0.2..5, factor in 0.05..50.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let within = |v: f64, lo: f64, hi: f64| v.is_finite() && (lo..=hi).contains(&v);
        if !within(self.x, -1.0, 1.0) || !within(self.y, -1.0, 1.0) {
            return Err(InvalidInput(format!(
                "picture point ({}, {}) is outside -1..1",
                self.x, self.y
            )));
        }
        if !within(self.aspect, 0.2, 5.0) {
            return Err(InvalidInput(format!(
                "picture aspect {} is outside 0.2..5",
                self.aspect
            )));
        }
        if !within(self.factor, 0.05, 50.0) {
            return Err(InvalidInput(format!(
                "zoom factor {} is outside 0.05..50",
                self.factor
            )));
        }
        Ok(())
    }
}

impl Optics {
    /// Checks that the lens and ranges make sense: fields of view in
    /// (0, 180], tele not wider than wide, ranges in (0, 360].
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let within = |v: f64, hi: f64| v.is_finite() && v > 0.0 && v <= hi;
        if !within(self.wide_hfov_deg, 180.0) || !within(self.tele_hfov_deg, self.wide_hfov_deg) {
            return Err(InvalidInput(format!(
                "fields of view {}° (wide) and {}° (tele): each in (0, 180], tele not wider than wide",
                self.wide_hfov_deg, self.tele_hfov_deg
            )));
        }
        if !within(self.pan_range_deg, 360.0) || !within(self.tilt_range_deg, 360.0) {
            return Err(InvalidInput(format!(
                "pan and tilt ranges {}° and {}°: each in (0, 360]",
                self.pan_range_deg, self.tilt_range_deg
            )));
        }
        Ok(())
    }

    /// The horizontal field of view at generic zoom `zoom`, in degrees.
    pub fn hfov(&self, zoom: f64) -> f64 {
        self.wide_hfov_deg * (self.tele_hfov_deg / self.wide_hfov_deg).powf(zoom.clamp(0.0, 1.0))
    }

    /// The generic zoom that gives horizontal field of view `hfov`, within 0..1.
    pub fn zoom_for(&self, hfov: f64) -> f64 {
        let ratio = self.tele_hfov_deg / self.wide_hfov_deg;
        if ratio >= 1.0 || hfov <= 0.0 {
            return 0.0;
        }
        ((hfov / self.wide_hfov_deg).ln() / ratio.ln()).clamp(0.0, 1.0)
    }

    /// The position that brings `point` of the picture seen from `from` to
    /// its centre, `point.factor` times closer. Pan wraps on a camera that
    /// turns all round; tilt and zoom stop at their ends.
    pub fn centre_on(&self, from: Position, point: PicturePoint) -> Result<Position, InvalidInput> {
        point.validate()?;
        let hfov = self.hfov(from.zoom);
        let vfov = hfov / point.aspect;
        let half_pan = self.pan_range_deg / 2.0;
        let half_tilt = self.tilt_range_deg / 2.0;
        let mut pan = (from.pan * half_pan + point.x * hfov / 2.0) / half_pan;
        if self.pan_range_deg >= 360.0 {
            // All round: −1 and 1 are the same direction.
            pan = (pan + 1.0).rem_euclid(2.0) - 1.0;
        }
        let tilt = (from.tilt * half_tilt - point.y * vfov / 2.0) / half_tilt;
        let zoom = self.zoom_for(hfov / point.factor);
        Position::new(pan.clamp(-1.0, 1.0), tilt.clamp(-1.0, 1.0), zoom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pan: f64, tilt: f64, zoom: f64) -> Position {
        Position::new(pan, tilt, zoom).expect("valid")
    }

    fn point(x: f64, y: f64, factor: f64) -> PicturePoint {
        PicturePoint {
            x,
            y,
            aspect: 16.0 / 9.0,
            factor,
        }
    }

    #[test]
    fn the_centre_with_no_zoom_stays_where_it_is() {
        let o = Optics::default();
        let from = at(0.3, -0.2, 0.4);
        let to = o.centre_on(from, point(0.0, 0.0, 1.0)).expect("valid");
        assert!(to.within(&from, 1e-9), "{to:?}");
    }

    #[test]
    fn the_right_edge_is_half_the_field_of_view_away() {
        let o = Optics::default();
        // At zoom 0 the picture spans 60°: its right edge is 30° to the right,
        // which is 30/180 of pan's half range.
        let to = o
            .centre_on(at(0.0, 0.0, 0.0), point(1.0, 0.0, 1.0))
            .expect("valid");
        assert!((to.pan - 30.0 / 180.0).abs() < 1e-9, "{to:?}");
        // The bottom edge: half the vertical field (60° × 9/16) down.
        let to = o
            .centre_on(at(0.0, 0.0, 0.0), point(0.0, 1.0, 1.0))
            .expect("valid");
        assert!(
            (to.tilt + (60.0 * 9.0 / 16.0 / 2.0) / 90.0).abs() < 1e-9,
            "{to:?}"
        );
    }

    #[test]
    fn zooming_by_a_factor_divides_the_field_of_view() {
        let o = Optics::default();
        let to = o
            .centre_on(at(0.0, 0.0, 0.0), point(0.0, 0.0, 3.0))
            .expect("valid");
        assert!((o.hfov(to.zoom) - 20.0).abs() < 1e-9, "{}", o.hfov(to.zoom));
        // Past the lens's end, the zoom stops there.
        let to = o
            .centre_on(at(0.0, 0.0, 0.9), point(0.0, 0.0, 50.0))
            .expect("valid");
        assert_eq!(to.zoom, 1.0);
        let to = o
            .centre_on(at(0.0, 0.0, 0.1), point(0.0, 0.0, 0.05))
            .expect("valid");
        assert_eq!(to.zoom, 0.0);
    }

    #[test]
    fn pan_wraps_all_round_and_stops_on_a_limited_range() {
        let dome = Optics::default();
        let to = dome
            .centre_on(at(0.95, 0.0, 0.0), point(1.0, 0.0, 1.0))
            .expect("valid");
        assert!(to.pan < -0.85, "wrapped past 180°: {to:?}");
        let limited = Optics {
            pan_range_deg: 340.0,
            ..Optics::default()
        };
        let to = limited
            .centre_on(at(0.95, 0.0, 0.0), point(1.0, 0.0, 1.0))
            .expect("valid");
        assert_eq!(to.pan, 1.0);
    }

    #[test]
    fn points_outside_the_picture_and_odd_lenses_are_refused() {
        let o = Optics::default();
        assert!(
            o.centre_on(at(0.0, 0.0, 0.0), point(1.5, 0.0, 1.0))
                .is_err()
        );
        assert!(
            o.centre_on(at(0.0, 0.0, 0.0), point(0.0, f64::NAN, 1.0))
                .is_err()
        );
        assert!(
            o.centre_on(at(0.0, 0.0, 0.0), point(0.0, 0.0, 0.0))
                .is_err()
        );
        assert!(
            Optics {
                tele_hfov_deg: 90.0,
                ..Optics::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Optics {
                pan_range_deg: 0.0,
                ..Optics::default()
            }
            .validate()
            .is_err()
        );
        assert!(Optics::default().validate().is_ok());
    }
}
