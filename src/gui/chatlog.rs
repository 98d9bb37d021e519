//! One conversation's log: a read-only text display with a style per part of
//! the line (time, nick in its own colour, text, grey system lines).
//!
//! It follows new lines while the view is at the bottom and stays put when the
//! user scrolled up. Lines are only appended, and no wrapping pass is needed
//! over old text, so a log of 100,000 lines stays fast (see examples/gui_bench.rs).

use std::collections::VecDeque;

use fltk::enums::{Color, Font};
use fltk::prelude::*;
use fltk::text::{StyleTableEntry, TextBuffer, TextDisplay, WrapMode};

/// Readable colours on white, one per nick (chosen by a stable hash).
const NICK_COLOURS: [u32; 12] = [
    0xc0392b, 0x2468a8, 0x1e8449, 0x8e44ad, 0xc0580a, 0x117a65, 0x9a7d0a, 0x6c3483, 0x2e86c1,
    0xa04000, 0x239b56, 0xb03a6e,
];
const STYLE_TIME: u8 = b'A';
const STYLE_SYSTEM: u8 = b'B';
const STYLE_TEXT: u8 = b'C';
const STYLE_NICK0: u8 = b'D';
/// How many recent lines are kept as plain text for the probe.
const TAIL: usize = 400;

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
}

impl ChatLog {
    pub fn new(x: i32, y: i32, w: i32, h: i32) -> ChatLog {
        let mut display = TextDisplay::new(x, y, w, h, None);
        let buf = TextBuffer::default();
        let style = TextBuffer::default();
        display.set_buffer(buf.clone());
        let size = 14;
        let mut table = vec![
            StyleTableEntry { color: Color::from_hex(0x909090), font: Font::Helvetica, size: size - 2 },
            StyleTableEntry { color: Color::from_hex(0x808080), font: Font::HelveticaItalic, size },
            StyleTableEntry { color: Color::Black, font: Font::Helvetica, size },
        ];
        for c in NICK_COLOURS {
            table.push(StyleTableEntry { color: Color::from_hex(c), font: Font::HelveticaBold, size });
        }
        display.set_highlight_data(style.clone(), table);
        display.set_text_font(Font::Helvetica);
        display.set_text_size(size);
        display.wrap_mode(WrapMode::AtBounds, 0);
        display.set_scrollbar_size(14);
        ChatLog { display, buf, style, lines: 0, tail: VecDeque::new() }
    }

    /// A chat line: `time <nick> text`, or `time * nick text` for an action.
    pub fn add_message(&mut self, time: &str, nick: &str, text: &str, action: bool) {
        let nick_style = STYLE_NICK0 + nick_colour(nick) as u8;
        let nick_part = if action { format!("* {nick} ") } else { format!("<{nick}> ") };
        self.append(&[(&format!("{time} "), STYLE_TIME), (&nick_part, nick_style), (text, STYLE_TEXT)]);
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
        let follow = self.at_bottom();
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
        if self.lines > 0 {
            text.insert(0, '\n');
            styles.insert(0, STYLE_TEXT);
        }
        self.buf.append(&text);
        self.style.append(std::str::from_utf8(&styles).unwrap_or_default());
        self.lines += 1;
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(text.trim_start_matches('\n').to_owned());
        if follow {
            self.scroll_to_end();
        }
    }

    pub fn scroll_to_end(&mut self) {
        let len = self.buf.length();
        self.display.set_insert_position(len);
        self.display.show_insert_position();
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
    fn nick_colours_are_stable_and_spread() {
        assert_eq!(nick_colour("alice"), nick_colour("Alice"));
        let used: std::collections::HashSet<_> =
            ["alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi"].map(nick_colour).into();
        assert!(used.len() >= 4);
    }
}
