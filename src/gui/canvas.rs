//! The shared canvas widget.
//!
//! The canvas is a [`Picture`] in logical pixels ([`WIDTH`] x [`HEIGHT`]),
//! drawn by the shared rasterizer (crate::canvas::raster), so it is the
//! picture the server keeps and every other lanchat program draws, pixel for
//! pixel; Save writes it. A [`View`] the size of the visible drawing area
//! averages it down; its changed part is uploaded into an FLTK
//! [`Offscreen`], and a redraw of the widget only copies that offscreen.
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

use crate::canvas::picture::Picture;
use crate::canvas::raster::{Raster, Rect};
use crate::canvas::{HEIGHT, MAX_BRUSH, Stroke, WIDTH};

/// Colour around the drawing area (the letterbox).
const MARGIN: u32 = 0x6b6b6b;

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

/// The picture at the widget's size: each pixel the average of the logical
/// pixels it covers, so thin lines stay visible when the window is small.
pub struct View {
    pub w: i32,
    pub h: i32,
    pub px: Vec<u8>,
    /// Changed pixels not yet uploaded: x0, y0, x1, y1 (exclusive).
    dirty: Option<(i32, i32, i32, i32)>,
}

impl View {
    fn new(w: i32, h: i32) -> View {
        let (w, h) = (w.max(1), h.max(1));
        View { w, h, px: vec![0xff; (w * h * 3) as usize], dirty: None }
    }

    /// The logical columns (or rows) that view pixel `i` of `n` covers, of `total`.
    fn span(i: i32, n: i32, total: usize) -> (usize, usize) {
        let t = total as i64;
        let a = (i64::from(i) * t / i64::from(n)) as usize;
        let b = ((i64::from(i) + 1) * t / i64::from(n)) as usize;
        (a, b.max(a + 1).min(total))
    }

    /// Shows the logical area `r` of `from` (x0, y0, x1, y1 exclusive).
    fn update(&mut self, from: &Raster, r: Rect) {
        let (lw, lh) = (from.w as i64, from.h as i64);
        let (w, h) = (i64::from(self.w), i64::from(self.h));
        let vx0 = (r.0 as i64 * w / lw) as i32;
        let vy0 = (r.1 as i64 * h / lh) as i32;
        let vx1 = ((r.2 as i64 * w).div_euclid(lw) as i32 + 1).min(self.w);
        let vy1 = ((r.3 as i64 * h).div_euclid(lh) as i32 + 1).min(self.h);
        for vy in vy0..vy1 {
            let (y0, y1) = View::span(vy, self.h, from.h);
            for vx in vx0..vx1 {
                let (x0, x1) = View::span(vx, self.w, from.w);
                let mut sum = [0u32; 3];
                for y in y0..y1 {
                    for p in from.px[(y * from.w + x0) * 3..(y * from.w + x1) * 3].chunks_exact(3) {
                        sum[0] += u32::from(p[0]);
                        sum[1] += u32::from(p[1]);
                        sum[2] += u32::from(p[2]);
                    }
                }
                let n = ((x1 - x0) * (y1 - y0)) as u32;
                let at = ((vy * self.w + vx) * 3) as usize;
                for (o, s) in self.px[at..at + 3].iter_mut().zip(sum) {
                    *o = (s / n) as u8;
                }
            }
        }
        let d = self.dirty.get_or_insert((vx0, vy0, vx1, vy1));
        *d = (d.0.min(vx0), d.1.min(vy0), d.2.max(vx1), d.3.max(vy1));
    }

    /// The bounding box of the ink in view pixels (x0, y0, x1, y1).
    fn ink_bbox(&self) -> Option<(i32, i32, i32, i32)> {
        let mut b: Option<(i32, i32, i32, i32)> = None;
        for (i, p) in self.px.chunks_exact(3).enumerate() {
            if p != [0xff; 3] {
                let (x, y) = (i as i32 % self.w, i as i32 / self.w);
                let d = b.get_or_insert((x, y, x, y));
                *d = (d.0.min(x), d.1.min(y), d.2.max(x), d.3.max(y));
            }
        }
        b
    }

    /// Pixels that are not paper.
    fn ink(&self) -> usize {
        self.px.chunks_exact(3).filter(|p| *p != [0xff; 3]).count()
    }

    /// Uploads the changed part into the offscreen (which must have the same size).
    fn upload(&mut self, off: &Offscreen) {
        let Some((x0, y0, x1, y1)) = self.dirty.take() else { return };
        let (w, h) = (x1 - x0, y1 - y0);
        if w <= 0 || h <= 0 {
            return;
        }
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

const ALL: Rect = (0, 0, WIDTH as usize, HEIGHT as usize);

pub struct CanvasState {
    /// The canvas in logical pixels, drawn by the shared rasterizer: what
    /// the server's joiners see, and what Save writes.
    pub picture: Picture,
    view: Option<View>,
    offscreen: Option<Offscreen>,
    /// Logical area changed since the view was last updated.
    changed: Option<Rect>,
    pub color: u32,
    pub brush: u8,
    /// The local stroke being drawn: its unsent points (the first repeats
    /// the last point already sent).
    current: Option<Stroke>,
    /// Points were added to `current` since it was last sent.
    unsent: bool,
    next_id: u32,
    /// IDs of the strokes drawn here, oldest first: Undo takes back the last still shown.
    pub mine: Vec<u32>,
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
            picture: Picture::new(),
            view: None,
            offscreen: None,
            changed: None,
            color: 0x000000,
            brush: 6,
            current: None,
            unsent: false,
            next_id: seed,
            mine: Vec::new(),
            outgoing: Vec::new(),
            generation: 0,
        }
    }

    fn changed(&mut self, r: Option<Rect>) {
        if let Some(r) = r {
            let d = self.changed.get_or_insert(r);
            *d = (d.0.min(r.0), d.1.min(r.1), d.2.max(r.2), d.3.max(r.3));
        }
        self.generation += 1;
    }

    /// Makes sure the view has the size of the drawing area and shows every change.
    fn prepare(&mut self, g: &Geometry) {
        if self.view.as_ref().is_none_or(|v| (v.w, v.h) != (g.w, g.h)) {
            self.view = Some(View::new(g.w, g.h));
            self.offscreen = None;
            self.changed = Some(ALL);
        }
        if let (Some(r), Some(v)) = (self.changed.take(), self.view.as_mut()) {
            v.update(self.picture.raster(), r);
        }
    }

    /// Puts the view on the offscreen (creating it when needed); call in draw().
    fn upload(&mut self) {
        let Some(view) = self.view.as_mut() else { return };
        if self.offscreen.is_none() {
            self.offscreen = Offscreen::new(view.w, view.h);
            view.dirty = Some((0, 0, view.w, view.h));
        }
        if let Some(off) = &self.offscreen {
            view.upload(off);
        }
    }

    /// Shows the whole picture again, as after a resize; returns the segments kept.
    pub fn repaint_all(&mut self, g: &Geometry) -> usize {
        self.view = None;
        self.prepare(g);
        self.picture.len()
    }

    pub fn add(&mut self, s: Stroke) {
        let r = self.picture.add(s);
        self.changed(r);
    }

    pub fn clear(&mut self) {
        self.picture.clear();
        self.changed(Some(ALL));
    }

    /// Starts again from the server's snapshot.
    pub fn snapshot(&mut self, raster: Raster) {
        self.picture.start_from(raster);
        self.changed(Some(ALL));
    }

    pub fn undo(&mut self, id: u32, count: Option<usize>) {
        if self.picture.undo(id, count) {
            let r = self.picture.take_undone();
            self.changed(r);
        }
    }

    /// The newest stroke drawn here that is still on the canvas.
    pub fn last_mine(&mut self) -> Option<u32> {
        while let Some(&id) = self.mine.last() {
            if self.picture.strokes().any(|s| s.id == id) {
                return Some(id);
            }
            self.mine.pop();
        }
        None
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
                        // A fresh, random-looking ID per stroke (the server refuses one another nick holds).
                        st.next_id = st.next_id.wrapping_mul(0x9E37_79B1).wrapping_add(0x7F4A_7C15);
                        let mut s =
                            Stroke { id: st.next_id, color: st.color, width: st.brush, points: Default::default() };
                        let _ = s.points.push(g.to_logical(ex, ey));
                        let r = st.picture.preview(&s);
                        st.changed(r);
                        let id = s.id;
                        st.mine.push(id);
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
                        let r = st.picture.preview(&piece);
                        st.changed(r);
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

    /// Starts again from the server's snapshot.
    pub fn snapshot(&mut self, raster: Raster) {
        self.state.borrow_mut().snapshot(raster);
        self.widget.redraw();
    }

    /// Takes back the last `count` segments of stroke `id`.
    pub fn undo(&mut self, id: u32, count: Option<usize>) {
        self.state.borrow_mut().undo(id, count);
        self.widget.redraw();
    }

    /// The canvas as a PNG (1600 x 1000, as the server keeps it).
    pub fn png(&self) -> Vec<u8> {
        crate::canvas::png::encode(self.state.borrow().picture.raster())
    }

    pub fn set_color(&self, color: u32) {
        self.state.borrow_mut().color = color & 0xff_ffff;
    }

    pub fn set_brush(&self, brush: u8) {
        self.state.borrow_mut().brush = brush.clamp(1, MAX_BRUSH);
    }

    /// Pixels of the drawing as shown that are not paper, with every
    /// segment received so far, and their bounding box in logical units.
    pub fn ink(&self) -> (usize, Option<(i32, i32, i32, i32)>) {
        let g = self.geometry();
        let mut st = self.state.borrow_mut();
        st.prepare(&g);
        let l = |v: i32| (f64::from(v) / g.scale).round() as i32;
        st.view.as_ref().map_or((0, None), |v| (v.ink(), v.ink_bbox().map(|(a, b, c, d)| (l(a), l(b), l(c), l(d)))))
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
    // Kept in order with what others drew (it was shown piece by piece already).
    st.add(seg.clone());
    st.outgoing.push(seg);
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

    #[test]
    fn the_view_averages_the_logical_picture() {
        let mut r = Raster::blank();
        let mut s = Stroke { id: 1, color: 0, width: 1, points: Default::default() };
        s.points.push((100, 100)).unwrap();
        s.points.push((300, 100)).unwrap();
        r.paint(&s);
        let mut v = View::new(800, 500);
        v.update(&r, ALL);
        // A one-pixel line at half size: grey, not gone.
        assert_eq!(&v.px[(50 * 800 + 100) * 3..][..3], &[0x7f; 3]);
        assert_eq!(v.ink_bbox(), Some((50, 50, 150, 50)));
    }
}
