//! A client's picture of a channel's canvas: the snapshot it was given
//! (or blank), the segments since, and the two painted together. Undo
//! removes segments and paints the rest again over the snapshot, so the
//! result is what a joiner gets from the server, pixel for pixel.

use std::collections::VecDeque;

use super::raster::{Raster, Rect, bounds};
use super::{CLIENT_KEEPS, Stroke, png};

/// The picture in a snapshot's PNG: blank when empty, and only of the logical size.
pub fn decode_snapshot(png: &[u8]) -> Result<Raster, &'static str> {
    let r = if png.is_empty() { Raster::blank() } else { png::decode(png)? };
    if (r.w, r.h) != (usize::from(super::WIDTH), usize::from(super::HEIGHT)) {
        return Err("snapshot of the wrong size");
    }
    Ok(r)
}

pub struct Picture {
    /// The snapshot, with the segments folded into it since.
    base: Raster,
    /// The segments not folded yet, oldest first.
    strokes: VecDeque<Stroke>,
    /// `base` with `strokes` painted over it: what is shown and saved.
    shown: Raster,
    /// The area the last undo changed, for a front end to show again.
    undone: Option<Rect>,
}

impl Default for Picture {
    fn default() -> Picture {
        Picture::new()
    }
}

impl Picture {
    pub fn new() -> Picture {
        Picture { base: Raster::blank(), strokes: VecDeque::new(), shown: Raster::blank(), undone: None }
    }

    /// What to show and save.
    pub fn raster(&self) -> &Raster {
        &self.shown
    }

    /// Number of segments kept unfolded.
    pub fn len(&self) -> usize {
        self.strokes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty()
    }

    /// The segments kept unfolded, oldest first.
    pub fn strokes(&self) -> impl Iterator<Item = &Stroke> {
        self.strokes.iter()
    }

    /// Starts again from a snapshot (an empty PNG is a blank canvas).
    pub fn snapshot(&mut self, png: &[u8]) -> Result<(), &'static str> {
        self.start_from(decode_snapshot(png)?);
        Ok(())
    }

    /// Starts again from a decoded snapshot (see [`decode_snapshot`]).
    pub fn start_from(&mut self, base: Raster) {
        self.shown = base.clone();
        self.base = base;
        self.strokes.clear();
    }

    pub fn clear(&mut self) {
        *self = Picture::new();
    }

    /// Paints a segment over the picture; returns the area changed.
    pub fn add(&mut self, s: Stroke) -> Option<Rect> {
        let area = self.shown.paint(&s);
        self.strokes.push_back(s);
        // Fold the oldest half once there are twice as many as must be kept.
        if self.strokes.len() > 2 * CLIENT_KEEPS {
            for s in self.strokes.drain(..CLIENT_KEEPS) {
                self.base.paint(&s);
            }
        }
        area
    }

    /// Shows a piece of a segment being drawn here before it is added whole
    /// (the same pixels: a segment is painted piece by piece).
    pub fn preview(&mut self, s: &Stroke) -> Option<Rect> {
        self.shown.paint(s)
    }

    /// Removes the last `count` segments of stroke `id` (all when None) and
    /// paints the rest again; false when there was none.
    pub fn undo(&mut self, id: u32, count: Option<usize>) -> bool {
        let mut left = count.unwrap_or(usize::MAX);
        let before = self.strokes.len();
        let mut keep = vec![true; before];
        for (i, s) in self.strokes.iter().enumerate().rev() {
            if left > 0 && s.id == id {
                keep[i] = false;
                left -= 1;
            }
        }
        // Only the area the removed segments covered is painted again.
        let mut area: Option<Rect> = None;
        for (s, _) in self.strokes.iter().zip(&keep).filter(|(_, k)| !**k) {
            let r = bounds(s);
            area = Some(area.map_or(r, |a| (a.0.min(r.0), a.1.min(r.1), a.2.max(r.2), a.3.max(r.3))));
        }
        let mut k = keep.into_iter();
        self.strokes.retain(|_| k.next().unwrap_or(true));
        let Some(a) = area else { return false };
        let a = (a.0, a.1, a.2.min(self.base.w), a.3.min(self.base.h));
        for y in a.1..a.3 {
            let row = (y * self.base.w + a.0) * 3..(y * self.base.w + a.2) * 3;
            self.shown.px[row.clone()].copy_from_slice(&self.base.px[row]);
        }
        for s in &self.strokes {
            let b = bounds(s);
            if b.0 < a.2 && a.0 < b.2 && b.1 < a.3 && a.1 < b.3 {
                self.shown.paint_in(s, a);
            }
        }
        self.undone = Some(a);
        true
    }

    /// The area the last undo painted again, once.
    pub fn take_undone(&mut self) -> Option<Rect> {
        self.undone.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u32, color: u32, x: u16) -> Stroke {
        let mut s = Stroke { id, color, width: 9, points: Default::default() };
        s.points.push((x, 10)).unwrap();
        s.points.push((x + 50, 60)).unwrap();
        s
    }

    #[test]
    fn undo_and_snapshot_agree_with_painting_in_order() {
        let mut p = Picture::new();
        p.add(seg(1, 0xff0000, 10));
        p.add(seg(2, 0x00ff00, 30));
        p.add(seg(1, 0xff0000, 40));
        assert!(p.undo(2, Some(1)));
        assert!(!p.undo(9, None));
        let mut want = Raster::blank();
        want.paint(&seg(1, 0xff0000, 10));
        want.paint(&seg(1, 0xff0000, 40));
        assert!(p.raster() == &want);
        // A joiner: the snapshot of the first, then the rest.
        let mut mid = Raster::blank();
        mid.paint(&seg(1, 0xff0000, 10));
        let mut j = Picture::new();
        j.add(seg(7, 0, 0));
        j.snapshot(&png::encode(&mid)).unwrap();
        assert_eq!(j.len(), 0);
        j.add(seg(1, 0xff0000, 40));
        assert!(j.raster() == &want);
        // Only the last `count` segments of the ID go.
        assert!(p.undo(1, Some(1)));
        assert!(p.raster() == &mid);
        assert!(j.snapshot(b"junk").is_err());
    }

    #[test]
    fn folding_keeps_the_picture() {
        let mut p = Picture::new();
        let mut want = Raster::blank();
        for i in 0..(2 * CLIENT_KEEPS + 10) as u32 {
            let s = seg(i, i * 0x1234, (i % 1500) as u16);
            want.paint(&s);
            p.add(s);
        }
        assert!(p.len() <= 2 * CLIENT_KEEPS && p.len() >= CLIENT_KEEPS);
        assert!(p.raster() == &want);
        // Undo paints again only where the stroke was, and gets it right.
        let last = 2 * CLIENT_KEEPS as u32 + 9;
        assert!(p.undo(last, None));
        let mut want = p.base.clone();
        for s in p.strokes() {
            want.paint(s);
        }
        assert!(p.raster() == &want);
    }
}
