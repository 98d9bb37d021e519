//! The files shown in a chat log: a message that is exactly a file link
//! shows the file's name on its line, and under it, in blank lines left as
//! room, a thumbnail of a picture or the size of another file. The room is
//! added with the line (only appends keep a long log fast), and what goes
//! in it is drawn over the text display after its own drawing, for the
//! entries in view only.
//!
//! Fetching is not done here: [`super::files`] asks a worker thread, which
//! decodes the picture with [`decode`] and hands back a [`Picture`].

use fltk::draw;
use fltk::enums::{Color, Font};
use fltk::image::{GifImage, JpegImage, PngImage, RgbImage};
use fltk::prelude::*;
use fltk::text::{PositionType, TextDisplay};
use std::ops::Range;

use crate::files::{human_size, is_image_name};

/// The largest thumbnail, in pixels.
pub const THUMB_W: i32 = 240;
pub const THUMB_H: i32 = 180;
/// Pictures with more pixels than this are not decoded (a small file can
/// unpack to gigabytes).
const MAX_PIXELS: u64 = 40_000_000;
/// Space around a thumbnail.
const PAD: i32 = 4;

/// A decoded thumbnail, at most [`THUMB_W`] x [`THUMB_H`].
#[derive(Clone, Debug)]
pub enum Picture {
    Rgb(RgbImage),
    /// FLTK keeps a GIF as a pixmap; it draws scaled as it is.
    Gif(GifImage),
}

impl Picture {
    pub fn size(&self) -> (i32, i32) {
        match self {
            Picture::Rgb(i) => (i.w(), i.h()),
            Picture::Gif(i) => (i.w(), i.h()),
        }
    }

    fn draw(&mut self, x: i32, y: i32, w: i32, h: i32) {
        match self {
            Picture::Rgb(i) => {
                i.scale(w, h, true, false);
                i.draw(x, y, w, h);
            }
            Picture::Gif(i) => {
                i.scale(w, h, true, false);
                i.draw(x, y, w, h);
            }
        }
    }
}

/// The width and height a picture's header says, for PNG, GIF and JPEG.
pub fn dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| data.get(i..i + 2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])));
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        let be32 = |i: usize| data.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        return Some((be32(16)?, be32(20)?));
    }
    if data.starts_with(b"GIF8") {
        return gif_dimensions(data);
    }
    if !data.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    // JPEG: walk the segments to the frame header (SOF0..SOF15 but DHT,
    // JPG and DAC), which has the height, then the width.
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xff {
            return None;
        }
        let marker = data[i + 1];
        if marker == 0xff {
            i += 1;
            continue;
        }
        let len = be16(i + 2)? as usize;
        if (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker) {
            return Some((be16(i + 7)?, be16(i + 5)?));
        }
        i += 2 + len;
    }
    None
}

/// A GIF's size: the larger of its canvas and its first picture, which is
/// what FLTK allocates for (a tiny file may name a small canvas and a
/// huge picture).
fn gif_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let le16 = |i: usize| data.get(i..i + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])));
    let (cw, ch) = (le16(6)?, le16(8)?);
    let flags = *data.get(10)?;
    let mut i = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    loop {
        match *data.get(i)? {
            // An extension: its label, then sub-blocks up to an empty one.
            0x21 => {
                i += 2;
                loop {
                    let len = usize::from(*data.get(i)?);
                    i += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
            }
            // The first picture: left, top, width, height.
            0x2c => return Some((cw.max(le16(i + 5)?), ch.max(le16(i + 7)?))),
            _ => return None,
        }
    }
}

/// The size a `w` x `h` picture is shown at: within `max_w` x `max_h`,
/// never enlarged, never nothing.
pub fn fit(w: i32, h: i32, max_w: i32, max_h: i32) -> (i32, i32) {
    if w <= 0 || h <= 0 {
        return (1, 1);
    }
    let s = (f64::from(max_w) / f64::from(w)).min(f64::from(max_h) / f64::from(h)).min(1.0);
    (((f64::from(w) * s).round() as i32).max(1), ((f64::from(h) * s).round() as i32).max(1))
}

/// Makes FLTK set up its image decoders now, on the GUI thread. fltk-rs
/// does it on every decode (adding FLTK's image handlers and loading its
/// file icons, global lists); once they are there it only reads them, so
/// the fetchers' decodes can run at the same time.
pub fn register_decoders() {
    let dot = crate::canvas::png::encode(&crate::canvas::raster::Raster::new(1, 1));
    let _ = PngImage::from_data(&dot);
}

/// Decodes a PNG, JPEG or GIF (by its first bytes, not its name) into a
/// thumbnail. Runs on a worker thread: decoding a large picture takes a while.
pub fn decode(data: &[u8]) -> Result<Picture, String> {
    let kind = crate::files::sniff_image(data).ok_or("not a PNG, JPEG or GIF picture")?;
    let (w, h) = dimensions(data).ok_or("a damaged picture")?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!("too large a picture to show ({w} x {h})"));
    }
    let bad = |e: FltkError| format!("a damaged picture ({e})");
    match kind {
        "image/png" => scaled(PngImage::from_data(data).map_err(bad)?),
        "image/jpeg" => scaled(JpegImage::from_data(data).map_err(bad)?),
        _ => {
            let img = GifImage::from_data(data).map_err(bad)?;
            let (tw, th) = fit(img.w(), img.h(), THUMB_W, THUMB_H);
            Ok(Picture::Gif(img.copy_sized(tw, th)))
        }
    }
}

/// A decoded picture made thumbnail-sized (a copy: the large one goes).
fn scaled(img: impl ImageExt) -> Result<Picture, String> {
    let (tw, th) = fit(img.w(), img.h(), THUMB_W, THUMB_H);
    img.copy_sized(tw, th).to_rgb().map(Picture::Rgb).map_err(|e| format!("a damaged picture ({e})"))
}

/// What was found out about a file: its size (from a HEAD), its thumbnail,
/// or why not.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub size: Option<u64>,
    pub picture: Option<Picture>,
    pub failed: Option<String>,
}

/// One file shown in a log.
pub struct Entry {
    pub url: String,
    pub name: String,
    pub image: bool,
    /// Where the file's line starts in the buffer, and where it ends (the
    /// room's blank lines follow: line `i` of it starts at `end + i`).
    pub start: i32,
    pub end: i32,
    pub rows: i32,
    pub facts: Facts,
}

impl Entry {
    /// A new entry for a link whose line spans `start..end`; `line_h` is
    /// the log's line height now.
    pub fn new(url: &str, name: &str, start: i32, end: i32, line_h: i32) -> Entry {
        let image = is_image_name(name);
        // A picture's room fits the largest thumbnail; another file's, one line.
        let rows = if image { (THUMB_H + 2 * PAD + line_h - 1) / line_h.max(1) } else { 1 };
        Entry { url: url.to_owned(), name: name.to_owned(), image, start, end, rows, facts: Facts::default() }
    }

    /// The last buffer position of the entry (its room's last line).
    fn last(&self) -> i32 {
        self.end + self.rows
    }

    /// What the room says in words (a picture being fetched, a file's size, a failure).
    pub fn caption(&self) -> String {
        let f = &self.facts;
        let size = f.size.map(human_size);
        match (&f.failed, &f.picture, size) {
            (Some(why), _, Some(size)) => format!("{size} · {why} · click for Download or Open in browser"),
            (Some(why), _, None) => format!("{why} · click for Download or Open in browser"),
            (None, Some(_), _) => String::new(),
            (None, None, Some(size)) if !self.image => format!("{size} · click for Download or Open in browser"),
            (None, None, _) => "loading…".to_owned(),
        }
    }
}

/// Where an entry's room starts on screen (its first blank line's top), if
/// some of it is in view; `line_h` is the height of a line.
fn room_top(d: &TextDisplay, e: &Entry, line_h: i32) -> Option<i32> {
    (1..=e.rows).find_map(|i| {
        let (x, y) = d.position_to_xy(e.end + i);
        (x != 0 || y != 0).then(|| y - (i - 1) * line_h)
    })
}

/// The entries that may be in view: those between the first and the last
/// position shown (the entries are in buffer order).
fn in_view(d: &TextDisplay, entries: &[Entry]) -> Range<usize> {
    if entries.is_empty() || !d.visible_r() {
        return 0..0;
    }
    let (x, y, h) = (d.x() + 4, d.y() + 2, d.h() - 4);
    let top = d.xy_to_position(x, y, PositionType::Character);
    let bottom = d.xy_to_position(x, y + h, PositionType::Character);
    let first = entries.partition_point(|e| e.last() < top);
    let after = entries.partition_point(|e| e.start <= bottom);
    first..after.max(first)
}

/// The text area of a display: inside its frame, left of its scrollbar.
fn text_area(d: &TextDisplay) -> (i32, i32, i32, i32) {
    let (x, y, w, h) = (d.x() + 2, d.y() + 2, d.w() - 4 - d.scrollbar_size(), d.h() - 4);
    (x, y, w.max(0), h.max(0))
}

/// Draws the entries in view over the display (from its draw callback).
pub fn draw(d: &TextDisplay, entries: &mut [Entry], line_h: i32, font_size: i32) {
    let shown = in_view(d, entries);
    if shown.is_empty() {
        return;
    }
    let (ax, ay, aw, ah) = text_area(d);
    draw::push_clip(ax, ay, aw, ah);
    let x = ax + 8 + PAD;
    for i in shown {
        let e = &mut entries[i];
        let Some(top) = room_top(d, e, line_h) else { continue };
        let room_h = e.rows * line_h;
        match &mut e.facts.picture {
            Some(p) => {
                let (pw, ph) = p.size();
                let (w, h) = fit(pw, ph, aw - 24, room_h - 2 * PAD);
                p.draw(x, top + PAD, w, h);
                draw::set_draw_color(Color::from_hex(0xc8c8c8));
                draw::draw_rect(x - 1, top + PAD - 1, w + 2, h + 2);
            }
            None => {
                let caption = e.caption();
                draw::set_font(Font::HelveticaItalic, font_size - 1);
                draw::set_draw_color(Color::from_hex(0x707070));
                draw::draw_text2(
                    &caption,
                    x,
                    top,
                    aw - 24,
                    line_h,
                    fltk::enums::Align::Left | fltk::enums::Align::Clip,
                );
            }
        }
    }
    draw::pop_clip();
}

/// The entry at a buffer position (its line or its room), if any.
pub fn at(entries: &[Entry], pos: i32) -> Option<&Entry> {
    let i = entries.partition_point(|e| e.last() < pos);
    entries.get(i).filter(|e| e.start <= pos)
}

/// Where an entry shows on screen, for the probe: its thumbnail (or its
/// caption line) as `X Y W H`, if it is in view.
pub fn area(d: &TextDisplay, e: &Entry, line_h: i32) -> Option<(i32, i32, i32, i32)> {
    if in_view(d, std::slice::from_ref(e)).is_empty() {
        return None;
    }
    let top = room_top(d, e, line_h)?;
    let (ax, _, aw, _) = text_area(d);
    let x = ax + 8 + PAD;
    Some(match &e.facts.picture {
        Some(p) => {
            let (pw, ph) = p.size();
            let (w, h) = fit(pw, ph, aw - 24, e.rows * line_h - 2 * PAD);
            (x, top + PAD, w, h)
        }
        None => (x, top, aw - 24, line_h),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_fitted_without_growing() {
        assert_eq!(fit(480, 360, 240, 180), (240, 180));
        assert_eq!(fit(1000, 100, 240, 180), (240, 24));
        assert_eq!(fit(100, 1000, 240, 180), (18, 180));
        assert_eq!(fit(40, 30, 240, 180), (40, 30));
        assert_eq!(fit(0, 30, 240, 180), (1, 1));
    }

    #[test]
    fn headers_give_the_size() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend([0, 0, 1, 0x40, 0, 0, 0, 0xf0]);
        assert_eq!(dimensions(&png), Some((320, 240)));
        // A canvas of 320 x 240, no colour table, an extension, then a picture of 1 x 1.
        let gif = b"GIF89a\x40\x01\xf0\x00\x00\x00\x00\x21\xf9\x04\x00\x00\x00\x00\x00\x2c\0\0\0\0\x01\0\x01\0";
        assert_eq!(dimensions(gif), Some((320, 240)));
        // A 1 x 1 canvas with a 65535 x 65535 picture in 35 bytes: FLTK would
        // allocate for the picture, so it is the picture's size that counts.
        let bomb = b"GIF89a\x01\0\x01\0\x00\x00\x00\x2c\0\0\0\0\xff\xff\xff\xff\x00\x02\x02\x44\x01\x00\x3b";
        assert_eq!(dimensions(bomb), Some((65535, 65535)));
        assert!(decode(bomb).unwrap_err().contains("too large"));
        assert_eq!(dimensions(b"GIF89a\x40\x01\xf0\x00"), None);
        // SOI, an APP0 of 4 bytes, then SOF0: length, precision, height, width.
        let jpeg = [0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 11, 8, 0, 0xf0, 1, 0x40];
        assert_eq!(dimensions(&jpeg), Some((320, 240)));
        assert_eq!(dimensions(&jpeg[..12]), None);
        assert_eq!(dimensions(b"hello"), None);
        assert!(decode(b"plain text").is_err());
    }

    #[test]
    fn an_entry_is_found_by_position() {
        let entries = vec![Entry::new("u1", "a.png", 10, 30, 17), Entry::new("u2", "b.pdf", 50, 60, 17)];
        assert_eq!(entries[0].rows, (THUMB_H + 2 * PAD + 16) / 17);
        assert_eq!(entries[1].rows, 1);
        assert!(at(&entries, 5).is_none());
        assert_eq!(at(&entries, 10).unwrap().url, "u1");
        assert_eq!(at(&entries, 30 + entries[0].rows).unwrap().url, "u1");
        assert!(at(&entries, 45).is_none());
        assert_eq!(at(&entries, 61).unwrap().url, "u2");
        assert!(at(&entries, 62).is_none());
    }
}
