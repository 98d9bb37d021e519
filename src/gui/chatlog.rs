//! One conversation's log: a read-only text display with a style per part of
//! the line (time, nick in its own colour, text, grey system lines).
//!
//! It follows new lines while the view is at the bottom and stays put when the
//! user scrolled up. Two things keep a log of 100,000 lines fast (see
//! examples/gui_bench.rs):
//!
//! * long lines are wrapped once, when they are added, at the width the log has
//!   then; FLTK's own continuous wrapping has to measure every line above the
//!   view whenever it scrolls, which stalls for seconds on a long log;
//! * FLTK's text buffer grows its gap by only 1 KiB, copying the whole text
//!   each time; we keep a large gap open at the end instead ([`ChatLog::reserve`]).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use fltk::draw;
use fltk::enums::{Color, Font};
use fltk::prelude::*;
use fltk::text::{PositionType, StyleTableEntry, TextBuffer, TextDisplay};

use super::thumbs::{self, Entry, Facts};
use crate::files::Link;

/// Readable colours on white, one per nick (chosen by a stable hash).
const NICK_COLOURS: [u32; 12] = [
    0xc0392b, 0x2468a8, 0x1e8449, 0x8e44ad, 0xc0580a, 0x117a65, 0x9a7d0a, 0x6c3483, 0x2e86c1, 0xa04000, 0x239b56,
    0xb03a6e,
];
const STYLE_TIME: u8 = b'A';
const STYLE_SYSTEM: u8 = b'B';
const STYLE_TEXT: u8 = b'C';
const STYLE_NICK0: u8 = b'D';
/// A line that names us: bold dark red.
const STYLE_MENTION: u8 = STYLE_NICK0 + NICK_COLOURS.len() as u8;
/// A web address: blue, opened with xdg-open on a click.
const STYLE_LINK: u8 = STYLE_MENTION + 1;
/// How many recent lines are kept as plain text for the probe.
const TAIL: usize = 400;
/// Bytes of free room kept at the end of the text buffers.
const ROOM: usize = 1 << 18;
/// Indent of the continuation of a wrapped line.
const INDENT: &str = "        ";
pub const FONT_SIZE: i32 = 14;

/// The style table at a font size.
fn styles(size: i32) -> Vec<StyleTableEntry> {
    let mut table = vec![
        StyleTableEntry { color: Color::from_hex(0x909090), font: Font::Helvetica, size: size - 2 },
        StyleTableEntry { color: Color::from_hex(0x808080), font: Font::HelveticaItalic, size },
        StyleTableEntry { color: Color::Black, font: Font::Helvetica, size },
    ];
    for c in NICK_COLOURS {
        table.push(StyleTableEntry { color: Color::from_hex(c), font: Font::HelveticaBold, size });
    }
    table.push(StyleTableEntry { color: Color::from_hex(0xb00020), font: Font::HelveticaBold, size });
    table.push(StyleTableEntry { color: Color::from_hex(0x1a5fd0), font: Font::Helvetica, size });
    table
}

/// The height of a line, as the display lays them out: the tallest font of
/// the style table.
fn line_height(size: i32) -> i32 {
    styles(size)
        .iter()
        .map(|s| {
            draw::set_font(s.font, s.size);
            draw::height()
        })
        .max()
        .unwrap_or(size)
}

/// What a click on a file in the log calls: its link and name.
type OnFile = Rc<RefCell<Option<Box<dyn FnMut(&str, &str)>>>>;

/// Splits text into plain runs and web addresses (`http://`, `https://`).
fn links(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = ["https://", "http://"].iter().filter_map(|p| rest.find(p)).min() {
        let end = rest[i..].find(char::is_whitespace).map_or(rest.len(), |e| i + e);
        // A closing bracket or full stop right after an address is the sentence's.
        let end = i + rest[i..end].trim_end_matches(['.', ',', ')', '>', '"', '\'']).len();
        if i > 0 {
            out.push((&rest[..i], false));
        }
        out.push((&rest[i..end], true));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push((rest, false));
    }
    out
}

/// Opens a web address in the user's browser.
pub fn open_link(url: &str) {
    match std::process::Command::new("xdg-open").arg(url).spawn() {
        // Reaped by a thread: the browser may run long.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(e) => eprintln!("lanchat: cannot open {url}: xdg-open: {e}"),
    }
}

/// A stable colour index for a nick: the same nick gets the same colour on every run.
pub fn nick_colour(nick: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for b in nick.bytes() {
        h ^= u32::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % NICK_COLOURS.len() as u32) as usize
}

pub struct ChatLog {
    pub display: TextDisplay,
    buf: TextBuffer,
    style: TextBuffer,
    lines: usize,
    tail: VecDeque<String>,
    /// Bytes that can still be appended before the buffers must grow.
    room: usize,
    /// How often the display was drawn, and that count at the last append.
    drawn: Rc<Cell<u64>>,
    drawn_at_append: u64,
    /// Whether the view followed the end at the last append.
    follow: bool,
    /// Lines were added while following: scroll to the end in settle().
    want_end: bool,
    /// Widths of the characters seen so far, in pixels.
    widths: HashMap<char, f64>,
    size: i32,
    /// Lines that named us.
    pub mentions: usize,
    /// The files shown, in buffer order, and the height of a line (drawn
    /// from the display's draw callback).
    files: Rc<RefCell<Vec<Entry>>>,
    line_h: Rc<Cell<i32>>,
    font_size: Rc<Cell<i32>>,
    on_file: OnFile,
}

impl ChatLog {
    pub fn new(x: i32, y: i32, w: i32, h: i32) -> ChatLog {
        let mut display = TextDisplay::new(x, y, w, h, None);
        let mut buf = TextBuffer::default();
        let mut style = TextBuffer::default();
        buf.can_undo(false);
        style.can_undo(false);
        display.set_buffer(buf.clone());
        let size = FONT_SIZE;
        display.set_highlight_data(style.clone(), styles(size));
        display.set_text_font(Font::Helvetica);
        display.set_text_size(size);
        display.set_scrollbar_size(14);
        // Lines are wrapped when added: a vertical scrollbar only.
        display.set_scrollbar_align(fltk::enums::Align::Right);
        let files: Rc<RefCell<Vec<Entry>>> = Rc::default();
        let on_file: OnFile = Rc::default();
        // A click on a file offers it (a right click too); on an address, opens it.
        display.handle({
            let (buf, style, files, on_file) = (buf.clone(), style.clone(), files.clone(), on_file.clone());
            move |d, ev| {
                use fltk::app::{MouseButton, event_mouse_button};
                use fltk::enums::Event;
                // Only mouse events have a button (asking at others panics).
                if !matches!(ev, Event::Push | Event::Released) {
                    return false;
                }
                let button = event_mouse_button();
                let click = (ev == Event::Released && button == MouseButton::Left)
                    || (ev == Event::Push && button == MouseButton::Right);
                if !click {
                    return false;
                }
                let pos = d.xy_to_position(fltk::app::event_x(), fltk::app::event_y(), PositionType::Character);
                let file = thumbs::at(&files.borrow(), pos).map(|e| (e.url.clone(), e.name.clone()));
                if let Some((url, name)) = file {
                    if let Some(f) = on_file.borrow_mut().as_mut() {
                        f(&url, &name);
                    }
                    return true;
                }
                if button != MouseButton::Left {
                    return false;
                }
                let is_link = |p: i32| style.text_range(p, p + 1).is_some_and(|s| s.as_bytes() == [STYLE_LINK]);
                if pos < 0 || !is_link(pos) {
                    return false;
                }
                let (mut a, mut b) = (pos, pos);
                while a > 0 && is_link(a - 1) {
                    a -= 1;
                }
                while b < buf.length() && is_link(b) {
                    b += 1;
                }
                // A wrapped address has the line break and indent in it.
                let url: String = buf.text_range(a, b).unwrap_or_default().split_whitespace().collect();
                open_link(&url);
                true
            }
        });
        let drawn = Rc::new(Cell::new(0));
        let line_h = Rc::new(Cell::new(line_height(size)));
        let font_size = Rc::new(Cell::new(size));
        display.draw({
            let (drawn, files, line_h, font_size) = (drawn.clone(), files.clone(), line_h.clone(), font_size.clone());
            move |d| {
                drawn.set(drawn.get() + 1);
                if let Ok(mut files) = files.try_borrow_mut() {
                    thumbs::draw(d, &mut files, line_h.get(), font_size.get());
                }
            }
        });
        ChatLog {
            display,
            buf,
            style,
            lines: 0,
            tail: VecDeque::new(),
            room: 0,
            drawn,
            drawn_at_append: 0,
            follow: true,
            want_end: false,
            widths: HashMap::new(),
            size,
            mentions: 0,
            files,
            line_h,
            font_size,
            on_file,
        }
    }

    /// What a click on a file calls, with its link and name.
    pub fn on_file(&mut self, f: impl FnMut(&str, &str) + 'static) {
        *self.on_file.borrow_mut() = Some(Box::new(f));
    }

    /// Changes the text size of the lines to come and of those shown.
    pub fn set_font_size(&mut self, size: i32) {
        self.size = size;
        self.font_size.set(size);
        self.line_h.set(line_height(size));
        self.widths.clear();
        self.display.set_highlight_data(self.style.clone(), styles(size));
        self.display.set_text_size(size);
        self.display.redraw();
    }

    /// A chat line: `time <nick> text`, or `time * nick text` for an action.
    /// A line that names us (`mention`) stands out.
    pub fn add_message(&mut self, time: &str, nick: &str, text: &str, action: bool, mention: bool) {
        let nick_style = STYLE_NICK0 + nick_colour(nick) as u8;
        let nick_part = if action { format!("* {nick} ") } else { format!("<{nick}> ") };
        let time = format!("{time} ");
        let mut parts = vec![(time.as_str(), STYLE_TIME), (nick_part.as_str(), nick_style)];
        let text_style = if mention { STYLE_MENTION } else { STYLE_TEXT };
        parts.extend(links(text).into_iter().map(|(t, link)| (t, if link { STYLE_LINK } else { text_style })));
        self.mentions += usize::from(mention);
        self.append(&parts);
    }

    /// A message that is exactly a file link: the file's name (in the
    /// style of a link), and room under it for its thumbnail or size.
    pub fn add_file(&mut self, time: &str, nick: &str, link: &Link, action: bool, mention: bool) {
        let nick_style = STYLE_NICK0 + nick_colour(nick) as u8;
        let nick_part = if action { format!("* {nick} ") } else { format!("<{nick}> ") };
        let time = format!("{time} ");
        self.mentions += usize::from(mention);
        // The probe's copy has the link as it was posted.
        let plain = format!("{time}{nick_part}{}", link.url);
        let parts = [(time.as_str(), STYLE_TIME), (nick_part.as_str(), nick_style), (link.name.as_str(), STYLE_LINK)];
        let (start, end) = self.append_as(&parts, &plain);
        let entry = Entry::new(&link.url, &link.name, start, end, self.line_h.get());
        // Blank lines, not counted as lines of the log.
        let room = "\n".repeat(entry.rows as usize);
        self.reserve(room.len());
        self.buf.append(&room);
        self.style.append(&"C".repeat(room.len()));
        self.files.borrow_mut().push(entry);
    }

    /// Sets what is known of every file of this link (its size, its
    /// thumbnail, why not), and redraws it; false if the log has none.
    pub fn update_file(&mut self, url: &str, facts: &Facts) -> bool {
        let mut any = false;
        for e in self.files.borrow_mut().iter_mut().filter(|e| e.url == url) {
            e.facts = facts.clone();
            any = true;
        }
        if any {
            self.display.redraw();
        }
        any
    }

    /// The files shown, for the probe: name, what is known, and where it
    /// shows in the window (`X Y W H`) when in view.
    pub fn files(&self) -> Vec<String> {
        let h = self.line_h.get();
        let files = self.files.borrow();
        files
            .iter()
            .map(|e| {
                let f = &e.facts;
                let size = f.size.map_or("-".to_owned(), |s| s.to_string());
                let thumb = f.picture.as_ref().map_or("-".to_owned(), |p| format!("{}x{}", p.size().0, p.size().1));
                let at = thumbs::area(&self.display, e, h)
                    .map_or("-".to_owned(), |a| format!("{} {} {} {}", a.0, a.1, a.2, a.3));
                let failed = f.failed.as_deref().unwrap_or("-");
                format!("{}\tsize={size}\tthumb={thumb}\tat={at}\tfailed={failed}\tcaption={}", e.name, e.caption())
            })
            .collect()
    }

    /// A grey system line (join, part, nick change, errors).
    pub fn add_system(&mut self, time: &str, text: &str) {
        self.append(&[(&format!("{time} "), STYLE_TIME), (&format!("-- {text}"), STYLE_SYSTEM)]);
    }

    /// True when the end of the log is in view (or the log is not shown).
    pub fn at_bottom(&self) -> bool {
        let len = self.buf.length();
        len == 0 || !self.display.visible_r() || self.display.position_to_xy(len - 1) != (0, 0)
    }

    fn append(&mut self, parts: &[(&str, u8)]) {
        let plain: String = parts.iter().map(|p| p.0).collect();
        self.append_as(parts, &plain);
    }

    /// Appends a line, kept for the probe as `plain`; where it starts and
    /// ends in the buffer.
    fn append_as(&mut self, parts: &[(&str, u8)], plain: &str) -> (i32, i32) {
        // The view's layout is only current after a draw: with several lines
        // arriving between two draws, keep following if we were.
        let follow = if self.drawn.get() > self.drawn_at_append { self.at_bottom() } else { self.follow };
        self.follow = follow;
        self.drawn_at_append = self.drawn.get();
        let mut text = String::new();
        let mut styles = Vec::new();
        for (part, style) in parts {
            // Control characters would break the layout; show them as spaces.
            for c in part.chars() {
                let c = if c.is_control() { ' ' } else { c };
                text.push(c);
                styles.extend(std::iter::repeat_n(*style, c.len_utf8()));
            }
        }
        let plain: String = plain.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let (mut text, mut styles) = self.wrap(text, styles);
        if self.lines > 0 {
            text.insert(0, '\n');
            styles.insert(0, STYLE_TEXT);
        }
        self.reserve(text.len());
        let start = self.buf.length() + i32::from(self.lines > 0);
        self.buf.append(&text);
        self.style.append(std::str::from_utf8(&styles).unwrap_or_default());
        self.lines += 1;
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(plain);
        // Scrolled once per batch of lines (see settle): FLTK lays out the
        // whole view on every scroll, which would cost more than the append.
        self.want_end |= follow;
        (start, self.buf.length())
    }

    /// Makes sure `n` more bytes fit in the buffers without copying them:
    /// appending a block and removing it again leaves that much free room.
    fn reserve(&mut self, n: usize) {
        if self.room >= n {
            self.room -= n;
            return;
        }
        let pad = "\n".repeat(ROOM.max(n));
        for buf in [&mut self.buf, &mut self.style] {
            let len = buf.length();
            buf.append(&pad);
            buf.remove(len, len + pad.len() as i32);
        }
        self.room = pad.len() - n;
    }

    /// Breaks a line at spaces so that it fits the width the log has now.
    fn wrap(&mut self, text: String, styles: Vec<u8>) -> (String, Vec<u8>) {
        let max = f64::from(self.display.w() - self.display.scrollbar_size() - 16);
        if max < 100.0 {
            return (text, styles);
        }
        // No glyph at this size is wider than 20 px: short lines need no measuring.
        if text.chars().count() as f64 * 20.0 <= max {
            return (text, styles);
        }
        // Widths come from a per-character cache: measuring whole strings
        // through Pango would cost more than everything else in an append.
        let (widths, size) = (&mut self.widths, self.size);
        let mut measure = |s: &str| -> f64 {
            s.chars()
                .map(|c| {
                    *widths.entry(c).or_insert_with(|| {
                        draw::set_font(Font::Helvetica, size);
                        draw::width(c.encode_utf8(&mut [0; 4]))
                    })
                })
                .sum()
        };
        // Bold nicks are a little wider than the plain font measures them.
        let mut fits = |s: &str| measure(s) * 1.03 <= max;
        if fits(&text) {
            return (text, styles);
        }
        let mut out = String::with_capacity(text.len() + 32);
        let mut out_styles = Vec::with_capacity(styles.len() + 32);
        let mut line = String::new();
        let mut line_styles: Vec<u8> = Vec::new();
        let mut flush = |line: &mut String, line_styles: &mut Vec<u8>, last: bool| {
            out.push_str(line.trim_end());
            out_styles.extend_from_slice(&line_styles[..line.trim_end().len()]);
            if !last {
                out.push('\n');
                out.push_str(INDENT);
                out_styles.extend(std::iter::repeat_n(STYLE_TEXT, 1 + INDENT.len()));
            }
            line.clear();
            line_styles.clear();
        };
        let mut start = 0;
        // Words with the spaces that follow them.
        let mut bounds: Vec<usize> = text.match_indices(' ').map(|(i, _)| i + 1).collect();
        bounds.push(text.len());
        for end in bounds {
            if start == end {
                continue;
            }
            let word = &text[start..end];
            let candidate = format!("{line}{word}");
            if line.is_empty() || fits(candidate.trim_end()) {
                line = candidate;
                line_styles.extend_from_slice(&styles[start..end]);
            } else {
                flush(&mut line, &mut line_styles, false);
                line.push_str(word);
                line_styles.extend_from_slice(&styles[start..end]);
            }
            // A word longer than the line: cut it where it overflows.
            while !fits(line.trim_end()) && line.chars().count() > 1 {
                let mut cut = line.len();
                while cut > 0 && !fits(&line[..cut]) {
                    cut = line[..cut].char_indices().last().map_or(0, |(i, _)| i);
                }
                let cut = cut.max(line.chars().next().map_or(1, char::len_utf8));
                let rest = line.split_off(cut);
                let rest_styles = line_styles.split_off(cut);
                flush(&mut line, &mut line_styles, false);
                line = rest;
                line_styles = rest_styles;
            }
            start = end;
        }
        flush(&mut line, &mut line_styles, true);
        (out, out_styles)
    }

    /// Shows the end if lines came while following; call after a batch of lines.
    pub fn settle(&mut self) {
        if std::mem::take(&mut self.want_end) {
            self.scroll_to_end();
        }
    }

    pub fn scroll_to_end(&mut self) {
        let len = self.buf.length();
        self.display.set_insert_position(len);
        self.display.show_insert_position();
    }

    /// How often the display has been drawn.
    pub fn draws(&self) -> u64 {
        self.drawn.get()
    }

    /// Whether new lines scroll the view (it was at the end when it was last drawn).
    pub fn following(&self) -> bool {
        if self.drawn.get() > self.drawn_at_append { self.at_bottom() } else { self.follow }
    }

    /// Where the last web address shown starts, in the window (for the probe).
    pub fn last_link_xy(&self) -> Option<(i32, i32)> {
        let styles = self.style.text();
        let at = styles.as_bytes().iter().rposition(|&b| b == STYLE_LINK)?;
        let start = styles.as_bytes()[..at].iter().rposition(|&b| b != STYLE_LINK).map_or(0, |i| i + 1);
        let (x, y) = self.display.position_to_xy(start as i32);
        (x > 0 || y > 0).then_some((x, y))
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The last lines as plain text, oldest first.
    pub fn tail(&self) -> impl Iterator<Item = &str> {
        self.tail.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_found_in_text() {
        assert_eq!(links("see https://x.org/a?b=1."), [("see ", false), ("https://x.org/a?b=1", true), (".", false)]);
        assert_eq!(links("(http://pi:8080) ok"), [("(", false), ("http://pi:8080", true), (") ok", false)]);
        assert_eq!(links("no link"), [("no link", false)]);
    }

    #[test]
    fn nick_colours_are_stable_and_spread() {
        assert_eq!(nick_colour("alice"), nick_colour("Alice"));
        let used: std::collections::HashSet<_> =
            ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi"].map(nick_colour).into();
        assert!(used.len() >= 4);
    }
}
