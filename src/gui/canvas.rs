//! The shared canvas widget.
//!
//! Strokes are kept as the segments received (or drawn here), in logical
//! coordinates ([`WIDTH`] x [`HEIGHT`]), and painted into an offscreen buffer
//! the size of the visible drawing area: a new segment is painted into it
//! once, a redraw of the widget only copies the buffer, and a resize repaints
//! every segment once (see [`CanvasState::repaint_all`] and examples/gui_bench.rs).
//!
//! The local user's drag is cut into segments that the window sends at least
//! every 50 ms (the app calls [`Canvas::flush`] from a 40 ms timer) and
//! whenever a segment is full.

use std::cell::RefCell;
use std::rc::Rc;

use fltk::draw::{self, LineStyle, Offscreen};
use fltk::enums::{Color, Event, FrameType};
use fltk::prelude::*;
use fltk::widget::Widget;

use crate::canvas::{HEIGHT, MAX_BRUSH, MAX_POINTS, Stroke, WIDTH};

/// Colour around the drawing area (the letterbox) and of the paper.
const MARGIN: u32 = 0x6b6b6b;
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
        let scale = (f64::from(w) / f64::from(WIDTH)).min(f64::from(h) / f64::from(HEIGHT)).max(0.01);
        let aw = (f64::from(WIDTH) * scale).round() as i32;
        let ah = (f64::from(HEIGHT) * scale).round() as i32;
        Geometry { x: x + (w - aw) / 2, y: y + (h - ah) / 2, w: aw.max(1), h: ah.max(1), scale }
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

pub struct CanvasState {
    pub strokes: Vec<Stroke>,
    offscreen: Option<Offscreen>,
    /// Size in pixels of the offscreen buffer.
    off_size: (i32, i32),
    /// Segments from this index on are not painted into the buffer yet.
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
            offscreen: None,
            off_size: (0, 0),
            painted: 0,
            color: 0x000000,
            brush: 4,
            current: None,
            unsent: false,
            next_id: seed & 0x7fff_ffff,
            outgoing: Vec::new(),
            generation: 0,
        }
    }

    /// Makes sure the buffer has the size of the drawing area and holds every segment.
    fn prepare(&mut self, g: &Geometry) {
        if self.offscreen.is_none() || self.off_size != (g.w, g.h) {
            self.offscreen = Offscreen::new(g.w, g.h);
            self.off_size = (g.w, g.h);
            self.painted = 0;
            if let Some(off) = &self.offscreen {
                off.begin();
                draw::draw_rect_fill(0, 0, g.w, g.h, Color::from_hex(PAPER));
                off.end();
            }
        }
        if self.painted < self.strokes.len() {
            if let Some(off) = &self.offscreen {
                off.begin();
                for s in &self.strokes[self.painted..] {
                    paint(s, g.scale);
                }
                draw::set_line_style(LineStyle::Solid, 0);
                off.end();
            }
            self.painted = self.strokes.len();
        }
    }

    /// Paints every segment again, as after a resize; returns how many.
    pub fn repaint_all(&mut self, g: &Geometry) -> usize {
        self.offscreen = None;
        self.prepare(g);
        self.strokes.len()
    }

    /// Paints one stroke of the current (not yet stored) local segment.
    fn paint_now(&mut self, s: &Stroke, scale: f64) {
        if let Some(off) = &self.offscreen {
            off.begin();
            paint(s, scale);
            draw::set_line_style(LineStyle::Solid, 0);
            off.end();
        }
    }

    pub fn add(&mut self, s: Stroke) {
        self.strokes.push(s);
        self.generation += 1;
    }

    pub fn clear(&mut self) {
        self.strokes.clear();
        self.offscreen = None;
        self.painted = 0;
        self.generation += 1;
    }

    /// Counts the pixels of the buffer that are not paper (None before it exists).
    pub fn ink(&mut self) -> Option<usize> {
        let (w, h) = self.off_size;
        let off = self.offscreen.as_mut()?;
        let img = draw::capture_offscreen(off, w, h).ok()?;
        let data = img.to_rgb_data();
        let paper = [(PAPER >> 16) as u8, (PAPER >> 8) as u8, PAPER as u8];
        Some(data.chunks_exact(3).filter(|p| *p != paper).count())
    }
}

/// Paints a segment in the current drawing surface, in its own coordinates.
fn paint(s: &Stroke, scale: f64) {
    let px = |v: u16| f64::from(v) * scale;
    let w = ((f64::from(s.width) * scale).round() as i32).max(1);
    draw::set_draw_color(Color::from_hex(s.color & 0xff_ffff));
    draw::set_line_style(LineStyle::Solid | LineStyle::CapRound | LineStyle::JoinRound, w);
    if s.points.len() == 1 || s.points.iter().all(|p| *p == s.points[0]) {
        let (x, y) = s.points[0];
        let (cx, cy) = (px(x).round() as i32, px(y).round() as i32);
        if w <= 1 {
            draw::draw_point(cx, cy);
        } else {
            draw::draw_pie(cx - w / 2, cy - w / 2, w, w, 0.0, 360.0);
        }
    } else {
        draw::begin_line();
        for &(x, y) in &s.points {
            draw::vertex(px(x), px(y));
        }
        draw::end_line();
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
                if let Some(off) = &st.offscreen {
                    off.copy(g.x, g.y, g.w, g.h, 0, 0);
                }
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
                        let mut s = Stroke { id: st.next_id, color: st.color, width: st.brush, points: Default::default() };
                        let _ = s.points.push(g.to_logical(ex, ey));
                        st.paint_now(&s, g.scale);
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
                        let mut piece = Stroke { id: cur.id, color: cur.color, width: cur.width, points: Default::default() };
                        let _ = piece.points.push(last);
                        let _ = piece.points.push(p);
                        st.unsent = true;
                        st.prepare(&g);
                        st.paint_now(&piece, g.scale);
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
    debug_assert!(MAX_POINTS >= 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_letterboxes_and_maps_back() {
        let g = Geometry::fit(10, 20, 800, 1000);
        assert_eq!((g.w, g.h), (800, 500));
        assert_eq!((g.x, g.y), (10, 270));
        assert_eq!(g.to_logical(10, 270), (0, 0));
        assert_eq!(g.to_logical(410, 520), (800, 500));
        assert_eq!(g.to_logical(5000, 5000), (WIDTH - 1, HEIGHT - 1));
        assert!(g.contains(10, 270) && !g.contains(10, 269));
    }
}
