//! The shared canvas widget.
//!
//! Strokes are kept as the segments received (or drawn here), in logical
//! coordinates ([`WIDTH`] x [`HEIGHT`]). They are rasterised by [`Raster`]
//! into an RGB buffer the size of the visible drawing area, whose changed part
//! is uploaded into an FLTK [`Offscreen`]; a redraw of the widget only copies
//! that offscreen. A new segment is rasterised once; a resize rasterises every
//! segment once (10,000 strokes take a few milliseconds, see
//! examples/gui_bench.rs: FLTK's anti-aliased cairo lines cost ~35 µs each).
//!
//! The local user's drag is cut into segments that the window sends at least
//! every 50 ms (the app calls [`Canvas::flush`] from a 40 ms timer) and
//! whenever a segment is full.

use std::cell::RefCell;
use std::rc::Rc;

use fltk::draw::{self, Offscreen};
use fltk::enums::{Color, ColorDepth, Event, FrameType};
use fltk::prelude::*;
use fltk::widget::Widget;

use crate::canvas::{HEIGHT, MAX_BRUSH, Stroke, WIDTH};

/// Colour around the drawing area (the letterbox).
const MARGIN: u32 = 0x6b6b6b;
/// Brush radius in pixels up to which segments are stamped, not filled exactly.
const THIN: f64 = 2.0;
/// Colour of the paper.
pub const PAPER: u32 = 0xffffff;

/// Where the logical area lands in a widget of the given bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
    pub scale: f64,
}

impl Geometry {
    pub fn fit(x: i32, y: i32, w: i32, h: i32) -> Geometry {
        // One pixel of margin on each side for the border.
        let scale = (f64::from(w - 2) / f64::from(WIDTH)).min(f64::from(h - 2) / f64::from(HEIGHT)).max(0.01);
        let aw = ((f64::from(WIDTH) * scale).floor() as i32).max(1);
        let ah = ((f64::from(HEIGHT) * scale).floor() as i32).max(1);
        Geometry { x: x + (w - aw) / 2, y: y + (h - ah) / 2, w: aw, h: ah, scale }
    }

    /// Screen position to logical point, clamped to the canvas.
    pub fn to_logical(&self, sx: i32, sy: i32) -> (u16, u16) {
        let lx = (f64::from(sx - self.x) / self.scale).round().clamp(0.0, f64::from(WIDTH - 1));
        let ly = (f64::from(sy - self.y) / self.scale).round().clamp(0.0, f64::from(HEIGHT - 1));
        (lx as u16, ly as u16)
    }

    pub fn contains(&self, sx: i32, sy: i32) -> bool {
        sx >= self.x && sy >= self.y && sx < self.x + self.w && sy < self.y + self.h
    }
}

/// An RGB pixel buffer that strokes are rasterised into (no anti-aliasing:
/// exact colours, and fast enough to redraw 10,000 strokes within a frame).
pub struct Raster {
    pub w: i32,
    pub h: i32,
    scale: f64,
    pub px: Vec<u8>,
    /// Changed pixels not yet uploaded: x0, y0, x1, y1 (exclusive).
    dirty: Option<(i32, i32, i32, i32)>,
}

impl Raster {
    pub fn new(w: i32, h: i32, scale: f64) -> Raster {
        let (w, h) = (w.max(1), h.max(1));
        let paper = [(PAPER >> 16) as u8, (PAPER >> 8) as u8, PAPER as u8];
        Raster { w, h, scale, px: paper.repeat((w * h) as usize), dirty: Some((0, 0, w, h)) }
    }

    fn mark(&mut self, x0: i32, y0: i32, x1: i32, y1: i32) {
        let d = self.dirty.get_or_insert((x0, y0, x1, y1));
        *d = (d.0.min(x0), d.1.min(y0), d.2.max(x1), d.3.max(y1));
    }

    /// Fills pixels x0..=x1 of row y (clipped); returns the clipped span.
    fn fill_span(&mut self, y: i32, x0: i32, x1: i32, rgb: [u8; 3]) -> Option<(i32, i32)> {
        let (x0, x1) = (x0.max(0), x1.min(self.w - 1));
        if y < 0 || y >= self.h || x0 > x1 {
            return None;
        }
        let row = (y * self.w) as usize * 3;
        for p in self.px[row + x0 as usize * 3..row + (x1 as usize + 1) * 3].chunks_exact_mut(3) {
            p.copy_from_slice(&rgb);
        }
        Some((x0, x1))
    }

    /// A segment with round ends: the capsule of radius `r` around p0-p1,
    /// filled one row at a time (a capsule meets each row in one interval:
    /// the union of what the two end discs and the band between them cover).
    fn capsule(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), r: f64, rgb: [u8; 3]) {
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let rlen = r * len2.sqrt();
        let has_band = len2 > 1e-12;
        let inv_dx = if dx.abs() > 1e-9 { 1.0 / dx } else { 0.0 };
        let inv_dy = if dy.abs() > 1e-9 { 1.0 / dy } else { 0.0 };
        let r2 = r * r;
        let top = (y0.min(y1) - r).floor().max(0.0) as i32;
        let bottom = (y0.max(y1) + r).ceil().min(f64::from(self.h - 1)) as i32;
        let (mut minx, mut maxx) = (i32::MAX, i32::MIN);
        for py in top..=bottom {
            let y = f64::from(py);
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for (cx, cy) in [(x0, y0), (x1, y1)] {
                let ry = y - cy;
                if ry * ry <= r2 {
                    let rx = (r2 - ry * ry).sqrt();
                    lo = lo.min(cx - rx);
                    hi = hi.max(cx + rx);
                }
            }
            if has_band {
                let (mut a, mut b) = (f64::NEG_INFINITY, f64::INFINITY);
                let mut empty = false;
                // The projection on the segment lies in [0, len2].
                let c = (y - y0) * dy;
                if inv_dx != 0.0 {
                    let (t0, t1) = (x0 - c * inv_dx, x0 + (len2 - c) * inv_dx);
                    a = a.max(t0.min(t1));
                    b = b.min(t0.max(t1));
                } else if c < 0.0 || c > len2 {
                    empty = true;
                }
                // The distance to the segment's line is at most r.
                let e = (y - y0) * dx;
                if inv_dy != 0.0 {
                    let (u0, u1) = (x0 + (e - rlen) * inv_dy, x0 + (e + rlen) * inv_dy);
                    a = a.max(u0.min(u1));
                    b = b.min(u0.max(u1));
                } else if e.abs() > rlen {
                    empty = true;
                }
                if !empty && a <= b {
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
            }
            if lo <= hi {
                let (mut from, mut to) = (lo.ceil() as i32, hi.floor() as i32);
                if from > to {
                    // A thin line between two pixel centres: keep it connected.
                    from = ((lo + hi) * 0.5).round() as i32;
                    to = from;
                }
                if let Some((a, b)) = self.fill_span(py, from, to, rgb) {
                    minx = minx.min(a);
                    maxx = maxx.max(b);
                }
            }
        }
        if minx <= maxx {
            self.mark(minx, top, maxx + 1, bottom + 1);
        }
    }

    /// The round stamp of a thin brush of radius `r`, as spans per row:
    /// (row offset, first and last column offset).
    fn stamp(r: f64) -> Vec<(i32, i32, i32)> {
        let side = ((2.0 * r).round() as i32).max(1);
        let c = f64::from(side - 1) / 2.0;
        let off = (side - 1) / 2;
        (0..side)
            .filter_map(|j| {
                let inside =
                    |i: &i32| side < 3 || (f64::from(*i) - c).powi(2) + (f64::from(j) - c).powi(2) <= r * r + 0.5;
                let a = (0..side).find(inside)?;
                let b = (0..side).rev().find(inside)?;
                Some((j - off, a - off, b - off))
            })
            .collect()
    }

    /// A thin segment (most of them, at window scale): the brush's stamp
    /// moved one pixel at a time along the longer axis, which is far cheaper
    /// than the exact capsule and looks the same without anti-aliasing.
    fn thin(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), stamp: &[(i32, i32, i32)], rgb: [u8; 3]) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as i32;
        let (sx, sy) = ((x1 - x0) / f64::from(steps), (y1 - y0) / f64::from(steps));
        let w = self.w as usize;
        for k in 0..=steps {
            let px = (x0 + sx * f64::from(k)).round() as i32;
            let py = (y0 + sy * f64::from(k)).round() as i32;
            if px >= 2 && py >= 2 && px + 2 < self.w && py + 2 < self.h {
                // Fully inside: no clipping needed.
                for &(dy, a, b) in stamp {
                    let start = ((py + dy) as usize * w + (px + a) as usize) * 3;
                    let end = start + (b - a + 1) as usize * 3;
                    for p in self.px[start..end].chunks_exact_mut(3) {
                        p.copy_from_slice(&rgb);
                    }
                }
            } else {
                for &(dy, a, b) in stamp {
                    self.fill_span(py + dy, px + a, px + b, rgb);
                }
            }
        }
        let pad = 3;
        let (bx0, bx1) = (x0.min(x1).floor() as i32 - pad, x0.max(x1).ceil() as i32 + pad);
        let (by0, by1) = (y0.min(y1).floor() as i32 - pad, y0.max(y1).ceil() as i32 + pad);
        self.mark(bx0.max(0), by0.max(0), (bx1 + 1).min(self.w), (by1 + 1).min(self.h));
    }

    /// Rasterises one segment of a stroke.
    pub fn stroke(&mut self, s: &Stroke) {
        let c = s.color & 0xff_ffff;
        let rgb = [(c >> 16) as u8, (c >> 8) as u8, c as u8];
        let r = (f64::from(s.width) * self.scale).max(1.0) / 2.0;
        let scale = self.scale;
        let p = |(x, y): (u16, u16)| (f64::from(x) * scale, f64::from(y) * scale);
        if r <= THIN {
            let stamp = Raster::stamp(r);
            if s.points.len() == 1 {
                self.thin(p(s.points[0]), p(s.points[0]), &stamp, rgb);
            }
            for pair in s.points.windows(2) {
                self.thin(p(pair[0]), p(pair[1]), &stamp, rgb);
            }
            return;
        }
        if s.points.len() == 1 {
            self.capsule(p(s.points[0]), p(s.points[0]), r, rgb);
        }
        for pair in s.points.windows(2) {
            self.capsule(p(pair[0]), p(pair[1]), r, rgb);
        }
    }

    /// The bounding box of the ink in logical units (x0, y0, x1, y1).
    pub fn ink_bbox(&self) -> Option<(i32, i32, i32, i32)> {
        let paper = [(PAPER >> 16) as u8, (PAPER >> 8) as u8, PAPER as u8];
        let mut b: Option<(i32, i32, i32, i32)> = None;
        for (i, p) in self.px.chunks_exact(3).enumerate() {
            if p != paper {
                let (x, y) = (i as i32 % self.w, i as i32 / self.w);
                let d = b.get_or_insert((x, y, x, y));
                *d = (d.0.min(x), d.1.min(y), d.2.max(x), d.3.max(y));
            }
        }
        let l = |v: i32| (f64::from(v) / self.scale).round() as i32;
        b.map(|(x0, y0, x1, y1)| (l(x0), l(y0), l(x1), l(y1)))
    }

    /// Pixels that are not paper.
    pub fn ink(&self) -> usize {
        let paper = [(PAPER >> 16) as u8, (PAPER >> 8) as u8, PAPER as u8];
        self.px.chunks_exact(3).filter(|p| *p != paper).count()
    }

    /// Uploads the changed part into the offscreen (which must have the same size).
    fn upload(&mut self, off: &Offscreen) {
        let Some((x0, y0, x1, y1)) = self.dirty.take() else { return };
        let (w, h) = (x1 - x0, y1 - y0);
        let mut part = Vec::with_capacity((w * h * 3) as usize);
        for y in y0..y1 {
            let row = ((y * self.w + x0) * 3) as usize;
            part.extend_from_slice(&self.px[row..row + (w * 3) as usize]);
        }
        off.begin();
        let _ = draw::draw_image(&part, x0, y0, w, h, ColorDepth::Rgb8);
        off.end();
    }
}

pub struct CanvasState {
    pub strokes: Vec<Stroke>,
    raster: Option<Raster>,
    offscreen: Option<Offscreen>,
    /// Segments from this index on are not rasterised yet.
    painted: usize,
    pub color: u32,
    pub brush: u8,
    /// The local stroke being drawn: its unsent points (the first repeats
    /// the last point already sent).
    current: Option<Stroke>,
    /// Points were added to `current` since it was last sent.
    unsent: bool,
    next_id: u32,
    /// Segments waiting to be sent by the app.
    outgoing: Vec<Stroke>,
    /// Bumped on every change, for the probe.
    pub generation: u64,
}

impl CanvasState {
    fn new() -> CanvasState {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(16))
            .unwrap_or(1)
            ^ std::process::id().rotate_left(8);
        CanvasState {
            strokes: Vec::new(),
            raster: None,
            offscreen: None,
            painted: 0,
            color: 0x000000,
            brush: 6,
            current: None,
            unsent: false,
            next_id: seed & 0x7fff_ffff,
            outgoing: Vec::new(),
            generation: 0,
        }
    }

    /// Makes sure the raster has the size of the drawing area and holds every segment.
    fn prepare(&mut self, g: &Geometry) {
        if self.raster.as_ref().is_none_or(|r| (r.w, r.h) != (g.w, g.h)) {
            self.raster = Some(Raster::new(g.w, g.h, g.scale));
            self.offscreen = None;
            self.painted = 0;
        }
        let raster = self.raster.as_mut().expect("raster");
        for s in &self.strokes[self.painted..] {
            raster.stroke(s);
        }
        self.painted = self.strokes.len();
    }

    /// Puts the raster on the offscreen (creating it when needed); call in draw().
    fn upload(&mut self) {
        let Some(raster) = self.raster.as_mut() else { return };
        if self.offscreen.is_none() {
            self.offscreen = Offscreen::new(raster.w, raster.h);
            raster.dirty = Some((0, 0, raster.w, raster.h));
        }
        if let Some(off) = &self.offscreen {
            raster.upload(off);
        }
    }

    /// Rasterises every segment again, as after a resize; returns how many.
    pub fn repaint_all(&mut self, g: &Geometry) -> usize {
        self.raster = None;
        self.prepare(g);
        self.strokes.len()
    }

    pub fn add(&mut self, s: Stroke) {
        self.strokes.push(s);
        self.generation += 1;
    }

    pub fn clear(&mut self) {
        self.strokes.clear();
        self.raster = None;
        self.painted = 0;
        self.generation += 1;
    }

    /// Counts the pixels of the drawing that are not paper (None before it is shown).
    pub fn ink(&mut self) -> Option<usize> {
        self.raster.as_ref().map(Raster::ink)
    }
}

#[derive(Clone)]
pub struct Canvas {
    pub widget: Widget,
    pub state: Rc<RefCell<CanvasState>>,
}

impl Canvas {
    pub fn new(x: i32, y: i32, w: i32, h: i32) -> Canvas {
        let mut widget = Widget::new(x, y, w, h, None);
        widget.set_frame(FrameType::FlatBox);
        let state = Rc::new(RefCell::new(CanvasState::new()));
        widget.draw({
            let state = state.clone();
            move |wid| {
                let g = Geometry::fit(wid.x(), wid.y(), wid.w(), wid.h());
                draw::draw_rect_fill(wid.x(), wid.y(), wid.w(), wid.h(), Color::from_hex(MARGIN));
                let mut st = state.borrow_mut();
                st.prepare(&g);
                st.upload();
                if let Some(off) = &st.offscreen {
                    off.copy(g.x, g.y, g.w, g.h, 0, 0);
                }
                draw::set_draw_color(Color::from_hex(0x404040));
                draw::draw_rect(g.x - 1, g.y - 1, g.w + 2, g.h + 2);
            }
        });
        widget.handle({
            let state = state.clone();
            move |wid, ev| {
                let g = Geometry::fit(wid.x(), wid.y(), wid.w(), wid.h());
                let (ex, ey) = fltk::app::event_coords();
                match ev {
                    Event::Push if g.contains(ex, ey) => {
                        let mut st = state.borrow_mut();
                        st.prepare(&g);
                        st.next_id = st.next_id.wrapping_add(1) & 0x7fff_ffff;
                        let mut s =
                            Stroke { id: st.next_id, color: st.color, width: st.brush, points: Default::default() };
                        let _ = s.points.push(g.to_logical(ex, ey));
                        st.prepare(&g);
                        if let Some(r) = st.raster.as_mut() {
                            r.stroke(&s);
                        }
                        st.current = Some(s);
                        st.unsent = true;
                        st.generation += 1;
                        drop(st);
                        wid.redraw();
                        true
                    }
                    Event::Drag => {
                        let mut st = state.borrow_mut();
                        let p = g.to_logical(ex, ey);
                        let Some(cur) = st.current.as_mut() else { return true };
                        let last = *cur.points.last().unwrap_or(&p);
                        if last == p {
                            return true;
                        }
                        if cur.points.is_full() {
                            flush_state(&mut st);
                        }
                        let cur = st.current.as_mut().expect("current stroke");
                        let _ = cur.points.push(p);
                        let mut piece =
                            Stroke { id: cur.id, color: cur.color, width: cur.width, points: Default::default() };
                        let _ = piece.points.push(last);
                        let _ = piece.points.push(p);
                        st.unsent = true;
                        st.prepare(&g);
                        if let Some(r) = st.raster.as_mut() {
                            r.stroke(&piece);
                        }
                        st.generation += 1;
                        drop(st);
                        wid.redraw();
                        true
                    }
                    Event::Released => {
                        let mut st = state.borrow_mut();
                        if st.current.is_some() {
                            flush_state(&mut st);
                            st.current = None;
                        }
                        true
                    }
                    _ => false,
                }
            }
        });
        Canvas { widget, state }
    }

    /// Moves the unsent part of the stroke being drawn to the outgoing queue
    /// and returns every segment waiting to be sent.
    pub fn flush(&self) -> Vec<Stroke> {
        let mut st = self.state.borrow_mut();
        flush_state(&mut st);
        std::mem::take(&mut st.outgoing)
    }

    /// Draws a segment received from someone else.
    pub fn add(&mut self, s: Stroke) {
        self.state.borrow_mut().add(s);
        self.widget.redraw();
    }

    pub fn clear(&mut self) {
        let mut st = self.state.borrow_mut();
        st.clear();
        st.current = None;
        st.unsent = false;
        drop(st);
        self.widget.redraw();
    }

    pub fn set_color(&self, color: u32) {
        self.state.borrow_mut().color = color & 0xff_ffff;
    }

    pub fn set_brush(&self, brush: u8) {
        self.state.borrow_mut().brush = brush.clamp(1, MAX_BRUSH);
    }

    /// Pixels of the drawing that are not paper, with every segment received
    /// so far, and their bounding box in logical units.
    pub fn ink(&self) -> (usize, Option<(i32, i32, i32, i32)>) {
        let g = self.geometry();
        let mut st = self.state.borrow_mut();
        st.prepare(&g);
        st.raster.as_ref().map_or((0, None), |r| (r.ink(), r.ink_bbox()))
    }

    pub fn geometry(&self) -> Geometry {
        Geometry::fit(self.widget.x(), self.widget.y(), self.widget.w(), self.widget.h())
    }
}

fn flush_state(st: &mut CanvasState) {
    if !st.unsent {
        return;
    }
    let Some(cur) = st.current.as_mut() else { return };
    let seg = cur.clone();
    let last = *cur.points.last().expect("a stroke has points");
    cur.points.clear();
    let _ = cur.points.push(last);
    st.unsent = false;
    // Stored as already painted: it was painted piece by piece while drawn.
    let all_painted = st.painted == st.strokes.len();
    st.strokes.push(seg.clone());
    if all_painted {
        st.painted = st.strokes.len();
    }
    st.outgoing.push(seg);
    st.generation += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_letterboxes_and_maps_back() {
        let g = Geometry::fit(9, 19, 802, 1002);
        assert_eq!((g.w, g.h), (800, 500));
        assert_eq!((g.x, g.y), (10, 270));
        assert_eq!(g.to_logical(10, 270), (0, 0));
        assert_eq!(g.to_logical(410, 520), (800, 500));
        assert_eq!(g.to_logical(5000, 5000), (WIDTH - 1, HEIGHT - 1));
        assert!(g.contains(10, 270) && !g.contains(10, 269));
    }

    fn stroke(width: u8, points: &[(u16, u16)]) -> Stroke {
        let mut s = Stroke { id: 1, color: 0xff0000, width, points: Default::default() };
        for p in points {
            s.points.push(*p).unwrap();
        }
        s
    }

    #[test]
    fn raster_draws_connected_lines_of_the_right_width() {
        let mut r = Raster::new(160, 100, 0.1);
        assert_eq!(r.ink(), 0);
        // A horizontal line 100 logical long at width 20 is 10 x 2 pixels plus round ends.
        r.stroke(&stroke(20, &[(100, 500), (200, 500)]));
        let ink = r.ink();
        assert!((20..=40).contains(&ink), "{ink}");
        assert_eq!(&r.px[(50 * 160 + 15) * 3..][..3], &[0xff, 0, 0]);
        // A thin diagonal has a pixel in every row and column it crosses.
        let mut r = Raster::new(160, 100, 0.1);
        r.stroke(&stroke(1, &[(0, 0), (990, 990)]));
        for y in 1..98 {
            assert!((0..160).any(|x| r.px[(y * 160 + x) * 3 + 1] == 0), "row {y}");
        }
        // A dot.
        let mut r = Raster::new(160, 100, 0.1);
        r.stroke(&stroke(40, &[(800, 500)]));
        assert!((9..=20).contains(&r.ink()), "{}", r.ink());
    }
}
