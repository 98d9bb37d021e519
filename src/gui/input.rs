//! The input line's keys: typing notices and the end of auto-away on each
//! edit, Tab completion of nicks, Up and Down through the sent lines. The
//! logic is in [`crate::client::input`] and [`crate::client::typing`].

use std::time::Instant;

use fltk::prelude::*;

use super::App;
use crate::client::{Command, DEFAULT_PREFIXES, bare_nick};

impl App {
    /// A key changed the input line: typing notices, and not idle.
    pub(super) fn edited(&mut self) {
        self.completer.reset();
        let now = Instant::now();
        if self.auto_away.key(now) {
            self.handle.send(Command::Away(None));
        }
        let text = self.input.value();
        let command = text.starts_with('/') && !text.starts_with("//");
        let target = self.current_target();
        for (target, state) in self.typing_out.on_edit(&target, text.trim().is_empty(), command, now) {
            self.handle.send(Command::Typing { target, state });
        }
    }

    /// Tab: the nicks of the channel in view (and a private tab's peer).
    pub(super) fn complete(&mut self) {
        let ch = self.convs[self.shown_channel()].name.clone();
        let mut nicks: Vec<String> =
            self.view.users(&ch).iter().map(|n| bare_nick(n, DEFAULT_PREFIXES).to_owned()).collect();
        let i = self.active();
        if i != self.shown_channel() {
            nicks.push(self.convs[i].name.clone());
        }
        nicks.retain(|n| *n != self.view.nick);
        let refs: Vec<&str> = nicks.iter().map(String::as_str).collect();
        let (line, cursor) = (self.input.value(), self.input.position().max(0) as usize);
        if let Some((line, at)) = self.completer.complete(&line, cursor, &refs) {
            self.input.set_value(&line);
            let _ = self.input.set_position(at as i32);
            self.dirty = true;
        }
    }

    /// Up (`older`) or Down through the lines sent.
    pub(super) fn recall(&mut self, older: bool) {
        let line = if older { self.history.up(&self.input.value()) } else { self.history.down() };
        if let Some(line) = line {
            self.input.set_value(&line);
            let _ = self.input.set_position(line.len() as i32);
            self.dirty = true;
        }
    }
}
