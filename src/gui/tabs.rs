//! The conversations' tabs: one per channel (with its own user list, topic
//! and canvas, shown with its tab) and one per private conversation; which
//! channel's list, topic and canvas are in view; unread counts.

use std::time::SystemTime;

use fltk::enums::{Color, Font};
use fltk::group::Group;
use fltk::prelude::*;

use super::canvas::Canvas;
use super::chatlog::ChatLog;
use super::{App, Conv, Msg, same};
use crate::client::Command;
use crate::client::view::Place;
use crate::clock::local_hhmm;

impl App {
    pub(super) fn conv_index(&self, name: &str) -> Option<usize> {
        self.convs.iter().position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Finds a conversation's tab or opens a new one (not selected).
    pub(super) fn conv(&mut self, name: &str) -> usize {
        if let Some(i) = self.conv_index(name) {
            return i;
        }
        let (x, y, w, h) = self.tabs.client_area();
        self.tabs.begin();
        let mut group = Group::new(x, y, w, h, None);
        group.set_label(name);
        let mut log = ChatLog::new(x, y, w, h);
        log.set_font_size(self.font_size);
        let tx = self.files.sender();
        log.on_file(move |url, name| tx.send(Msg::FileMenu { url: url.to_owned(), name: name.to_owned() }));
        group.resizable(&log.display);
        group.end();
        self.tabs.end();
        group.hide();
        let canvas = name.starts_with(['#', '&']).then(|| {
            let s = &self.canvas_slot;
            self.canvas_slot.begin();
            let mut c = Canvas::new(s.x(), s.y(), s.w(), s.h());
            self.canvas_slot.end();
            c.set_color(self.brush.0);
            c.set_brush(self.brush.1);
            c.widget.hide();
            c
        });
        if canvas.is_none() {
            // A private tab says when its peer goes and comes back.
            self.handle.send(Command::Watch(name.to_owned()));
        }
        self.convs.push(Conv { name: name.to_owned(), group, log, unread: 0, canvas });
        self.tabs.redraw();
        self.dirty = true;
        self.convs.len() - 1
    }

    /// Closes a channel's or private tab (never the main channel's).
    pub(super) fn close(&mut self, i: usize) {
        if i == 0 || i >= self.convs.len() {
            return;
        }
        let active = self.active() == i;
        let c = self.convs.remove(i);
        self.tabs.remove(&c.group);
        Group::delete(c.group);
        if let Some(canvas) = c.canvas {
            self.canvas_slot.remove(&canvas.widget);
            fltk::widget::Widget::delete(canvas.widget);
        }
        if active {
            self.select(0);
        }
        self.tabs.redraw();
        self.dirty = true;
    }

    pub(super) fn select(&mut self, i: usize) {
        let g = self.convs[i].group.clone();
        let _ = self.tabs.set_value(&g);
        self.on_tab_changed();
    }

    pub(super) fn active(&self) -> usize {
        let v = self.tabs.value();
        self.convs.iter().position(|c| v.as_ref().is_some_and(|v| same(v, &c.group))).unwrap_or(0)
    }

    /// The channel whose users, topic and canvas are shown: the tab in
    /// view, or for a private tab the main channel.
    pub(super) fn shown_channel(&self) -> usize {
        let i = self.active();
        if self.convs[i].canvas.is_some() { i } else { 0 }
    }

    pub(super) fn canvas(&self) -> &Canvas {
        let i = self.shown_channel();
        self.convs[i].canvas.as_ref().or(self.convs[0].canvas.as_ref()).expect("the main channel has a canvas")
    }

    /// The channels joined besides the main one, for the config.
    pub(super) fn extra_channels(&self) -> Vec<String> {
        self.convs.iter().skip(1).filter(|c| c.canvas.is_some()).map(|c| c.name.clone()).collect()
    }

    pub(super) fn on_tab_changed(&mut self) {
        let i = self.active();
        self.set_unread(i, 0);
        self.convs[i].log.scroll_to_end();
        self.tabs.redraw();
        self.refresh_users();
        self.refresh_topic();
        self.refresh_typing();
        self.refresh_canvas();
        self.dirty = true;
    }

    /// Shows a tab's unread count in its label: `#dev (3)`.
    pub(super) fn set_unread(&mut self, i: usize, unread: usize) {
        let c = &mut self.convs[i];
        if c.unread == unread {
            return;
        }
        c.unread = unread;
        if unread > 0 {
            c.group.set_label(&format!("{} ({unread})", c.name));
            c.group.set_label_color(Color::from_hex(0xc00000));
            c.group.set_label_font(Font::HelveticaBold);
        } else {
            c.group.set_label(&c.name);
            c.group.set_label_color(Color::Black);
            c.group.set_label_font(Font::Helvetica);
        }
        self.tabs.redraw();
    }

    /// A line arrived in conversation `i`: count it unread unless it is in view.
    pub(super) fn touched(&mut self, i: usize) {
        if i != self.active() {
            let n = self.convs[i].unread + 1;
            self.set_unread(i, n);
        }
        self.dirty = true;
    }

    /// A grey line; it does not count as unread (joins and parts would drown the count).
    pub(super) fn system(&mut self, i: usize, time: SystemTime, text: &str) {
        self.convs[i].log.add_system(&local_hhmm(time), text);
        self.dirty = true;
    }

    /// Shows the user list of the shown channel, away users greyed.
    pub(super) fn refresh_users(&mut self) {
        let ch = self.convs[self.shown_channel()].name.clone();
        let selected =
            usize::try_from(self.browser.value()).ok().and_then(|v| self.entries.get(v.wrapping_sub(1)).cloned());
        self.browser.clear();
        self.entries.clear();
        let mut tip = Vec::new();
        for n in self.view.users(&ch).to_vec() {
            match self.view.away_message(&n) {
                Some(m) => {
                    // Grey (FLTK's inactive colour) and italic.
                    let why = if m.is_empty() { String::new() } else { format!(" – {m}") };
                    self.browser.add(&format!("\u{1}C8\u{1}i{n}{why}"));
                    tip.push(if m.is_empty() { format!("{n}: away") } else { format!("{n}: away ({m})") });
                }
                None => self.browser.add(&n),
            }
            if selected.as_deref() == Some(n.as_str()) {
                self.browser.select(self.browser.size());
            }
            self.entries.push(n);
        }
        self.browser.set_tooltip(&tip.join("\n"));
        self.browser.redraw();
        self.dirty = true;
    }

    pub(super) fn refresh_topic(&mut self) {
        let ch = &self.convs[self.shown_channel()].name;
        let topic = self.view.topic(ch);
        let text =
            if topic.is_empty() { format!("{ch}: no topic (/topic TEXT sets one)") } else { format!("{ch}: {topic}") };
        // '@' would be read as a symbol code.
        self.topic_bar.set_label(&text.replace('@', "@@"));
        self.topic_bar.set_tooltip(topic);
        self.topic_bar.redraw();
        self.dirty = true;
    }

    pub(super) fn refresh_typing(&mut self) {
        let line = self.view.typing.line(&self.convs[self.active()].name);
        if self.typing_bar.label() != line {
            self.typing_bar.set_label(&line);
            self.typing_bar.redraw();
            self.dirty = true;
        }
    }

    /// Shows the canvas of the shown channel, hides the others.
    pub(super) fn refresh_canvas(&mut self) {
        let shown = self.shown_channel();
        for (i, c) in self.convs.iter_mut().enumerate() {
            if let Some(canvas) = c.canvas.as_mut() {
                if i == shown { canvas.widget.show() } else { canvas.widget.hide() }
            }
        }
        self.canvas_slot.redraw();
    }

    /// The tab a line goes to.
    pub(super) fn place(&mut self, place: &Place) -> usize {
        match place {
            Place::Main => 0,
            Place::Active => self.active(),
            Place::Find(name) | Place::IfOpen(name) => self.conv_index(name).unwrap_or(0),
            Place::Open(name) => self.conv(name),
        }
    }

    /// The conversation that plain typed lines go to.
    pub(super) fn current_target(&self) -> String {
        let i = self.active();
        if i == 0 { self.view.settings.channel.clone() } else { self.convs[i].name.clone() }
    }
}
