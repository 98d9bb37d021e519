//! The connect dialog: the servers that answered LAN discovery, in a list to
//! pick from (refreshed on demand), and a line to type `HOST:PORT` by hand.
//!
//! Discovery runs on a short-lived thread and reports through the window's
//! message channel, so the dialog never blocks the window.

use std::time::Duration;

use fltk::app;
use fltk::browser::HoldBrowser;
use fltk::button::{Button, CheckButton, ReturnButton};
use fltk::enums::{Align, CallbackTrigger};
use fltk::frame::Frame;
use fltk::group::Flex;
use fltk::input::Input;
use fltk::prelude::*;
use fltk::window::Window;

use super::Msg;
use crate::discovery::{self, Found};

/// The dialog's title; the tests find its window by it.
pub const TITLE: &str = "Connect to a lanchat server";

pub struct ConnectDialog {
    pub win: Window,
    pub list: HoldBrowser,
    pub input: Input,
    pub status: Frame,
    pub refresh: Button,
    pub ok: ReturnButton,
    /// Connect over TLS; ticked when the server picked from the list has it.
    pub tls: CheckButton,
    pub found: Vec<Found>,
    /// Where discovery asks: the LAN broadcast address, or what `--discover-addr` says.
    targets: Vec<String>,
    searching: bool,
    tx: app::Sender<Msg>,
}

impl ConnectDialog {
    /// Builds the dialog, hidden.
    pub fn new(tx: app::Sender<Msg>, targets: Vec<String>) -> ConnectDialog {
        let (w, h) = (440, 320);
        let mut win = Window::new(150, 150, w, h, TITLE);
        win.set_xclass("lanchat");
        let mut col = Flex::new(0, 0, w, h, None).column();
        col.set_margin(10);
        col.set_pad(6);
        let mut head = Frame::default().with_label("Servers on the LAN (click one, or type an address):");
        head.set_align(Align::Inside | Align::Left);
        col.fixed(&head, 20);
        let mut list = HoldBrowser::default();
        list.set_format_char('\u{1}');
        list.set_column_widths(&[170, 150]);
        list.set_column_char('\t');
        list.set_trigger(CallbackTrigger::Changed | CallbackTrigger::NotChanged);
        list.set_callback(move |_| tx.send(Msg::ServerPicked { double: app::event_clicks() }));
        let mut status = Frame::default();
        status.set_align(Align::Inside | Align::Left);
        status.set_label_size(12);
        col.fixed(&status, 18);
        let mut row = Flex::default().row();
        row.set_pad(6);
        let mut label = Frame::default().with_label("Address:");
        label.set_align(Align::Inside | Align::Right);
        row.fixed(&label, 64);
        let mut input = Input::default();
        input.set_tooltip("HOST:PORT of the server");
        input.set_trigger(CallbackTrigger::EnterKeyAlways);
        input.set_callback(move |_| tx.send(Msg::ServerOk));
        let mut tls = CheckButton::default().with_label("TLS");
        tls.set_tooltip("Encrypt the connection; the server's certificate is pinned on first use");
        row.fixed(&tls, 56);
        row.end();
        col.fixed(&row, 28);
        let mut buttons = Flex::default().row();
        buttons.set_pad(6);
        let mut refresh = Button::default().with_label("Refresh");
        refresh.set_tooltip("Ask the LAN again");
        refresh.set_callback(move |_| tx.send(Msg::Discover));
        Frame::default();
        let mut cancel = Button::default().with_label("Cancel");
        cancel.set_callback(move |_| tx.send(Msg::ServerCancel));
        let mut ok = ReturnButton::default().with_label("Connect");
        ok.set_callback(move |_| tx.send(Msg::ServerOk));
        buttons.fixed(&refresh, 90);
        buttons.fixed(&cancel, 90);
        buttons.fixed(&ok, 100);
        buttons.end();
        col.fixed(&buttons, 30);
        col.end();
        win.end();
        win.make_modal(true);
        win.set_callback(move |_| tx.send(Msg::ServerCancel));
        ConnectDialog { win, list, input, status, refresh, ok, tls, found: Vec::new(), targets, searching: false, tx }
    }

    /// Opens the dialog with `current` in the address line, and asks the LAN.
    pub fn open(&mut self, current: &str, tls: bool) {
        self.input.set_value(current);
        self.tls.set_checked(tls);
        self.win.show();
        let _ = self.input.take_focus();
        self.discover();
    }

    pub fn close(&mut self) {
        self.win.hide();
    }

    pub fn shown(&self) -> bool {
        self.win.shown() && self.win.visible()
    }

    /// Starts a discovery round, unless one is running.
    pub fn discover(&mut self) {
        if self.searching {
            return;
        }
        self.searching = true;
        self.status.set_label("Searching…");
        let (targets, tx) = (self.targets.clone(), self.tx);
        std::thread::spawn(move || {
            let found = match discovery::discover(&targets, Duration::from_secs(1)) {
                Ok(found) => Ok(found),
                Err(e) => Err(e.to_string()),
            };
            tx.send(Msg::Discovered(found));
        });
    }

    /// Shows the outcome of a discovery round.
    pub fn set_found(&mut self, found: Result<Vec<Found>, String>) {
        self.searching = false;
        self.list.clear();
        match found {
            Ok(found) => {
                for f in &found {
                    let lock = if f.tls.is_some() { "  🔒 TLS" } else { "" };
                    self.list.add(&format!("{}\t{}\t{}{lock}", f.name, f.addr, f.users_text()));
                }
                self.status.set_label(&match found.len() {
                    0 => "No server answered. Type an address, or Refresh.".to_owned(),
                    1 => "1 server found.".to_owned(),
                    n => format!("{n} servers found."),
                });
                self.found = found;
            }
            Err(e) => {
                self.found.clear();
                self.status.set_label(&format!("Discovery failed: {e}"));
            }
        }
        self.list.redraw();
    }

    /// A click on the list: put that server's address in the line, its
    /// TLS port when it has TLS (preferred).
    pub fn picked(&mut self) {
        let row = self.list.value();
        if row > 0
            && let Some(f) = self.found.get(row as usize - 1)
        {
            match &f.tls {
                Some((port, _)) => self.input.set_value(&std::net::SocketAddr::new(f.addr.ip(), *port).to_string()),
                None => self.input.set_value(&f.addr.to_string()),
            }
            self.tls.set_checked(f.tls.is_some());
        }
    }

    /// The fingerprint discovery reported for the TLS address `addr`, if any.
    pub fn discovered_pin(&self, addr: &str) -> Option<String> {
        self.found.iter().find_map(|f| match &f.tls {
            Some((port, fp)) if std::net::SocketAddr::new(f.addr.ip(), *port).to_string() == addr => Some(fp.clone()),
            _ => None,
        })
    }

    /// The address in the line.
    pub fn value(&self) -> String {
        self.input.value().trim().to_owned()
    }
}
