//! The desktop client: one FLTK window with the chat log in tabs (the channel
//! and one per private conversation), the user list, an info pane, an input
//! line with an emoji picker, and the shared canvas.
//!
//! The connection runs on its own thread ([`crate::client::spawn`]); its
//! events reach the FLTK loop through an `app::channel` (which wakes the loop),
//! and widgets post their actions to the same channel, so all the state lives
//! in one [`App`] owned by the loop.
//!
//! What to show for each event is decided in [`crate::client::view`], the
//! typed line is parsed by [`crate::client::slash`], and the remembered
//! settings are [`crate::client::config`]: this module only has the widgets.
//!
//! With `LANCHAT_GUI_PROBE=PATH` set, the window writes what it shows (log
//! tails, users, info pane, tabs, canvas strokes and ink) to PATH after every
//! change, for the tests in tests/gui.rs.

mod attention;
pub mod canvas;
mod channels_dialog;
pub mod chatlog;
mod connect;
mod files;
mod input;
mod probe;
mod splitter;
mod tabs;
pub mod thumbs;
mod usermenu;

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use fltk::app;
use fltk::browser::HoldBrowser;
use fltk::button::{Button, LightButton};
use fltk::dialog;
use fltk::enums::{Align, CallbackTrigger, Color, Event as FlEvent, Font, FrameType, Key};
use fltk::frame::Frame;
use fltk::group::{Flex, Group, Tabs};
use fltk::input::Input;
use fltk::menu::{Choice, MenuButton, MenuFlag};
use fltk::misc::{Progress, Spinner};
use fltk::prelude::*;
use fltk::window::Window;

use crate::canvas::{HEIGHT, MAX_BRUSH, WIDTH};
use crate::client::config::{self, Config};
use crate::client::idle::AutoAway;
use crate::client::input::{Completer, History};
use crate::client::slash::{self, Input as Typed};
use crate::client::trust;
use crate::client::typing::Outgoing;
use crate::client::view::{Place, Show, View};
use crate::client::{Command, ConnState, DEFAULT_PREFIXES, Event, Handle, Settings, bare_nick, spawn};
use crate::clock::local_hhmm;
use crate::emoticon;
use canvas::Canvas;
use chatlog::ChatLog;

/// The title of the Nick… dialog.
pub const NICK_DIALOG_TITLE: &str = "Change nick";

/// Colours offered for the brush: name and 0xRRGGBB.
pub const COLOURS: &[(&str, u32)] = &[
    ("Black", 0x000000),
    ("Red", 0xe02020),
    ("Green", 0x20a040),
    ("Blue", 0x2050e0),
    ("Orange", 0xff8800),
    ("Purple", 0x8030c0),
    ("Brown", 0x8b5a2b),
    ("Eraser", 0xffffff),
];

#[derive(Clone, Debug)]
enum Msg {
    Net(Box<Event>),
    SendInput,
    Emoji(usize),
    UserClicked {
        double: bool,
    },
    /// A right click on the user list.
    UserMenu,
    TabChanged,
    ServerDialog,
    /// A click on the connect dialog's list of servers.
    ServerPicked {
        double: bool,
    },
    ServerOk,
    ServerCancel,
    /// Ask the LAN for servers again.
    Discover,
    Discovered(Result<Vec<crate::discovery::Found>, String>),
    NickDialog,
    ConnectToggle,
    Colour(usize),
    Brush(u8),
    Clear,
    Undo,
    Save,
    Tick,
    /// The Channels… dialog: open it (or refresh it), and its actions.
    ChannelsDialog,
    ChannelsClose,
    ChannelJoin,
    ChannelPicked {
        double: bool,
    },
    /// A key changed the input line.
    Edited,
    Complete,
    HistoryUp,
    HistoryDown,
    AwayToggle,
    NotifyToggle,
    FontSize(i32),
    /// Send file…: open the chooser.
    SendFileDialog,
    /// A drag came over the window, and what its drop pasted (the files, one a line).
    DragEntered,
    Dropped(String),
    /// A click on a file in a log.
    FileMenu {
        url: String,
        name: String,
    },
    /// A fetcher's answer about a file link.
    Fetched(Box<files::Fetched>),
    DownloadProgress {
        id: u64,
        done: u64,
        total: u64,
    },
    Downloaded {
        id: u64,
        result: Result<(), String>,
    },
}

/// One conversation: a channel (with its own canvas) or a private one.
struct Conv {
    name: String,
    group: Group,
    log: ChatLog,
    /// Lines that came while another tab was in view.
    unread: usize,
    canvas: Option<Canvas>,
}

/// The widgets and the state shown in them.
pub struct App {
    handle: Handle,
    view: View,
    config_path: Option<PathBuf>,
    convs: Vec<Conv>,
    tabs: Tabs,
    browser: HoldBrowser,
    user_menu: usermenu::UserMenu,
    info: Frame,
    input: Input,
    emoji_btn: MenuButton,
    colour_choice: Choice,
    brush_spinner: Spinner,
    window: Window,
    connect_btn: Button,
    server_btn: Button,
    nick_btn: Button,
    clear_btn: Button,
    undo_btn: Button,
    save_btn: Button,
    channels_btn: Button,
    split: Frame,
    away_btn: LightButton,
    options_btn: MenuButton,
    /// Holds every channel's canvas, one shown at a time.
    canvas_slot: Group,
    topic_bar: Frame,
    typing_bar: Frame,
    /// The user list's nicks, in its order (its lines carry format codes).
    entries: Vec<String>,
    connect: connect::ConnectDialog,
    channels: channels_dialog::ChannelsDialog,
    notifier: attention::Notifier,
    /// The urgency hint is set, to clear on focus.
    urgent: bool,
    history: History,
    completer: Completer,
    typing_out: Outgoing,
    font_size: i32,
    auto_away: AutoAway,
    brush: (u32, u8),
    files: files::Files,
    probe: Option<probe::Probe>,
    dirty: bool,
}

fn same(a: &impl WidgetExt, b: &impl WidgetExt) -> bool {
    a.as_widget_ptr() == b.as_widget_ptr()
}

impl App {
    /// A line for us (a mention, a private line) while the window is in
    /// the background: urgency hint and a notification.
    fn attend(&mut self, conv: usize, from: &str, text: &str) {
        if attention::focused(&self.window) {
            return;
        }
        attention::set_urgent(&self.window, true);
        self.urgent = true;
        let name = &self.convs[conv].name;
        let title = if name.starts_with(['#', '&']) { format!("{from} in {name}") } else { from.to_owned() };
        self.notifier.notify(&title, text);
        self.dirty = true;
    }

    /// Remembers the joined channels.
    fn save_channels(&self) {
        let channels = self.extra_channels();
        self.save_config(|c| c.channels = channels);
    }

    fn refresh_info(&mut self) {
        let title = self.view.title();
        if self.window.label() != title {
            self.window.set_label(&title);
        }
        let text = self.view.info_text();
        self.info.set_label(&text);
        let tip = match &self.view.fingerprint {
            Some(fp) => format!("Encrypted (TLS). The server's certificate, SHA-256:\n{fp}"),
            None => String::new(),
        };
        self.info.set_tooltip(&tip);
        self.info.redraw();
        let busy = self.view.state != ConnState::Disconnected;
        self.connect_btn.set_label(if busy { "Disconnect" } else { "Connect" });
        self.away_btn.set_value(self.view.my_away.is_some());
        self.dirty = true;
    }

    /// Remembers the server, TLS and nick (and what `f` changes), keeping
    /// the rest of the file (the pins).
    fn save_config(&self, f: impl FnOnce(&mut Config)) {
        if let Some(path) = &self.config_path {
            let s = &self.view.settings;
            let (server, tls, nick) = (s.server.clone(), s.tls, self.view.nick.clone());
            let res = Config::update(path, |c| {
                c.server = Some(server);
                c.tls = tls;
                c.nick = Some(nick);
                f(c);
            });
            if let Err(e) = res {
                eprintln!("lanchat: cannot save {}: {e}", path.display());
            }
        }
    }

    /// Connects, joining the main channel and the other open ones.
    fn connect(&mut self) {
        self.handle.send(Command::Connect(self.view.settings.clone()));
        for c in self.extra_channels() {
            self.handle.send(Command::Join(c));
        }
    }

    fn on_event(&mut self, ev: Event) {
        // The button and the progress bar; the view says the rest.
        match &ev {
            Event::Files(max) => self.files.set_max(*max),
            Event::Transfer { id, name, done, total, state, .. } => self.on_transfer(*id, name, *done, *total, state),
            _ => {}
        }
        for show in self.view.on_event(ev, SystemTime::now()) {
            match show {
                Show::Message { place, time, from, text, action, history, mention, attention } => {
                    let i = self.place(&place);
                    match crate::files::link(&text).filter(|_| !action) {
                        Some(link) => self.show_file(i, &local_hhmm(time), &from, &link, mention),
                        None => self.convs[i].log.add_message(&local_hhmm(time), &from, &text, action, mention),
                    }
                    if history {
                        // Replayed on (re)joining: already seen, or older than this session.
                        self.dirty = true;
                    } else {
                        self.touched(i);
                    }
                    if attention {
                        self.attend(i, &from, &text);
                    }
                }
                Show::System { place: Place::IfOpen(name), time, text } => {
                    if let Some(i) = self.conv_index(&name) {
                        self.system(i, time, &text);
                    }
                }
                Show::System { place: Place::Active, time, text } => {
                    let i = self.active();
                    self.system(i, time, &text);
                    if i != 0 {
                        self.system(0, time, &text);
                    }
                }
                Show::System { place, time, text } => {
                    let i = self.place(&place);
                    self.system(i, time, &text);
                }
                Show::Info => self.refresh_info(),
                Show::Users(ch) | Show::Topic(ch)
                    if !self.convs[self.shown_channel()].name.eq_ignore_ascii_case(&ch) => {}
                Show::Users(_) => self.refresh_users(),
                Show::Topic(_) => self.refresh_topic(),
                Show::Joined(ch) => {
                    if self.conv_index(&ch).is_none() {
                        self.conv(&ch);
                    }
                    self.save_channels();
                }
                Show::Parted(ch) => {
                    if let Some(i) = self.conv_index(&ch) {
                        self.close(i);
                    }
                    self.save_channels();
                }
                Show::ChannelList => {
                    let joined: Vec<String> = self.convs.iter().map(|c| c.name.to_ascii_lowercase()).collect();
                    let list = self.view.channel_list.clone();
                    self.channels.set_list(&list, |n| joined.contains(&n.to_ascii_lowercase()));
                    self.dirty = true;
                }
                Show::Typing => self.refresh_typing(),
                Show::Stroke { channel, stroke } => {
                    if let Some(c) = self.conv_index(&channel).and_then(|i| self.convs[i].canvas.as_mut()) {
                        c.add(stroke);
                    }
                    self.dirty = true;
                }
                Show::ClearCanvas(channel) => {
                    if let Some(c) = self.conv_index(&channel).and_then(|i| self.convs[i].canvas.as_mut()) {
                        c.clear();
                    }
                    self.dirty = true;
                }
                Show::Snapshot { channel, raster } => {
                    if let Some(c) = self.conv_index(&channel).and_then(|i| self.convs[i].canvas.as_mut()) {
                        c.snapshot(raster);
                    }
                    self.dirty = true;
                }
                Show::Undo { channel, id, count } => {
                    if let Some(c) = self.conv_index(&channel).and_then(|i| self.convs[i].canvas.as_mut()) {
                        c.undo(id, count);
                    }
                    self.dirty = true;
                }
                Show::Remember => self.save_config(|_| {}),
                Show::Pin { server, fingerprint } => self.save_config(|c| drop(c.pins.insert(server, fingerprint))),
            }
        }
    }

    /// Sends a line to a channel or nick; the connection echoes it back as
    /// an event once sent (or reports it NotSent).
    fn say(&mut self, target: &str, text: &str) {
        if !target.starts_with(['#', '&']) {
            self.conv(target);
        }
        self.handle.send(Command::Say { target: target.to_owned(), text: text.to_owned() });
    }

    fn send_input(&mut self) {
        let line = self.input.value();
        let Some(input) = slash::parse(&line) else { return };
        self.input.set_value("");
        self.history.push(&line);
        self.completer.reset();
        if !matches!(input, Typed::Say(_) | Typed::Me(_)) {
            self.edited();
        }
        self.typing_out.on_sent();
        let now = SystemTime::now();
        match input {
            Typed::Say(text) => {
                let target = self.current_target();
                self.say(&target, text);
            }
            Typed::Me(text) => {
                let target = self.current_target();
                self.handle.send(Command::Action { target, text: text.to_owned() });
            }
            Typed::Msg { target, text } => {
                let channel = target.starts_with(['#', '&']);
                let i = if channel { self.conv_index(target).unwrap_or(0) } else { self.conv(target) };
                self.select(i);
                if !text.is_empty() {
                    self.say(target, text);
                }
            }
            Typed::Nick(n) => self.change_nick(n),
            Typed::Join(c) => self.join(c),
            Typed::Part(c) => {
                let channel = c.map_or_else(|| self.current_target(), str::to_owned);
                let i = self.active();
                if channel.eq_ignore_ascii_case(&self.view.settings.channel) {
                    self.system(i, now, "the main channel stays open (start with --channel to change it)");
                } else if channel.starts_with(['#', '&']) {
                    self.handle.send(Command::Part(channel.clone()));
                    if let Some(i) = self.conv_index(&channel) {
                        self.close(i);
                    }
                    self.save_channels();
                } else {
                    // A private tab: just close it.
                    self.close(i);
                }
            }
            Typed::Away(m) => {
                // As IRC has it: with a message away, without one back.
                self.auto_away.chosen();
                self.handle.send(Command::Away(m.map(str::to_owned)));
            }
            Typed::Topic(Some(text)) => {
                let channel = self.convs[self.shown_channel()].name.clone();
                self.handle.send(Command::Topic { channel, text: text.to_owned() });
            }
            Typed::Topic(None) => {
                let i = self.active();
                let ch = self.convs[self.shown_channel()].name.clone();
                let topic = self.view.topic(&ch);
                let text =
                    if topic.is_empty() { format!("{ch} has no topic") } else { format!("topic of {ch}: {topic}") };
                self.system(i, now, &text);
            }
            Typed::List => self.on_msg(Msg::ChannelsDialog),
            Typed::Send(path) => {
                let target = self.current_target();
                self.send_files(&target, vec![crate::files::typed_path(path)]);
            }
            Typed::Quit => app::quit(),
            Typed::Server(addr) => {
                let tls = self.view.settings.tls;
                self.change_server(addr, tls, None)
            }
            Typed::Accept => self.accept(),
            Typed::Connect => self.connect(),
            Typed::Disconnect => self.handle.send(Command::Disconnect),
            Typed::Clear => self.clear_canvas(),
            Typed::Op(op) => {
                let channel = self.convs[self.shown_channel()].name.clone();
                self.handle.send(Command::Raw(op.line(&channel)));
            }
            Typed::Unknown(name) => {
                let i = self.active();
                self.system(i, now, &slash::unknown(name));
            }
            Typed::Usage(usage) => {
                let i = self.active();
                self.system(i, now, &format!("usage: {usage}"));
            }
        }
    }

    fn change_nick(&mut self, nick: &str) {
        let nick = nick.trim().to_owned();
        if nick.is_empty() || nick.contains(' ') {
            let i = self.active();
            self.system(i, SystemTime::now(), "a nick is one word");
            return;
        }
        self.view.settings.nick = nick.clone();
        if self.view.state == ConnState::Disconnected {
            self.view.nick = nick;
            self.refresh_info();
        } else {
            self.handle.send(Command::Nick(nick));
        }
    }

    /// Connects to `server` (TLS or not). A fingerprint that discovery
    /// reported is pinned without asking, unless another one is pinned:
    /// then that one stays, and a server that shows another is refused.
    fn change_server(&mut self, server: &str, tls: bool, discovered: Option<String>) {
        let server = server.trim();
        let ok = server.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            let i = self.active();
            self.system(i, SystemTime::now(), &format!("\"{server}\" is not HOST:PORT"));
            return;
        }
        let remembered = self.config_path.as_deref().map(Config::load).unwrap_or_default();
        let mut pin = remembered.pin(server);
        if tls
            && pin.is_none()
            && let Some(fp) = discovered
        {
            let text = format!("{} (as LAN discovery reported it)", trust::pinned_text(server, &fp));
            self.system(0, SystemTime::now(), &text);
            pin = Some(fp);
        }
        self.view.settings.server = server.to_owned();
        self.view.settings.tls = tls;
        self.view.settings.pin = pin.clone();
        self.view.refused = None;
        self.save_config(|c| {
            if let Some(fp) = pin {
                c.pins.insert(server.to_owned(), fp);
            }
        });
        self.refresh_info();
        self.connect();
    }

    /// `/accept`: trusts the certificate that was refused, pins it, and connects.
    fn accept(&mut self) {
        let now = SystemTime::now();
        let Some((server, seen)) = self.view.refused.take() else {
            let i = self.active();
            self.system(i, now, "/accept: no certificate was refused");
            return;
        };
        self.system(0, now, &format!("accepted: {}", trust::pinned_text(&server, &seen)));
        if server == self.view.settings.server {
            self.view.settings.pin = Some(seen.clone());
        }
        self.save_config(|c| drop(c.pins.insert(server, seen)));
        self.connect();
    }

    /// Joins a channel (a tab at once, selected).
    fn join(&mut self, c: &str) {
        let i = self.conv(c);
        self.select(i);
        self.handle.send(Command::Join(c.to_owned()));
        let _ = self.input.take_focus();
    }

    /// Asks the server to clear the shown canvas (operators only): it is
    /// cleared when the server relays the clear back, so everyone's stays the same.
    fn clear_canvas(&mut self) {
        let channel = self.convs[self.shown_channel()].name.clone();
        self.handle.send(Command::Clear { channel });
    }

    /// Takes back the newest stroke drawn here on the shown canvas that is
    /// still on it; it goes when the server relays the undo back.
    fn undo_stroke(&mut self) {
        let i = self.shown_channel();
        let channel = self.convs[i].name.clone();
        // What was drawn goes first, so the undo takes all of the stroke.
        if let Some(canvas) = self.convs[i].canvas.as_ref() {
            for stroke in canvas.flush() {
                self.view.drawn(&channel, &stroke);
                self.handle.send(Command::Stroke { channel: channel.clone(), stroke });
            }
        }
        let id = self.convs[i].canvas.as_ref().and_then(|c| {
            let mut st = c.state.borrow_mut();
            let id = st.last_mine();
            st.mine.pop();
            id
        });
        match id {
            Some(id) => self.handle.send(Command::Undo { channel, id }),
            None => self.system(i, SystemTime::now(), "nothing of yours to undo"),
        }
    }

    /// Saves the shown canvas as a PNG in the pictures folder, and says where.
    fn save_canvas(&mut self) {
        let i = self.shown_channel();
        let Some(png) = self.convs[i].canvas.as_ref().map(|c| c.png()) else { return };
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
        let dir = [home.join("Pictures"), home].into_iter().find(|d| d.is_dir()).unwrap_or_default();
        let stamp = crate::clock::unix_ms(SystemTime::now());
        let channel = self.convs[i].name.trim_start_matches('#').replace(['/', '\\'], "_");
        let path = dir.join(format!("lanchat-{channel}-{stamp}.png"));
        let text = match std::fs::write(&path, png) {
            Ok(()) => format!("canvas saved as {}", path.display()),
            Err(e) => format!("cannot save the canvas as {}: {e}", path.display()),
        };
        self.system(i, SystemTime::now(), &text);
    }

    fn set_font_size(&mut self, size: i32) {
        self.font_size = size.clamp(10, 28);
        for c in &mut self.convs {
            c.log.set_font_size(self.font_size);
        }
        self.input.set_text_size(self.font_size);
        self.browser.set_text_size(self.font_size);
        self.browser.redraw();
        self.input.redraw();
        let size = self.font_size;
        self.save_config(|c| c.font_size = Some(size));
        self.dirty = true;
    }

    /// Every 40 ms: strokes out, typing paused, lapsed notices, the
    /// urgency hint cleared on focus, the idle timer.
    fn tick(&mut self) {
        for c in &mut self.convs {
            let Some(canvas) = c.canvas.as_mut() else { continue };
            for stroke in canvas.flush() {
                self.view.drawn(&c.name, &stroke);
                self.handle.send(Command::Stroke { channel: c.name.clone(), stroke });
            }
        }
        let now = Instant::now();
        if let Some((target, state)) = self.typing_out.on_tick(now) {
            self.handle.send(Command::Typing { target, state });
        }
        if self.view.expire_typing(now) {
            self.refresh_typing();
        }
        if self.urgent && attention::focused(&self.window) {
            attention::set_urgent(&self.window, false);
            self.urgent = false;
            self.dirty = true;
        }
        let (away, connected) = (self.view.my_away.is_some(), self.view.state == ConnState::Connected);
        if let Some(text) = self.auto_away.tick(now, away, connected) {
            self.handle.send(Command::Away(Some(text)));
        }
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Net(ev) => self.on_event(*ev),
            Msg::SendInput => self.send_input(),
            Msg::Emoji(i) => {
                if let Some(e) = emoticon::PICKER.get(i) {
                    let _ = self.input.insert(e);
                    let _ = self.input.take_focus();
                    self.dirty = true;
                }
            }
            Msg::UserClicked { double } => {
                let row = usize::try_from(self.browser.value()).unwrap_or(0);
                if double && let Some(n) = row.checked_sub(1).and_then(|r| self.entries.get(r)) {
                    let n = bare_nick(n, DEFAULT_PREFIXES).to_owned();
                    if n != self.view.nick {
                        let i = self.conv(&n);
                        self.select(i);
                        let _ = self.input.take_focus();
                    }
                }
            }
            Msg::UserMenu => {
                let row = usize::try_from(self.browser.value()).unwrap_or(0);
                if let Some(entry) = row.checked_sub(1).and_then(|r| self.entries.get(r)).cloned() {
                    let channel = self.convs[self.shown_channel()].name.clone();
                    let users = self.view.users(&channel).to_vec();
                    for line in self.user_menu.popup(&channel, &users, &self.view.nick, &entry) {
                        self.handle.send(Command::Raw(line));
                    }
                }
            }
            Msg::TabChanged => self.on_tab_changed(),
            Msg::ServerDialog => {
                let current = self.view.settings.server.clone();
                self.connect.open(&current, self.view.settings.tls);
                self.dirty = true;
            }
            Msg::Discover => {
                self.connect.discover();
                self.dirty = true;
            }
            Msg::Discovered(found) => {
                self.connect.set_found(found);
                self.dirty = true;
            }
            Msg::ServerPicked { double } => {
                self.connect.picked();
                if double {
                    self.on_msg(Msg::ServerOk);
                }
                self.dirty = true;
            }
            Msg::ServerOk => {
                let s = self.connect.value();
                if !s.is_empty() {
                    self.connect.close();
                    let tls = self.connect.tls.is_checked();
                    let discovered = if tls { self.connect.discovered_pin(&s) } else { None };
                    self.change_server(&s, tls, discovered);
                }
                self.dirty = true;
            }
            Msg::ServerCancel => {
                self.connect.close();
                self.dirty = true;
            }
            Msg::NickDialog => {
                let current = self.view.suggestion.clone().unwrap_or_else(|| self.view.nick.clone());
                // A title of its own: a window manager lists it, and a test can wait for it.
                dialog::message_title(NICK_DIALOG_TITLE);
                if let Some(n) = dialog::input_default("Nick:", &current) {
                    self.change_nick(&n);
                }
            }
            Msg::ConnectToggle => {
                if self.view.state == ConnState::Disconnected {
                    self.connect();
                } else {
                    self.handle.send(Command::Disconnect);
                }
            }
            Msg::Colour(i) => {
                if let Some((_, c)) = COLOURS.get(i) {
                    self.brush.0 = *c;
                    self.convs.iter_mut().filter_map(|c| c.canvas.as_mut()).for_each(|k| k.set_color(self.brush.0));
                }
            }
            Msg::Brush(b) => {
                self.brush.1 = b;
                self.convs.iter_mut().filter_map(|c| c.canvas.as_mut()).for_each(|k| k.set_brush(b));
            }
            Msg::Clear => self.clear_canvas(),
            Msg::Undo => self.undo_stroke(),
            Msg::Save => self.save_canvas(),
            Msg::Tick => self.tick(),
            Msg::ChannelsDialog => {
                if !self.channels.shown() {
                    self.channels.open();
                }
                self.handle.send(Command::List);
                self.dirty = true;
            }
            Msg::ChannelsClose => {
                self.channels.close();
                self.dirty = true;
            }
            Msg::ChannelPicked { double } => {
                self.channels.picked();
                if double {
                    self.on_msg(Msg::ChannelJoin);
                }
                self.dirty = true;
            }
            Msg::ChannelJoin => {
                if let Some(c) = self.channels.value() {
                    self.channels.close();
                    match self.conv_index(&c) {
                        Some(i) => self.select(i),
                        None => self.join(&c),
                    }
                }
                self.dirty = true;
            }
            Msg::Edited => self.edited(),
            Msg::Complete => self.complete(),
            Msg::HistoryUp => self.recall(true),
            Msg::HistoryDown => self.recall(false),
            Msg::AwayToggle => {
                self.auto_away.chosen();
                let away = self.view.my_away.is_none().then(|| "away".to_owned());
                self.handle.send(Command::Away(away));
                // Shown as it is until the server confirms.
                self.away_btn.set_value(self.view.my_away.is_some());
            }
            Msg::NotifyToggle => {
                self.notifier.enabled = !self.notifier.enabled;
                let quiet = !self.notifier.enabled;
                self.save_config(|c| c.quiet = quiet);
            }
            Msg::FontSize(d) => self.set_font_size(self.font_size + d),
            Msg::SendFileDialog => self.choose_files(),
            Msg::DragEntered => {
                self.files.drags += 1;
                self.dirty = true;
            }
            Msg::Dropped(text) => self.dropped(&text),
            Msg::FileMenu { url, name } => self.file_menu(&url, &name),
            Msg::Fetched(f) => self.on_fetched(*f),
            Msg::DownloadProgress { id, done, total } => self.download_progress(id, done, total),
            Msg::Downloaded { id, result } => self.downloaded(id, result),
        }
    }
}

/// What the command line gives the window.
pub struct Options {
    /// `HOST:PORT`; else the remembered one, else 127.0.0.1:6667.
    pub server: Option<String>,
    /// Else the remembered one, else the user's name.
    pub nick: Option<String>,
    pub channel: String,
    pub password: Option<String>,
    /// Where the connect dialog's discovery asks (the LAN broadcast by default).
    pub discover: Vec<String>,
    /// Over TLS (`--tls`); None: as remembered with the server.
    pub tls: Option<bool>,
}

/// Opens the window and runs until it is closed.
pub fn run(opts: Options) -> Result<(), String> {
    let config_path = config::path();
    let remembered = config_path.as_deref().map(Config::load).unwrap_or_default();
    let tls = opts.tls.unwrap_or(remembered.tls && opts.server.is_none());
    let (server, nick) = remembered.merge(opts.server, opts.nick);
    let pin = remembered.pin(&server);
    let (channel, password) = (opts.channel, opts.password);
    let settings = Settings { server, nick: nick.clone(), channel, password, tls, pin };
    let discover = opts.discover;

    let a = app::App::default();
    app::set_font_size(14);
    let (tx, rx) = app::channel::<Msg>();
    let handle = spawn(move |ev| tx.send(Msg::Net(Box::new(ev))));
    let mut app = build(settings, tx, handle, discover)?;
    app.config_path = config_path;
    app.probe = probe::Probe::from_env();
    app.view.nick = nick;
    app.notifier.enabled = !remembered.quiet;
    if remembered.quiet
        && let Some(mut item) = app.options_btn.find_item("Notifications")
    {
        item.clear();
    }
    let idle = remembered.auto_away.map(|m| Duration::from_secs(u64::from(m) * 60));
    app.auto_away = AutoAway::new(idle, Instant::now());
    if let Some(size) = remembered.font_size {
        app.font_size = size;
        for c in &mut app.convs {
            c.log.set_font_size(size);
        }
        app.input.set_text_size(size);
        app.browser.set_text_size(size);
    }
    for c in &remembered.channels {
        app.conv(c);
    }
    app.refresh_info();
    app.refresh_topic();
    app.connect();
    app::add_timeout3(0.04, move |h| {
        tx.send(Msg::Tick);
        app::repeat_timeout3(0.04, h);
    });
    app.dirty = true;
    while a.wait() {
        while let Some(msg) = rx.recv() {
            app.on_msg(msg);
        }
        for c in &mut app.convs {
            c.log.settle();
        }
        if let Some(mut p) = app.probe.take() {
            let generation = app.canvas().state.borrow().generation;
            // Scrolling a log changes what it shows, too.
            let scroll: Vec<i32> = app.convs.iter().map(|c| c.log.display.scroll_row()).collect();
            let g = app.canvas().geometry();
            let moved = p.canvas_at != (g.x, g.y, g.w, g.h);
            if app.dirty || moved || p.canvas_generation != generation || p.scroll != scroll {
                p.scroll = scroll;
                app.dirty = false;
                p.write(&app);
            }
            app.probe = Some(p);
        }
    }
    app.handle.send(Command::Quit);
    Ok(())
}

/// The canvas's size in a window of `w` x `h`: about half the width, in the
/// logical aspect ratio (plus its border), leaving room above it for the info
/// pane, the buttons and the user list.
/// `share`: the part of the width the splitter gave the canvas side.
fn canvas_size(w: i32, h: i32, share: Option<f64>) -> (i32, i32) {
    let half = (w - 20) / 2;
    let wanted = share.map_or(half, |f| (f64::from(w) * f) as i32);
    // Room for the chat on the left, and for the buttons and list above.
    let mut cw = wanted.min(w - 360).max(320);
    let mut ch = cw * i32::from(HEIGHT) / i32::from(WIDTH) + 2;
    let room = h - 12 - 34 - 200;
    if ch > room {
        ch = room.max(150);
        cw = (ch - 2) * i32::from(WIDTH) / i32::from(HEIGHT);
    }
    (cw, ch)
}

/// Builds the window and its widgets: the chat on the left (it takes the extra
/// room when the window grows), info, users and the canvas on the right.
fn build(settings: Settings, tx: app::Sender<Msg>, handle: Handle, discover: Vec<String>) -> Result<App, String> {
    let (ww, wh) = (1000, 620);
    let mut win = Window::new(100, 100, ww, wh, None);
    win.set_label(&format!("lanchat – {}", settings.channel));
    win.set_xclass("lanchat");
    let mut root = Flex::new(0, 0, ww, wh, None).row();
    root.set_margin(6);
    root.set_pad(1);

    // The chat: tabs with the logs, and the input line.
    let mut left = Flex::default().column();
    left.set_pad(4);
    let mut topic_bar = Frame::default();
    topic_bar.set_frame(FrameType::FlatBox);
    topic_bar.set_color(Color::from_hex(0xeef2f8));
    topic_bar.set_align(Align::Inside | Align::Left | Align::Clip);
    topic_bar.set_label_size(13);
    left.fixed(&topic_bar, 22);
    let mut tabs = Tabs::default();
    tabs.end();
    tabs.set_callback(move |_| tx.send(Msg::TabChanged));
    let mut typing_bar = Frame::default();
    typing_bar.set_align(Align::Inside | Align::Left);
    typing_bar.set_label_size(12);
    typing_bar.set_label_font(Font::HelveticaItalic);
    typing_bar.set_label_color(Color::from_hex(0x606060));
    left.fixed(&typing_bar, 16);
    let mut input_row = Flex::default().row();
    input_row.set_pad(4);
    let mut input = Input::default();
    input.set_trigger(CallbackTrigger::EnterKeyAlways);
    input.set_callback(move |_| tx.send(Msg::SendInput));
    input.set_tooltip(
        "Type a message; Enter sends, Tab completes a nick, Up/Down recall sent lines. /msg NICK TEXT talks privately.",
    );
    input.handle(move |_, ev| {
        if ev != FlEvent::KeyDown {
            return false;
        }
        let msg = match app::event_key() {
            Key::Tab => Msg::Complete,
            Key::Up => Msg::HistoryUp,
            Key::Down => Msg::HistoryDown,
            _ => {
                // After the input has taken the key (the loop reads the message later).
                tx.send(Msg::Edited);
                return false;
            }
        };
        tx.send(msg);
        true
    });
    let mut emoji = MenuButton::default().with_label("🙂");
    emoji.set_tooltip("Insert an emoji");
    for (i, e) in emoticon::PICKER.iter().enumerate() {
        emoji.add(e, fltk::enums::Shortcut::None, MenuFlag::Normal, move |_| tx.send(Msg::Emoji(i)));
    }
    let file_btn = Button::default().with_label("Send file…");
    let mut send = Button::default().with_label("Send");
    send.set_callback(move |_| tx.send(Msg::SendInput));
    input_row.fixed(&emoji, 48);
    input_row.fixed(&file_btn, 84);
    input_row.fixed(&send, 64);
    input_row.end();
    left.fixed(&input_row, 30);
    // Uploads and downloads under way (hidden when there are none).
    let transfer_bar = Progress::default();
    left.fixed(&transfer_bar, 20);
    left.end();

    let mut right = Flex::default().column();
    right.set_pad(6);
    let mut upper = Flex::default().row();
    upper.set_pad(6);
    // Info pane and the connection buttons.
    let mut conn = Flex::default().column();
    conn.set_pad(4);
    let mut info = Frame::default();
    info.set_frame(FrameType::DownBox);
    info.set_color(Color::from_hex(0xf4f4f4));
    info.set_align(Align::Inside | Align::Left | Align::Top | Align::Clip);
    info.set_label_size(12);
    let mut server_btn = Button::default().with_label("Server…");
    server_btn.set_tooltip("Change the server address and port");
    server_btn.set_callback(move |_| tx.send(Msg::ServerDialog));
    conn.fixed(&server_btn, 28);
    let mut nick_btn = Button::default().with_label("Nick…");
    nick_btn.set_tooltip("Change your nick");
    nick_btn.set_callback(move |_| tx.send(Msg::NickDialog));
    conn.fixed(&nick_btn, 28);
    let mut channels_btn = Button::default().with_label("Channels…");
    channels_btn.set_tooltip("The server's channels: join one, or make one");
    channels_btn.set_callback(move |_| tx.send(Msg::ChannelsDialog));
    conn.fixed(&channels_btn, 28);
    let mut row = Flex::default().row();
    row.set_pad(4);
    let mut away_btn = LightButton::default().with_label("Away");
    away_btn.set_tooltip("Mark yourself away (/away MESSAGE says why)");
    away_btn.set_callback(move |_| tx.send(Msg::AwayToggle));
    let mut options = MenuButton::default().with_label("Options");
    options.set_tooltip("Notifications, text size");
    options.add("Notifications", fltk::enums::Shortcut::None, MenuFlag::Toggle | MenuFlag::Value, move |_| {
        tx.send(Msg::NotifyToggle)
    });
    options.add("Larger text", fltk::enums::Shortcut::None, MenuFlag::Normal, move |_| tx.send(Msg::FontSize(1)));
    options.add("Smaller text", fltk::enums::Shortcut::None, MenuFlag::Normal, move |_| tx.send(Msg::FontSize(-1)));
    row.end();
    conn.fixed(&row, 28);
    let mut connect_btn = Button::default().with_label("Disconnect");
    connect_btn.set_callback(move |_| tx.send(Msg::ConnectToggle));
    conn.fixed(&connect_btn, 28);
    conn.end();
    upper.fixed(&conn, 236);
    // The users.
    let mut users_col = Flex::default().column();
    users_col.set_pad(2);
    let mut users_label = Frame::default().with_label("Users (double-click to talk)");
    users_label.set_align(Align::Inside | Align::Left);
    users_label.set_label_size(12);
    users_col.fixed(&users_label, 16);
    let mut browser = HoldBrowser::default();
    browser.set_format_char('\u{1}');
    browser.set_tooltip("Double-click to talk privately; right-click for an operator's actions");
    // Also call back when a click does not change the selection (the second of a double-click).
    browser.set_trigger(CallbackTrigger::Changed | CallbackTrigger::NotChanged);
    browser.set_callback(move |_| match app::event_mouse_button() {
        app::MouseButton::Right => tx.send(Msg::UserMenu),
        _ => tx.send(Msg::UserClicked { double: app::event_clicks() }),
    });
    users_col.end();
    upper.end();

    // The canvas and its tools.
    let mut tools = Flex::default().row();
    tools.set_pad(6);
    let mut colour = Choice::default();
    for (name, _) in COLOURS {
        colour.add_choice(name);
    }
    colour.set_value(0);
    colour.set_tooltip("Brush colour");
    colour.set_callback(move |c| tx.send(Msg::Colour(c.value().max(0) as usize)));
    tools.fixed(&colour, 100);
    let mut brush_label = Frame::default().with_label("Brush:");
    brush_label.set_align(Align::Inside | Align::Right);
    tools.fixed(&brush_label, 48);
    let mut brush = Spinner::default();
    brush.set_range(1.0, f64::from(MAX_BRUSH));
    brush.set_step(1.0);
    brush.set_value(6.0);
    brush.set_tooltip("Brush size");
    brush.set_callback(move |b| tx.send(Msg::Brush(b.value().round() as u8)));
    tools.fixed(&brush, 64);
    Frame::default();
    let mut undo = Button::default().with_label("Undo");
    undo.set_tooltip("Take back your last stroke");
    undo.set_callback(move |_| tx.send(Msg::Undo));
    tools.fixed(&undo, 60);
    let mut save = Button::default().with_label("Save");
    save.set_tooltip("Save the canvas as a PNG picture");
    save.set_callback(move |_| tx.send(Msg::Save));
    tools.fixed(&save, 60);
    let mut clear = Button::default().with_label("Clear");
    clear.set_tooltip("Clear the canvas for everyone (channel operators)");
    clear.set_callback(move |_| tx.send(Msg::Clear));
    tools.fixed(&clear, 60);
    tools.end();
    right.fixed(&tools, 28);
    let (cw, ch) = canvas_size(ww, wh, None);
    let canvas_slot = Group::new(0, 0, cw, ch, None);
    canvas_slot.end();
    right.fixed(&canvas_slot, ch);
    right.end();
    root.fixed(&right, cw);
    root.end();
    win.resizable(&root);
    win.size_range(800, 480, 0, 0);
    win.end();
    let user_menu = usermenu::UserMenu::new(&mut win);
    let files = files::Files::new(&mut win, tx, file_btn, transfer_bar, left.clone());
    win.set_callback(|_| {
        // Escape must not close the chat; the window manager's close button does.
        if app::event() == FlEvent::Close {
            app::quit();
        }
    });
    // The canvas grows and shrinks with the window (and the splitter), keeping its aspect.
    let share = Rc::new(Cell::new(None));
    let layout: Rc<dyn Fn(i32, i32)> = Rc::new({
        let (root, right, canvas, share) = (root.clone(), right.clone(), canvas_slot.clone(), share.clone());
        move |w, h| {
            let (mut root, mut right) = (root.clone(), right.clone());
            let (cw, ch) = canvas_size(w, h, share.get());
            root.fixed(&right, cw);
            right.fixed(&canvas, ch);
            root.layout();
            right.layout();
        }
    });
    // Between the chat and the right side.
    let split = splitter::new(share, layout.clone());
    root.insert(&split, 1);
    root.fixed(&split, splitter::WIDTH);
    win.resize_callback(move |_, _, _, w, h| layout(w, h));
    win.show();
    root.layout();
    let connect = connect::ConnectDialog::new(tx, discover);
    let channels = channels_dialog::ChannelsDialog::new(tx);

    let mut app = App {
        handle,
        view: View::new(settings),
        config_path: None,
        convs: Vec::new(),
        tabs,
        browser,
        user_menu,
        info,
        input,
        emoji_btn: emoji,
        colour_choice: colour,
        brush_spinner: brush,
        window: win.clone(),
        connect_btn,
        server_btn,
        nick_btn,
        clear_btn: clear,
        undo_btn: undo,
        save_btn: save,
        channels_btn,
        split,
        away_btn,
        options_btn: options,
        canvas_slot,
        topic_bar,
        typing_bar,
        entries: Vec::new(),
        connect,
        channels,
        notifier: attention::Notifier::new(true),
        urgent: false,
        history: History::default(),
        completer: Completer::default(),
        typing_out: Outgoing::default(),
        font_size: chatlog::FONT_SIZE,
        auto_away: AutoAway::new(None, Instant::now()),
        brush: (COLOURS[0].1, 6),
        files,
        probe: None,
        dirty: true,
    };
    let channel = app.view.settings.channel.clone();
    let i = app.conv(&channel);
    app.select(i);
    let _ = app.input.take_focus();
    Ok(app)
}
