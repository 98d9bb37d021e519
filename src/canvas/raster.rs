//! The one rasterizer: strokes into a 1600 x 1000 RGB picture, in integer
//! maths and without anti-aliasing, so the server's snapshot plus the
//! strokes after it and all the strokes in order give the same pixels in
//! every program (docs/PROTOCOL.md, "How a stroke is drawn").

use super::{HEIGHT, PAPER, Stroke, WIDTH};

/// An RGB picture, 3 bytes a pixel, rows top to bottom.
#[derive(Clone, PartialEq, Eq)]
pub struct Raster {
    pub w: usize,
    pub h: usize,
    pub px: Vec<u8>,
}

impl std::fmt::Debug for Raster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Raster {}x{}", self.w, self.h)
    }
}

/// A changed area: x0, y0, x1, y1, the ends exclusive.
pub type Rect = (usize, usize, usize, usize);

impl Raster {
    /// A blank (paper) picture of the logical size.
    pub fn blank() -> Raster {
        Raster::new(usize::from(WIDTH), usize::from(HEIGHT))
    }

    pub fn new(w: usize, h: usize) -> Raster {
        let paper = rgb(PAPER);
        Raster { w, h, px: paper.repeat(w * h) }
    }

    /// The colour of a pixel as 0xRRGGBB.
    pub fn get(&self, x: usize, y: usize) -> u32 {
        let p = &self.px[(y * self.w + x) * 3..][..3];
        u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2])
    }

    /// Pixels that are not paper.
    pub fn ink(&self) -> usize {
        let paper = rgb(PAPER);
        self.px.chunks_exact(3).filter(|p| *p != paper).count()
    }

    /// Paints one segment over what is there; returns the area it may have changed.
    pub fn paint(&mut self, s: &Stroke) -> Option<Rect> {
        self.paint_in(s, (0, 0, self.w, self.h))
    }

    /// [`Raster::paint`], changing only the pixels inside `clip`.
    pub fn paint_in(&mut self, s: &Stroke, clip: Rect) -> Option<Rect> {
        let first = *s.points.first()?;
        let mut area: Option<Rect> = None;
        let pieces = s.points.windows(2).map(|w| (w[0], w[1]));
        for (a, b) in std::iter::once((first, first)).filter(|_| s.points.len() == 1).chain(pieces) {
            if let Some(r) = self.piece(a, b, s.width, rgb(s.color), clip) {
                area = Some(area.map_or(r, |d| (d.0.min(r.0), d.1.min(r.1), d.2.max(r.2), d.3.max(r.3))));
            }
        }
        area
    }

    /// The capsule of diameter `width` around a-b: each pixel whose centre is
    /// at most width/2 from the piece. It meets each row in one interval.
    fn piece(
        &mut self,
        (ax, ay): (u16, u16),
        (bx, by): (u16, u16),
        width: u8,
        color: [u8; 3],
        clip: Rect,
    ) -> Option<Rect> {
        let (x0, y0, x1, y1) = (i64::from(ax), i64::from(ay), i64::from(bx), i64::from(by));
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let w2 = i64::from(width) * i64::from(width);
        let covered = |px: i64, py: i64| {
            let (qx, qy) = (px - x0, py - y0);
            let dot = qx * dx + qy * dy;
            if dot <= 0 {
                4 * (qx * qx + qy * qy) <= w2
            } else if dot >= len2 {
                let (rx, ry) = (px - x1, py - y1);
                4 * (rx * rx + ry * ry) <= w2
            } else {
                let cross = qx * dy - qy * dx;
                4 * cross * cross <= w2 * len2
            }
        };
        let r = (i64::from(width) + 1) / 2;
        let w = self.w as i64;
        let (cx0, cy0) = (clip.0 as i64, clip.1 as i64);
        let (cx1, cy1) = ((clip.2.min(self.w)) as i64, (clip.3.min(self.h)) as i64);
        let (left, right) = ((x0.min(x1) - r).max(cx0), (x0.max(x1) + r).min(cx1 - 1));
        let (top, bottom) = ((y0.min(y1) - r).max(cy0), (y0.max(y1) + r).min(cy1 - 1));
        let mut area: Option<Rect> = None;
        for py in top..=bottom {
            let Some(from) = (left..=right).find(|&px| covered(px, py)) else { continue };
            let to = (from..=right).rev().find(|&px| covered(px, py)).unwrap_or(from);
            let row = (py * w) as usize * 3;
            for p in self.px[row + from as usize * 3..row + (to as usize + 1) * 3].chunks_exact_mut(3) {
                p.copy_from_slice(&color);
            }
            let (f, t, y) = (from as usize, to as usize + 1, py as usize);
            area = Some(area.map_or((f, y, t, y + 1), |d| (d.0.min(f), d.1, d.2.max(t), y + 1)));
        }
        area
    }
}

/// The area a segment can touch: its points widened by half its width.
pub fn bounds(s: &Stroke) -> Rect {
    let r = usize::from(s.width).div_ceil(2);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &(x, y) in &s.points {
        let (x, y) = (usize::from(x), usize::from(y));
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    (x0.saturating_sub(r), y0.saturating_sub(r), x1 + r + 1, y1 + r + 1)
}

/// 0xRRGGBB as three bytes.
pub fn rgb(c: u32) -> [u8; 3] {
    [(c >> 16) as u8, (c >> 8) as u8, c as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn seg(color: u32, width: u8, points: &[(u16, u16)]) -> Stroke {
        let mut s = Stroke { id: 1, color, width, points: Default::default() };
        for p in points {
            s.points.push(*p).unwrap();
        }
        s
    }

    #[test]
    fn dots_lines_and_widths() {
        let mut r = Raster::blank();
        // A one-pixel dot, and a dot of width 5: the disc of radius 2.5 has 21 pixels.
        r.paint(&seg(0xff0000, 1, &[(10, 10)]));
        assert_eq!(r.ink(), 1);
        assert_eq!(r.get(10, 10), 0xff0000);
        r.paint(&seg(0x00ff00, 5, &[(100, 100)]));
        assert_eq!(r.ink(), 1 + 21);
        // A horizontal line of width 3 from x=200 to 209: 3 rows of 10, plus round ends.
        let mut r = Raster::blank();
        let area = r.paint(&seg(0x0000ff, 3, &[(200, 50), (209, 50)])).unwrap();
        assert_eq!(r.ink(), 3 * 12);
        assert_eq!(area, (199, 49, 211, 52));
        // A thin line of any slope has a pixel in every column (or row) it crosses.
        let mut r = Raster::blank();
        r.paint(&seg(0, 1, &[(0, 0), (1599, 700)]));
        for x in 0..1600 {
            assert!((0..1000).any(|y| r.get(x, y) == 0), "column {x}");
        }
        // Clipped at the edges, never out of bounds.
        let mut r = Raster::blank();
        r.paint(&seg(0, 64, &[(0, 0), (1599, 999)]));
        assert_eq!(r.get(0, 0), 0);
        assert_eq!(r.get(1599, 999), 0);
    }

    #[test]
    fn painting_is_deterministic_and_ordered() {
        let strokes = [seg(0xff0000, 9, &[(10, 10), (300, 200)]), seg(0x00ff00, 20, &[(300, 10), (10, 200), (50, 5)])];
        let mut a = Raster::blank();
        let mut b = Raster::blank();
        for s in &strokes {
            a.paint(s);
            b.paint(s);
        }
        assert!(a == b);
        // Later over earlier: where they cross, the second colour wins.
        assert_eq!(a.get(155, 105), 0x00ff00);
    }
}
