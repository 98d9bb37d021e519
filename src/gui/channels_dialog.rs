//! The Channels… dialog: the server's channels (LIST) with their user counts
//! and topics, to join one, or a name typed to join or make a new one.

use fltk::app;
use fltk::browser::HoldBrowser;
use fltk::button::{Button, ReturnButton};
use fltk::enums::{Align, CallbackTrigger};
use fltk::frame::Frame;
use fltk::group::Flex;
use fltk::input::Input;
use fltk::prelude::*;
use fltk::window::Window;

use super::Msg;
use crate::client::ChannelInfo;

/// The dialog's title; the tests find its window by it.
pub const TITLE: &str = "Channels";

pub struct ChannelsDialog {
    pub win: Window,
    pub list: HoldBrowser,
    pub input: Input,
    pub status: Frame,
    pub join: ReturnButton,
    pub shown_list: Vec<ChannelInfo>,
}

impl ChannelsDialog {
    /// Builds the dialog, hidden.
    pub fn new(tx: app::Sender<Msg>) -> ChannelsDialog {
        let (w, h) = (520, 360);
        let mut win = Window::new(180, 160, w, h, TITLE);
        win.set_xclass("lanchat");
        let mut col = Flex::new(0, 0, w, h, None).column();
        col.set_margin(10);
        col.set_pad(6);
        let mut head = Frame::default().with_label("Channels on this server (double-click one to join it):");
        head.set_align(Align::Inside | Align::Left);
        col.fixed(&head, 20);
        let mut list = HoldBrowser::default();
        list.set_format_char('\u{1}');
        list.set_column_char('\t');
        list.set_column_widths(&[150, 70]);
        list.set_trigger(CallbackTrigger::Changed | CallbackTrigger::NotChanged);
        list.set_callback(move |_| tx.send(Msg::ChannelPicked { double: app::event_clicks() }));
        let mut status = Frame::default();
        status.set_align(Align::Inside | Align::Left);
        status.set_label_size(12);
        col.fixed(&status, 18);
        let mut row = Flex::default().row();
        row.set_pad(6);
        let mut label = Frame::default().with_label("Channel:");
        label.set_align(Align::Inside | Align::Right);
        row.fixed(&label, 64);
        let mut input = Input::default();
        input.set_tooltip("A channel to join; a new name makes a new channel");
        input.set_trigger(CallbackTrigger::EnterKeyAlways);
        input.set_callback(move |_| tx.send(Msg::ChannelJoin));
        row.end();
        col.fixed(&row, 28);
        let mut buttons = Flex::default().row();
        buttons.set_pad(6);
        let mut refresh = Button::default().with_label("Refresh");
        refresh.set_callback(move |_| tx.send(Msg::ChannelsDialog));
        Frame::default();
        let mut close = Button::default().with_label("Close");
        close.set_callback(move |_| tx.send(Msg::ChannelsClose));
        let mut join = ReturnButton::default().with_label("Join");
        join.set_callback(move |_| tx.send(Msg::ChannelJoin));
        buttons.fixed(&refresh, 90);
        buttons.fixed(&close, 90);
        buttons.fixed(&join, 100);
        buttons.end();
        col.fixed(&buttons, 30);
        col.end();
        // Placed now, not at the first draw: the probe reports the positions.
        col.layout();
        win.end();
        win.set_callback(move |_| tx.send(Msg::ChannelsClose));
        ChannelsDialog { win, list, input, status, join, shown_list: Vec::new() }
    }

    /// Shows the dialog (the caller asks the server for the list).
    pub fn open(&mut self) {
        self.status.set_label("Asking the server…");
        self.win.show();
        let _ = self.input.take_focus();
    }

    pub fn close(&mut self) {
        self.win.hide();
    }

    pub fn shown(&self) -> bool {
        self.win.shown() && self.win.visible()
    }

    pub fn set_list(&mut self, list: &[ChannelInfo], joined: impl Fn(&str) -> bool) {
        self.list.clear();
        for c in list {
            let mark = if joined(&c.name) { " ✓" } else { "" };
            let users = if c.users == 1 { "1 user".to_owned() } else { format!("{} users", c.users) };
            self.list.add(&format!("{}{mark}\t{users}\t{}", c.name, c.topic));
        }
        self.status.set_label(&match list.len() {
            0 => "No channels yet: type a name to make one.".to_owned(),
            1 => "1 channel.".to_owned(),
            n => format!("{n} channels."),
        });
        self.shown_list = list.to_vec();
        self.list.redraw();
    }

    /// A click on the list: that channel's name in the line.
    pub fn picked(&mut self) {
        let row = self.list.value();
        if row > 0
            && let Some(c) = self.shown_list.get(row as usize - 1)
        {
            self.input.set_value(&c.name);
        }
    }

    /// The channel in the line, with a `#` added when it has none.
    pub fn value(&self) -> Option<String> {
        let v = self.input.value().trim().to_owned();
        if v.is_empty() || v.contains([' ', ',']) {
            return None;
        }
        Some(if v.starts_with(['#', '&']) { v } else { format!("#{v}") })
    }
}
