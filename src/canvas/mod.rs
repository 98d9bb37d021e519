//! The shared canvas: the stroke model and its wire encoding, and (in the
//! submodules) the one rasterizer, the PNG codec and the snapshot's pieces.
//!
//! A drawing travels as small stroke segments in client-only IRCv3 tags on
//! TAGMSG (see docs/PROTOCOL.md, "The shared canvas"):
//!
//! * `+lanchat/stroke=ID,RRGGBB,WIDTH,X,Y,X,Y,...` — one segment of stroke `ID`:
//!   a polyline of up to [`MAX_POINTS`] points in the fixed logical space
//!   [`WIDTH`] x [`HEIGHT`], drawn with the colour and brush width given.
//!   Successive segments of one stroke share the ID and repeat the joining
//!   point, so each segment can be drawn on its own.
//! * `+lanchat/undo=ID[,COUNT]` — takes stroke `ID` back (the server adds
//!   how many segments it removed).
//! * `+lanchat/clear` — clears the channel's canvas for everyone.
//! * `+lanchat/snapshot=I/N,DATA` — from the server to a joiner: a piece of
//!   the PNG of what was folded ([`snapshot`]).
//!
//! The stroke value uses only digits, hex letters and commas, so it never
//! needs the IRCv3 tag escapes.

pub mod picture;
pub mod png;
pub mod raster;
pub mod snapshot;

use heapless::Vec;

/// Tag key of a stroke segment.
pub const STROKE_TAG: &str = "+lanchat/stroke";
/// Tag key of a canvas clear.
pub const CLEAR_TAG: &str = "+lanchat/clear";
/// Tag key of an undo.
pub const UNDO_TAG: &str = "+lanchat/undo";
/// Tag key of a piece of a snapshot.
pub const SNAPSHOT_TAG: &str = "+lanchat/snapshot";
/// The paper's colour; the eraser draws with it.
pub const PAPER: u32 = 0xffffff;
/// Most segments a server keeps unfolded per channel.
pub const SERVER_KEEPS: usize = 2048;
/// Fewest segments a client keeps unfolded: any undo the server relays
/// finds all it removes among them.
pub const CLIENT_KEEPS: usize = 2 * SERVER_KEEPS;
/// Logical canvas width: coordinates are in `0..WIDTH` whatever the window size.
pub const WIDTH: u16 = 1600;
/// Logical canvas height.
pub const HEIGHT: u16 = 1000;
/// Most points in one segment; keeps a tag value far below the 4094-byte limit.
pub const MAX_POINTS: usize = 64;
/// Widest brush.
pub const MAX_BRUSH: u8 = 64;

/// One segment of a stroke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stroke {
    /// Identifies the stroke this segment continues (chosen by the drawer).
    pub id: u32,
    /// Colour as 0xRRGGBB.
    pub color: u32,
    /// Brush width in logical units, 1..=[`MAX_BRUSH`].
    pub width: u8,
    /// The polyline, in logical coordinates.
    pub points: Vec<(u16, u16), MAX_POINTS>,
}

/// Why a stroke tag value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than the four leading fields, or a field that is not a number.
    Malformed,
    /// A colour that is not six hex digits.
    BadColor,
    /// A brush width of 0 or above [`MAX_BRUSH`].
    BadWidth,
    /// A coordinate outside the logical space, or an odd number of them.
    BadPoint,
    /// No points, or more than [`MAX_POINTS`].
    BadLength,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DecodeError::Malformed => "malformed stroke",
            DecodeError::BadColor => "stroke colour is not RRGGBB",
            DecodeError::BadWidth => "stroke width out of range",
            DecodeError::BadPoint => "stroke point outside the canvas",
            DecodeError::BadLength => "stroke has no points or too many",
        })
    }
}

impl std::error::Error for DecodeError {}

impl Stroke {
    /// Encodes the segment as a tag value.
    pub fn encode(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(24 + self.points.len() * 10);
        let _ = write!(s, "{},{:06x},{}", self.id, self.color & 0xff_ffff, self.width);
        for (x, y) in &self.points {
            let _ = write!(s, ",{x},{y}");
        }
        s
    }

    /// Decodes a tag value; never panics, whatever the input.
    pub fn decode(value: &str) -> Result<Stroke, DecodeError> {
        let mut fields = value.split(',');
        let id = fields.next().and_then(|f| f.parse().ok()).ok_or(DecodeError::Malformed)?;
        let color = fields.next().ok_or(DecodeError::Malformed)?;
        if color.len() != 6 || !color.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DecodeError::BadColor);
        }
        let color = u32::from_str_radix(color, 16).map_err(|_| DecodeError::BadColor)?;
        let width: u8 = fields.next().and_then(|f| f.parse().ok()).ok_or(DecodeError::BadWidth)?;
        if width == 0 || width > MAX_BRUSH {
            return Err(DecodeError::BadWidth);
        }
        let mut points = Vec::new();
        while let Some(x) = fields.next() {
            let y = fields.next().ok_or(DecodeError::BadPoint)?;
            let (x, y): (u16, u16) = match (x.parse(), y.parse()) {
                (Ok(x), Ok(y)) if x < WIDTH && y < HEIGHT => (x, y),
                _ => return Err(DecodeError::BadPoint),
            };
            points.push((x, y)).map_err(|_| DecodeError::BadLength)?;
        }
        if points.is_empty() {
            return Err(DecodeError::BadLength);
        }
        Ok(Stroke { id, color, width, points })
    }
}

/// An undo's value: the stroke ID and, as the server relays it, how many
/// segments it removed.
pub fn parse_undo(value: &str) -> Option<(u32, Option<usize>)> {
    match value.split_once(',') {
        Some((id, n)) => Some((id.parse().ok()?, Some(n.parse().ok()?))),
        None => Some((value.parse().ok()?, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_values() {
        assert_eq!(parse_undo("42"), Some((42, None)));
        assert_eq!(parse_undo("42,3"), Some((42, Some(3))));
        assert_eq!(parse_undo("x"), None);
        assert_eq!(parse_undo("1,-1"), None);
    }

    #[test]
    fn round_trip() {
        let mut points = Vec::new();
        points.push((0, 0)).unwrap();
        points.push((WIDTH - 1, HEIGHT - 1)).unwrap();
        let s = Stroke { id: 7, color: 0xff8800, width: 3, points };
        assert_eq!(s.encode(), "7,ff8800,3,0,0,1599,999");
        assert_eq!(Stroke::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn refuses_bad_values() {
        assert_eq!(Stroke::decode(""), Err(DecodeError::Malformed));
        assert_eq!(Stroke::decode("1,zzzzzz,3,1,1"), Err(DecodeError::BadColor));
        assert_eq!(Stroke::decode("1,000000,0,1,1"), Err(DecodeError::BadWidth));
        assert_eq!(Stroke::decode("1,000000,3,1"), Err(DecodeError::BadPoint));
        assert_eq!(Stroke::decode("1,000000,3,1600,1"), Err(DecodeError::BadPoint));
        assert_eq!(Stroke::decode("1,000000,3"), Err(DecodeError::BadLength));
        let long = format!("1,000000,3{}", ",1,1".repeat(MAX_POINTS + 1));
        assert_eq!(Stroke::decode(&long), Err(DecodeError::BadLength));
    }
}
