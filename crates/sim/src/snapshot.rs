//! Synthetic snapshots for the simulator's `GetSnapshotUri`: renders what a
//! simulated PTZ camera sees at its pan/tilt/zoom, cut from a procedural 360°
//! panorama with labelled landmarks, so a move is visible in the image.

use jpeg_encoder::{ColorType, Encoder};

/// What one camera looks at; ONVIF generic spaces: pan, tilt in [-1, 1], zoom in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Pan in [-1, 1]; azimuth = pan × 180° (0 is north, 0.5 is east).
    pub pan: f64,
    /// Tilt in [-1, 1]; elevation = tilt × 90°.
    pub tilt: f64,
    /// Zoom in [0, 1]; horizontal field of view from 60° down to 4°.
    pub zoom: f64,
}

/// Renders the view as a baseline JPEG of `width` × `height` pixels. `seed` varies the scenery per camera (camera index) so cameras look different.
///
/// Out-of-range inputs are clamped, NaN counts as 0 and a zero dimension as 1.
/// Cost is proportional to `width × height`. Returns an empty `Vec` only if
/// the encoder reports an error, which writing to memory does not produce.
pub fn render_jpeg(view: View, seed: u64, width: u16, height: u16) -> Vec<u8> {
    let (w, h) = (width.max(1), height.max(1));
    let rgb = render_rgb(view, seed, w, h);
    let mut out = Vec::with_capacity(rgb.len() / 8);
    match Encoder::new(&mut out, QUALITY).encode(&rgb, w, h, ColorType::Rgb) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

const QUALITY: u8 = 80;
/// Horizontal field of view at zoom 0 and zoom 1, in degrees.
const WIDE_HFOV: f64 = 60.0;
const TELE_HFOV: f64 = 4.0;
/// The scenery's gradients stop changing beyond this elevation (degrees).
const SCENE_EL_LIMIT: f64 = 45.0;
/// Depth of the dark tick ruler just below the horizon (degrees).
const RULER_DEPTH: f64 = 1.5;
/// Ruler tick steps (degrees), coarse first, with tick length as a fraction of the ruler.
const TICKS: [(f64, f64); 6] = [
    (45.0, 1.0),
    (15.0, 0.8),
    (5.0, 0.6),
    (1.0, 0.4),
    (0.5, 0.25),
    (0.1, 0.15),
];
/// Finer ticks than this many pixels apart would blur into a grey band.
const MIN_TICK_PX: f64 = 4.0;
/// Minimum spacing of the faint azimuth/elevation grid in sky and ground.
const GRID_MIN_PX: f64 = 40.0;

/// Landmark geometry in degrees; a landmark stands every 45° of azimuth.
const LANDMARK_STEP: f64 = 45.0;
const SIGN_HALF_W: f64 = 4.6;
const SIGN_BOTTOM: f64 = 5.0;
const SIGN_TOP: f64 = 14.0;
const SIGN_BORDER: f64 = 0.3;
const POLE_HALF_W: f64 = 0.3;
const POLE_BOTTOM: f64 = -2.5;
/// Sign text: top edge (elevation) and size of one font pixel, per line.
const SIGN_LINE1: (f64, f64) = (13.1, 0.65);
const SIGN_LINE2: (f64, f64) = (8.0, 0.3);
const COMPASS: [&str; 8] = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
const BEARINGS: [&str; 8] = ["0", "45", "90", "135", "180", "225", "270", "315"];
const SIGN_COLORS: [Rgb; 8] = [
    [200, 40, 40],
    [215, 110, 20],
    [170, 135, 0],
    [40, 140, 60],
    [0, 130, 145],
    [40, 80, 200],
    [125, 60, 175],
    [185, 45, 135],
];

type Rgb = [u8; 3];

const WHITE: Rgb = [245, 245, 245];
const INK: Rgb = [25, 25, 30];
const PALE_YELLOW: Rgb = [255, 240, 160];
const SKY_HORIZON: Rgb = [200, 222, 240];
const SKY_ZENITH: Rgb = [50, 105, 190];
const HAZE: Rgb = [175, 195, 215];
const HILLS: Rgb = [125, 145, 170];
const SUN: Rgb = [255, 250, 220];
const SUN_GLOW: Rgb = [255, 235, 180];
const CLOUD: Rgb = [250, 250, 252];
const ASPHALT: Rgb = [55, 55, 62];
const WINDOW_LIT: Rgb = [250, 215, 120];
const FACADES: [Rgb; 7] = [
    [150, 80, 65],
    [175, 160, 130],
    [90, 110, 135],
    [120, 125, 130],
    [70, 120, 125],
    [190, 185, 170],
    [110, 85, 110],
];

/// The render before encoding: `w × h` RGB bytes, row-major.
fn render_rgb(view: View, seed: u64, w: u16, h: u16) -> Vec<u8> {
    let optics = Optics::new(view, w, h);
    let scene = Scene::new(seed);
    let (w, h) = (usize::from(w), usize::from(h));

    // Everything that depends on azimuth only or elevation only is computed
    // once per column or row, so the per-pixel work is a few comparisons.
    let cols: Vec<Column> = (0..w)
        .map(|x| Column::new(&scene, &optics, x as f64 + 0.5))
        .collect();
    let rows: Vec<Row> = (0..h)
        .map(|y| Row::new(&scene, &optics, y as f64 + 0.5))
        .collect();

    let mut img = vec![0u8; w * h * 3];
    for (line, row) in img.chunks_exact_mut(w * 3).zip(&rows) {
        for (px, col) in line.chunks_exact_mut(3).zip(&cols) {
            px.copy_from_slice(&shade(&scene, col, row));
        }
    }
    draw_overlays(&mut img, w, h, &optics);
    img
}

/// NaN becomes 0 and everything else is clamped to `[lo, hi]`.
fn sanitize(v: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(lo, hi) }
}

/// Maps between pixels and angles for one view (a simple cylindrical
/// projection: equal degrees per pixel both ways).
struct Optics {
    pan: f64,
    tilt: f64,
    zoom: f64,
    /// View centre; azimuth is unwrapped (−180..180), elevation −90..90.
    az0: f64,
    el0: f64,
    /// Degrees per pixel.
    dpp: f64,
    w: f64,
    h: f64,
}

impl Optics {
    fn new(view: View, w: u16, h: u16) -> Self {
        let pan = sanitize(view.pan, -1.0, 1.0);
        let tilt = sanitize(view.tilt, -1.0, 1.0);
        let zoom = sanitize(view.zoom, 0.0, 1.0);
        // Geometric interpolation: equal zoom steps give equal magnification
        // ratios, as with a real zoom lens.
        let hfov = WIDE_HFOV * (TELE_HFOV / WIDE_HFOV).powf(zoom);
        let w = f64::from(w);
        Self {
            pan,
            tilt,
            zoom,
            az0: pan * 180.0,
            el0: tilt * 90.0,
            dpp: hfov / w,
            w,
            h: f64::from(h),
        }
    }

    /// Spacing of the faint sky/ground grid: the finest step that keeps grid
    /// lines at least `GRID_MIN_PX` apart.
    fn grid_step(&self) -> f64 {
        [1.0, 5.0, 15.0, 45.0]
            .into_iter()
            .find(|step| step / self.dpp >= GRID_MIN_PX)
            .unwrap_or(90.0)
    }

    fn hfov(&self) -> f64 {
        self.dpp * self.w
    }

    /// Unwrapped azimuth at horizontal pixel coordinate `x`.
    fn az_at(&self, x: f64) -> f64 {
        self.az0 + (x - self.w / 2.0) * self.dpp
    }

    fn el_at(&self, y: f64) -> f64 {
        self.el0 - (y - self.h / 2.0) * self.dpp
    }

    /// Pixel x of an unwrapped azimuth.
    fn x_of(&self, az: f64) -> f64 {
        (az - self.az0) / self.dpp + self.w / 2.0
    }

    fn y_of(&self, el: f64) -> f64 {
        (self.el0 - el) / self.dpp + self.h / 2.0
    }
}

/// splitmix64: tiny, deterministic across platforms, good enough for scenery.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// A building spans azimuths `[start, end)` inside `[0, 360)` and rises from
/// the horizon to elevation `top`.
struct Building {
    start: f64,
    end: f64,
    top: f64,
    color: Rgb,
    id: u64,
}

/// An elliptical puff of cloud, in degrees.
struct Blob {
    az: f64,
    el: f64,
    half_w: f64,
    half_h: f64,
}

/// The per-camera panorama, generated from the seed.
struct Scene {
    back: Vec<Building>,
    front: Vec<Building>,
    /// Ridge line of the distant hills: (harmonic, amplitude, phase).
    hills: [(f64, f64, f64); 5],
    sun_az: f64,
    sun_el: f64,
    /// At most 32 so a column can record the relevant ones in a `u32` mask.
    blobs: Vec<Blob>,
    grass: Rgb,
}

impl Scene {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed ^ 0x7A4D_E3C1_0B5E_ED00);
        let back = skyline(&mut rng, (2.0, 7.0), (0.0, 1.5), (3.0, 10.0), 0);
        let front = skyline(&mut rng, (1.5, 5.0), (0.5, 4.0), (1.5, 6.0), 1 << 32);
        let mut hills = [(0.0, 0.0, 0.0); 5];
        // Integer harmonics keep the ridge continuous across north.
        for (slot, (k, amp)) in
            hills
                .iter_mut()
                .zip([(2.0, 1.0), (3.0, 0.7), (5.0, 0.5), (8.0, 0.3), (13.0, 0.15)])
        {
            *slot = (
                k,
                amp * rng.range(0.6, 1.4),
                rng.range(0.0, std::f64::consts::TAU),
            );
        }
        let mut blobs = Vec::new();
        for _ in 0..6 {
            let (az, el) = (rng.range(0.0, 360.0), rng.range(9.0, 40.0));
            let (half_w, half_h) = (rng.range(4.0, 8.0), rng.range(1.0, 2.0));
            // Three overlapping ellipses read as a cloud rather than a disc.
            for (dx, dy, s) in [(0.0, 0.0, 1.0), (-0.6, -0.3, 0.6), (0.55, -0.2, 0.7)] {
                blobs.push(Blob {
                    az: (az + dx * half_w).rem_euclid(360.0),
                    el: el + dy * half_h,
                    half_w: half_w * s,
                    half_h: half_h * (0.6 + s * 0.6),
                });
            }
        }
        let green = rng.range(0.0, 1.0);
        Self {
            back,
            front,
            hills,
            sun_az: rng.range(0.0, 360.0),
            sun_el: rng.range(12.0, 30.0),
            blobs,
            grass: mix([95, 125, 70], [125, 120, 75], green),
        }
    }

    fn ridge(&self, az: f64) -> f64 {
        let a = az.to_radians();
        let sum: f64 = self
            .hills
            .iter()
            .map(|&(k, amp, phase)| amp * (k * a + phase).sin())
            .sum();
        (3.0 + sum).max(0.3)
    }
}

/// Lays buildings left to right around the circle; widths, gaps and heights
/// are drawn from the given ranges.
fn skyline(
    rng: &mut Rng,
    widths: (f64, f64),
    gaps: (f64, f64),
    heights: (f64, f64),
    id_base: u64,
) -> Vec<Building> {
    let mut out = Vec::new();
    let mut az = rng.range(0.0, gaps.1);
    loop {
        let end = az + rng.range(widths.0, widths.1);
        // Stop short of 360° so no building straddles north and lookup by
        // sorted start stays a plain binary search.
        if end > 359.5 {
            return out;
        }
        let base = rng.pick(&FACADES);
        let jitter = rng.range(0.85, 1.15);
        out.push(Building {
            start: az,
            end,
            top: rng.range(heights.0, heights.1),
            color: scale(base, jitter),
            id: id_base + out.len() as u64,
        });
        az = end + rng.range(gaps.0, gaps.1);
    }
}

fn building_at(buildings: &[Building], az: f64) -> Option<usize> {
    let i = buildings.partition_point(|b| b.start <= az);
    (i > 0 && az < buildings[i - 1].end).then(|| i - 1)
}

/// Per-column precomputation: everything that depends on azimuth only.
struct Column {
    /// Azimuth wrapped to `[0, 360)`.
    az: f64,
    front: Option<usize>,
    back: Option<usize>,
    ridge: f64,
    /// Nearest landmark and the signed azimuth offset to it.
    mark: usize,
    mark_dx: f64,
    /// Ruler tick length as a fraction of the ruler depth; 0 for no tick.
    tick: f64,
    sun_dx: f64,
    /// On a grid meridian.
    grid: bool,
    /// Bit `i` set when cloud blob `i` covers this column.
    blobs: u32,
}

impl Column {
    fn new(scene: &Scene, optics: &Optics, x: f64) -> Self {
        let raw = optics.az_at(x);
        let az = raw.rem_euclid(360.0);
        let k = (az / LANDMARK_STEP).round();
        let half = optics.dpp / 2.0;
        let tick = TICKS
            .iter()
            .find(|&&(step, _)| step / optics.dpp >= MIN_TICK_PX && spans_multiple(raw, half, step))
            .map_or(0.0, |&(_, len)| len);
        let blobs = scene
            .blobs
            .iter()
            .enumerate()
            .filter(|(_, b)| wrap180(az - b.az).abs() < b.half_w)
            .fold(0u32, |mask, (i, _)| mask | 1 << i);
        Self {
            az,
            front: building_at(&scene.front, az),
            back: building_at(&scene.back, az),
            ridge: scene.ridge(az),
            mark: (k as usize) % COMPASS.len(),
            mark_dx: az - k * LANDMARK_STEP,
            tick,
            sun_dx: wrap180(az - scene.sun_az),
            grid: spans_multiple(raw, half, optics.grid_step()),
            blobs,
        }
    }
}

/// Per-row precomputation: elevation and the sky and ground colours there.
struct Row {
    el: f64,
    sky: Rgb,
    ground: Rgb,
    /// On a grid parallel.
    grid: bool,
}

impl Row {
    fn new(scene: &Scene, optics: &Optics, y: f64) -> Self {
        let el = optics.el_at(y);
        let depth = (-el).clamp(RULER_DEPTH, SCENE_EL_LIMIT);
        let mut ground = mix(scene.grass, scale(scene.grass, 0.7), depth / SCENE_EL_LIMIT);
        // Bands at doubling distances on flat ground, so tilt moves show even
        // when looking down at grass alone.
        let distance = 1.0 / depth.to_radians().tan();
        if (distance.log2() * 2.0).floor() as i64 % 2 == 0 {
            ground = scale(ground, 0.88);
        }
        let height = (el / SCENE_EL_LIMIT).clamp(0.0, 1.0);
        let sky = mix(SKY_HORIZON, SKY_ZENITH, height.sqrt());
        let grid = spans_multiple(el, optics.dpp / 2.0, optics.grid_step());
        Self {
            el,
            sky,
            ground,
            grid,
        }
    }
}

/// Whether a pixel spanning `[v - half, v + half]` contains a multiple of
/// `step`; this keeps ticks and grid lines exactly one pixel wide.
fn spans_multiple(v: f64, half: f64, step: f64) -> bool {
    ((v + half) / step).floor() > ((v - half) / step).floor()
}

/// Degrees folded into `[-180, 180)`.
fn wrap180(d: f64) -> f64 {
    (d + 180.0).rem_euclid(360.0) - 180.0
}

/// Colour of one pixel; layers are tested front to back so the first hit wins.
fn shade(scene: &Scene, col: &Column, row: &Row) -> Rgb {
    let el = row.el;
    if let Some(c) = landmark(col, el) {
        return c;
    }
    if el >= 0.0 {
        if let Some(b) = col.front.map(|i| &scene.front[i])
            && el < b.top
        {
            return facade(b, col.az, el);
        }
        if let Some(b) = col.back.map(|i| &scene.back[i])
            && el < b.top
        {
            // Aerial perspective: the back row fades towards the haze.
            return mix(facade(b, col.az, el), HAZE, 0.45);
        }
        if el < col.ridge {
            return mix(HILLS, HAZE, el / col.ridge * 0.5);
        }
        // The faint grid keeps pans and tilts visible with only sky in view.
        let c = sky(scene, col, row);
        if col.grid || row.grid {
            mix(c, WHITE, 0.2)
        } else {
            c
        }
    } else if el > -RULER_DEPTH {
        if -el / RULER_DEPTH < col.tick {
            WHITE
        } else {
            ASPHALT
        }
    } else if col.grid || row.grid {
        scale(row.ground, 0.8)
    } else {
        row.ground
    }
}

/// The sign-on-a-pole landmark nearest this column, if the pixel is on it.
fn landmark(col: &Column, el: f64) -> Option<Rgb> {
    let dx = col.mark_dx;
    if dx.abs() > SIGN_HALF_W {
        return None;
    }
    let color = SIGN_COLORS[col.mark];
    if (SIGN_BOTTOM..=SIGN_TOP).contains(&el) {
        let inner = SIGN_HALF_W - SIGN_BORDER;
        if dx.abs() > inner || !(SIGN_BOTTOM + SIGN_BORDER..=SIGN_TOP - SIGN_BORDER).contains(&el) {
            return Some(INK);
        }
        let (top1, px1) = SIGN_LINE1;
        if text_hit(COMPASS[col.mark], dx / px1, (top1 - el) / px1) {
            return Some(WHITE);
        }
        let (top2, px2) = SIGN_LINE2;
        if text_hit(BEARINGS[col.mark], dx / px2, (top2 - el) / px2) {
            return Some(PALE_YELLOW);
        }
        return Some(color);
    }
    if dx.abs() < POLE_HALF_W && (POLE_BOTTOM..SIGN_BOTTOM).contains(&el) {
        // Striped like a survey pole (1° bands), shaded to look round.
        // `as` truncates, which is floor here since el > POLE_BOTTOM.
        let band = ((el - POLE_BOTTOM) as i64) % 2 == 0;
        let base = if band { color } else { WHITE };
        return Some(scale(base, 1.0 - 0.4 * (dx / POLE_HALF_W).powi(2)));
    }
    None
}

/// Whether font pixel (`u`, `v`) of `text`, centred horizontally on `u = 0`
/// with its top at `v = 0`, is ink.
fn text_hit(text: &str, u: f64, v: f64) -> bool {
    let cols = (text.len() * 6).saturating_sub(1) as f64;
    let u = u + cols / 2.0;
    if u < 0.0 || v < 0.0 || u >= cols || v >= 7.0 {
        return false;
    }
    let (col, row) = (u as usize, v as usize);
    let (ch, gx) = (col / 6, col % 6);
    gx < 5
        && text
            .as_bytes()
            .get(ch)
            .and_then(|&c| glyph(c))
            .is_some_and(|g| g[row] >> (4 - gx) & 1 == 1)
}

fn facade(b: &Building, az: f64, el: f64) -> Rgb {
    // Parapet and edge shading separate buildings that touch.
    if el > b.top - 0.25 {
        return scale(b.color, 0.7);
    }
    let (u, from_right) = (az - b.start, b.end - az);
    if u < 0.15 {
        return scale(b.color, 1.15);
    }
    if from_right < 0.15 {
        return scale(b.color, 0.8);
    }
    const CELL_W: f64 = 0.8;
    const CELL_H: f64 = 1.0;
    if u > 0.35 && from_right > 0.35 && el > 0.6 && el < b.top - 0.6 {
        // Plain casts instead of floor/fract: both are positive here and the
        // casts avoid a libm call per pixel.
        let (cu, cv) = ((u / CELL_W) as u64, (el / CELL_H) as u64);
        let (fu, fv) = (u / CELL_W - cu as f64, el / CELL_H - cv as f64);
        if (0.3..0.75).contains(&fu) && (0.3..0.8).contains(&fv) {
            let cell = mix64(b.id ^ cu << 16 ^ cv << 40);
            return if cell.is_multiple_of(4) {
                WINDOW_LIT
            } else {
                scale(b.color, 0.45)
            };
        }
    }
    b.color
}

fn sky(scene: &Scene, col: &Column, row: &Row) -> Rgb {
    const SUN_RADIUS: f64 = 1.6;
    /// Beyond this the glow is below half a colour step, so skip the `exp`.
    const GLOW_REACH: f64 = 25.0;
    let (el, mut c) = (row.el, row.sky);
    let (dx, dy) = (col.sun_dx, el - scene.sun_el);
    if dx.abs() < GLOW_REACH && dy.abs() < GLOW_REACH {
        let d = (dx * dx + dy * dy).sqrt();
        if d < SUN_RADIUS {
            return SUN;
        }
        c = mix(c, SUN_GLOW, 0.55 * (-(d - SUN_RADIUS) / 4.0).exp());
    }
    let mut mask = col.blobs;
    while mask != 0 {
        let b = &scene.blobs[mask.trailing_zeros() as usize];
        mask &= mask - 1;
        let (dx, dy) = (wrap180(col.az - b.az) / b.half_w, (el - b.el) / b.half_h);
        let q = dx * dx + dy * dy;
        if q < 1.0 {
            c = mix(c, CLOUD, 0.9 * (1.0 - q).sqrt());
        }
    }
    c
}

// Both helpers round with `+ 0.5` and a cast rather than `round()`, which is
// a libm call on baseline x86-64 and dominated the per-pixel cost; the cast
// saturates, so no channel can wrap.

fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    std::array::from_fn(|i| (f64::from(a[i]) + (f64::from(b[i]) - f64::from(a[i])) * t + 0.5) as u8)
}

fn scale(c: Rgb, f: f64) -> Rgb {
    c.map(|v| (f64::from(v) * f + 0.5) as u8)
}

/// Screen-space annotations drawn over the rendered scene: bearing labels
/// under the ruler, an elevation scale, a crosshair and the numeric state.
fn draw_overlays(img: &mut [u8], w: usize, h: usize, optics: &Optics) {
    let mut canvas = Canvas { img, w, h };
    // Text scale grows with the image so labels stay readable.
    let s = ((h as f64 / 180.0).round() as i64).clamp(1, 8);
    let glyph_w = 6 * s;

    // Bearing labels: the finest step that leaves room between labels.
    let px_per_deg = 1.0 / optics.dpp;
    if let Some(step) = [1.0, 5.0, 15.0, 45.0]
        .into_iter()
        .find(|step| step * px_per_deg >= (6 * glyph_w) as f64)
    {
        let y = optics.y_of(-RULER_DEPTH).round() as i64 + 2 * s;
        let first = (optics.az_at(0.0) / step).ceil() as i64;
        let last = (optics.az_at(optics.w) / step).floor() as i64;
        for k in first..=last {
            let az = k as f64 * step;
            let text = format!("{}", az.rem_euclid(360.0).round() as i64 % 360);
            let x = optics.x_of(az).round() as i64 - canvas.text_width(&text, s) / 2;
            canvas.text(x, y, s, &text, WHITE);
        }
    }

    // Elevation scale on the right edge, away from the status box.
    if let Some(step) = [1.0, 5.0, 15.0, 30.0]
        .into_iter()
        .find(|step| step * px_per_deg >= (28 * s) as f64)
    {
        let first = (optics.el_at(optics.h) / step).ceil() as i64;
        let last = (optics.el_at(0.0) / step).floor() as i64;
        for k in first..=last {
            let el = k as f64 * step;
            if el.abs() > 90.0 {
                continue;
            }
            let (y, right) = (optics.y_of(el).round() as i64, w as i64);
            canvas.rect(right - 4 * s - 1, y - s / 2 - 1, right, y + s / 2 + 1, INK);
            canvas.rect(right - 4 * s, y - s / 2, right, y + s / 2, WHITE);
            let text = if k > 0 {
                format!("+{el}")
            } else {
                format!("{el}")
            };
            let x = right - 6 * s - canvas.text_width(&text, s);
            canvas.text(x, y - 7 * s / 2, s, &text, WHITE);
        }
    }

    // Crosshair at the optical centre.
    let (cx, cy) = ((w / 2) as i64, (h / 2) as i64);
    let (gap, arm, t) = (3 * s, 9 * s, (s / 2).max(1));
    let (lo, hi) = (-t / 2, t - t / 2);
    let arms = [
        (cx - arm, cy + lo, cx - gap, cy + hi),
        (cx + gap, cy + lo, cx + arm, cy + hi),
        (cx + lo, cy - arm, cx + hi, cy - gap),
        (cx + lo, cy + gap, cx + hi, cy + arm),
    ];
    // Outline first, then fill, so the arms read on light and dark alike.
    for (x0, y0, x1, y1) in arms {
        canvas.rect(x0 - 1, y0 - 1, x1 + 1, y1 + 1, INK);
    }
    for (x0, y0, x1, y1) in arms {
        canvas.rect(x0, y0, x1, y1, WHITE);
    }

    // Exact state in the top-left corner, on a darkened box.
    let lines = status_lines(optics);
    let pad = 2 * s;
    let line_h = 9 * s;
    let box_w = lines
        .iter()
        .map(|l| canvas.text_width(l, s))
        .max()
        .unwrap_or(0)
        + 2 * pad;
    let box_h = line_h * lines.len() as i64 + 2 * pad - 2 * s;
    let (bx, by) = (pad, pad);
    canvas.darken(bx, by, bx + box_w, by + box_h, 0.6);
    for (i, line) in lines.iter().enumerate() {
        canvas.text(bx + pad, by + pad + i as i64 * line_h, s, line, WHITE);
    }
}

/// The overlay text, e.g. `P 0.25 T -0.10 Z 0.50` / `AZ 45.0 EL -9.0 FOV 60.0`.
/// The first line echoes the clamped request; the second gives the angles.
fn status_lines(optics: &Optics) -> [String; 2] {
    [
        format!(
            "P {} T {} Z {}",
            fixed(optics.pan, 2),
            fixed(optics.tilt, 2),
            fixed(optics.zoom, 2)
        ),
        format!(
            "AZ {} EL {} FOV {}",
            // Round before wrapping so a hair west of north shows 0.0, not 360.0.
            fixed(((optics.az0 * 10.0).round() / 10.0).rem_euclid(360.0), 1),
            fixed(optics.el0, 1),
            fixed(optics.hfov(), 1)
        ),
    ]
}

/// `v` with `decimals` places, never printing "-0.00".
fn fixed(v: f64, decimals: usize) -> String {
    let half_ulp = 0.5 * 10f64.powi(-(decimals as i32));
    let v = if v.abs() < half_ulp { 0.0 } else { v };
    format!("{v:.decimals$}")
}

/// Bounds-checked drawing on the RGB buffer; anything off-image is skipped.
struct Canvas<'a> {
    img: &'a mut [u8],
    w: usize,
    h: usize,
}

impl Canvas<'_> {
    /// Calls `f` on every on-image pixel of `[x0, x1) × [y0, y1)`.
    fn each(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, mut f: impl FnMut(&mut [u8])) {
        let clip = |v: i64, max: usize| v.clamp(0, max as i64) as usize;
        let (x0, x1) = (clip(x0, self.w), clip(x1, self.w));
        let (y0, y1) = (clip(y0, self.h), clip(y1, self.h));
        for y in y0..y1 {
            let line = &mut self.img[(y * self.w + x0) * 3..(y * self.w + x1) * 3];
            line.chunks_exact_mut(3).for_each(&mut f);
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        self.each(x0, y0, x1, y1, |px| px.copy_from_slice(&c));
    }

    fn darken(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, amount: f64) {
        self.each(x0, y0, x1, y1, |px| {
            for v in px {
                *v = (f64::from(*v) * (1.0 - amount)) as u8;
            }
        });
    }

    fn text_width(&self, text: &str, s: i64) -> i64 {
        (text.len() as i64 * 6 - 1).max(0) * s
    }

    /// Draws `text` with its top-left at (`x`, `y`), each font pixel `s`×`s`,
    /// outlined in ink so it reads on sky and ground alike.
    fn text(&mut self, x: i64, y: i64, s: i64, text: &str, c: Rgb) {
        for (pass, color) in [(0, INK), (1, c)] {
            for (i, ch) in text.bytes().enumerate() {
                let Some(g) = glyph(ch) else { continue };
                for (row, bits) in g.iter().enumerate() {
                    for gx in 0..5 {
                        if bits >> (4 - gx) & 1 == 0 {
                            continue;
                        }
                        let px = x + (i as i64 * 6 + gx) * s;
                        let py = y + row as i64 * s;
                        if pass == 0 {
                            self.rect(px - 1, py - 1, px + s + 1, py + s + 1, color);
                        } else {
                            self.rect(px, py, px + s, py + s, color);
                        }
                    }
                }
            }
        }
    }
}

/// 5×7 bitmap glyphs, one byte per row, bit 4 is the leftmost column. Only
/// the characters the renderer prints are drawn; anything else is blank.
fn glyph(c: u8) -> Option<[u8; 7]> {
    Some(match c {
        b'0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        b'1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        b'2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        b'3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        b'4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        b'5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        b'6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        b'7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        b'8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        b'9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        b'.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        b'-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        b'+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        b'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        b'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        b'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        b'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        b'N' => [0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11],
        b'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        b'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        b'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        b'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        b'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        b'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        b'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        b' ' => [0; 7],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: View = View {
        pan: 0.0,
        tilt: 0.0,
        zoom: 0.0,
    };

    fn is_jpeg(bytes: &[u8]) -> bool {
        bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
    }

    #[test]
    fn output_is_a_complete_jpeg() {
        assert!(is_jpeg(&render_jpeg(HOME, 0, 640, 360)));
    }

    #[test]
    fn same_inputs_give_identical_bytes() {
        let v = View {
            pan: 0.3,
            tilt: -0.1,
            zoom: 0.4,
        };
        assert_eq!(render_jpeg(v, 7, 320, 180), render_jpeg(v, 7, 320, 180));
    }

    #[test]
    fn different_pans_differ() {
        let east = View { pan: 0.5, ..HOME };
        assert_ne!(
            render_jpeg(HOME, 0, 320, 180),
            render_jpeg(east, 0, 320, 180)
        );
    }

    #[test]
    fn a_small_pan_step_changes_the_pixels() {
        let nudged = View { pan: 0.01, ..HOME };
        assert_ne!(
            render_rgb(HOME, 0, 320, 180),
            render_rgb(nudged, 0, 320, 180)
        );
    }

    #[test]
    fn zoomed_in_differs_from_zoomed_out() {
        let tele = View { zoom: 1.0, ..HOME };
        assert_ne!(
            render_jpeg(HOME, 0, 320, 180),
            render_jpeg(tele, 0, 320, 180)
        );
    }

    #[test]
    fn seeds_give_different_scenery() {
        assert_ne!(render_rgb(HOME, 0, 320, 180), render_rgb(HOME, 1, 320, 180));
    }

    #[test]
    fn extreme_and_nan_inputs_do_not_panic() {
        let odd = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -1e300,
            -0.0,
        ];
        for &a in &odd {
            for &b in &odd {
                let v = View {
                    pan: a,
                    tilt: b,
                    zoom: a,
                };
                assert!(is_jpeg(&render_jpeg(v, u64::MAX, 64, 36)));
            }
        }
        for (w, h) in [(0, 0), (1, 1), (0, 50), (2000, 1), (1, 2000), (7, 3)] {
            assert!(is_jpeg(&render_jpeg(HOME, 3, w, h)), "{w}x{h}");
        }
    }

    #[test]
    fn nan_is_treated_as_zero() {
        let nan = View {
            pan: f64::NAN,
            tilt: f64::NAN,
            zoom: f64::NAN,
        };
        assert_eq!(render_rgb(nan, 0, 64, 36), render_rgb(HOME, 0, 64, 36));
    }

    #[test]
    fn every_printed_character_has_a_glyph() {
        let views = [
            HOME,
            View {
                pan: -1.0,
                tilt: -1.0,
                zoom: 1.0,
            },
            View {
                pan: 0.123,
                tilt: 0.456,
                zoom: 0.789,
            },
        ];
        let mut text: String = COMPASS.concat() + &BEARINGS.concat() + "+-";
        for v in views {
            text += &status_lines(&Optics::new(v, 640, 360)).concat();
        }
        for c in text.bytes() {
            assert!(glyph(c).is_some(), "no glyph for {:?}", c as char);
        }
    }

    #[test]
    fn status_shows_clamped_state_without_negative_zero() {
        let v = View {
            pan: 0.25,
            tilt: -0.0001,
            zoom: 2.0,
        };
        let [first, second] = status_lines(&Optics::new(v, 640, 360));
        assert_eq!(first, "P 0.25 T 0.00 Z 1.00");
        assert_eq!(second, "AZ 45.0 EL 0.0 FOV 4.0");
        let west_of_north = View {
            pan: -0.0001,
            ..HOME
        };
        let [_, second] = status_lines(&Optics::new(west_of_north, 640, 360));
        assert_eq!(second, "AZ 0.0 EL 0.0 FOV 60.0");
    }

    #[test]
    fn landmarks_follow_the_compass() {
        let scene = Scene::new(0);
        for (pan, label) in [(0.0, "N"), (0.5, "E"), (-0.25, "NW"), (-1.0, "S")] {
            let optics = Optics::new(View { pan, ..HOME }, 640, 360);
            let centre = Column::new(&scene, &optics, 320.0);
            assert_eq!(COMPASS[centre.mark], label, "pan {pan}");
            assert!(centre.mark_dx.abs() < 0.1);
        }
    }
}
