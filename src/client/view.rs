//! What a window shows of the connection, with no widget in it: the event
//! reducer of the desktop client. [`View::on_event`] keeps the nick, state,
//! round trip, user list and canvas bookkeeping, and says what to show
//! ([`Show`]); `gui/` only puts that into widgets.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::time::{Duration, SystemTime};

use super::{ConnState, DEFAULT_PREFIXES, Event, MsgKind, Settings, bare_nick};
use crate::canvas::Stroke;
use crate::emoticon;

const NICK_BUTTON: &str = "press Nick…";

/// Which conversation a line goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The channel's tab.
    Main,
    /// The tab in view, and the channel's too when another one is in view.
    Active,
    /// This conversation's tab if it is open, else the channel's.
    Find(String),
    /// This private conversation's tab, opened (not selected) if need be.
    Open(String),
}

/// What to change on screen after an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Show {
    /// A chat line; `text` is ready to show (emoji, notice mark). A replayed
    /// one (`history`) does not mark its tab unread.
    Message { place: Place, time: SystemTime, from: String, text: String, action: bool, history: bool },
    /// A grey line.
    System { place: Place, time: SystemTime, text: String },
    /// [`View::info_text`] and the title changed.
    Info,
    /// [`View::users`] changed.
    Users,
    /// Draw this segment on the canvas.
    Stroke(Stroke),
    /// Empty the canvas.
    ClearCanvas,
    /// Start the canvas again from this snapshot (a PNG; empty: blank).
    Snapshot(Vec<u8>),
    /// Take back the last `count` segments of stroke `id` (all when None).
    Undo { id: u32, count: Option<usize> },
    /// The nick changed: remember it.
    Remember,
    /// A certificate was pinned on first use: remember it in the config.
    Pin { server: String, fingerprint: String },
}

/// The window's state that is not a widget.
pub struct View {
    pub settings: Settings,
    pub nick: String,
    pub state: ConnState,
    pub rtt: Option<Duration>,
    /// The channel's users, sorted by bare nick.
    pub users: Vec<String>,
    /// A free nick the server suggested, for the Nick… dialog.
    pub suggestion: Option<String>,
    /// Our clears not yet echoed by the server (so the log says it once).
    pending_clears: u32,
    /// Strokes on the canvas, so a replay after a reconnect does not add them twice.
    stroke_keys: HashSet<u64>,
    /// Over TLS: the fingerprint of the certificate of this connection.
    pub fingerprint: Option<String>,
    /// The server and the fingerprint of the certificate last refused as
    /// not the pinned one, for `/accept`.
    pub refused: Option<(String, String)>,
}

/// Identifies a stroke segment, to skip one received twice.
fn stroke_key(s: &Stroke) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (s.id, s.color, s.width, &s.points[..]).hash(&mut h);
    h.finish()
}

impl View {
    pub fn new(settings: Settings) -> View {
        View {
            nick: settings.nick.clone(),
            settings,
            state: ConnState::Disconnected,
            rtt: None,
            users: Vec::new(),
            suggestion: None,
            pending_clears: 0,
            stroke_keys: HashSet::new(),
            fingerprint: None,
            refused: None,
        }
    }

    /// The info pane's line about encryption, and over TLS the certificate's
    /// fingerprint, in lines of 11 bytes (the pane is narrow).
    fn security(&self) -> String {
        match (&self.fingerprint, self.settings.tls) {
            (Some(fp), _) => {
                let bytes: Vec<&str> = fp.split(':').collect();
                let lines: Vec<String> = bytes.chunks(11).map(|c| c.join(":")).collect();
                format!("Security: 🔒 TLS, SHA-256:\n{}", lines.join("\n"))
            }
            (None, true) => "Security: TLS".to_owned(),
            (None, false) => "Security: not encrypted".to_owned(),
        }
    }

    /// The info pane's text.
    pub fn info_text(&self) -> String {
        let state = match &self.state {
            ConnState::Disconnected => "disconnected".to_owned(),
            ConnState::Connecting => "connecting…".to_owned(),
            ConnState::Connected => "connected".to_owned(),
            ConnState::Reconnecting { attempt, delay } => {
                format!("reconnecting in {} s (try {attempt})", delay.as_secs_f64().ceil() as u64)
            }
        };
        let rtt = match self.rtt {
            Some(d) if self.state == ConnState::Connected => format!("{} ms", d.as_millis()),
            _ => "–".to_owned(),
        };
        format!(
            "Server: {}\nNick: {}\nChannel: {}\nState: {}\n{}\nRound trip: {}",
            self.settings.server,
            self.nick,
            self.settings.channel,
            state,
            self.security(),
            rtt
        )
    }

    pub fn title(&self) -> String {
        format!("lanchat – {} – {}", self.nick, self.settings.channel)
    }

    fn is_main(&self, channel: &str) -> bool {
        channel.eq_ignore_ascii_case(&self.settings.channel)
    }

    /// Our own segment, already drawn: a replay of it is skipped.
    pub fn drawn(&mut self, stroke: &Stroke) {
        self.stroke_keys.insert(stroke_key(stroke));
    }

    /// We cleared the canvas; the server's echo of it is not shown again.
    pub fn cleared(&mut self) {
        self.stroke_keys.clear();
        self.pending_clears += 1;
    }

    /// Reduces one event to what changes on screen.
    pub fn on_event(&mut self, ev: Event, now: SystemTime) -> Vec<Show> {
        let mut show = Vec::new();
        match ev {
            Event::State(s) => {
                if s != ConnState::Connected {
                    self.fingerprint = None;
                }
                let line = match &s {
                    ConnState::Connected => Some(match &self.fingerprint {
                        Some(fp) => format!("connected to {} over TLS, certificate SHA-256 {fp}", self.settings.server),
                        None => format!("connected to {} (not encrypted)", self.settings.server),
                    }),
                    ConnState::Disconnected if self.state != ConnState::Disconnected => Some("disconnected".to_owned()),
                    ConnState::Reconnecting { delay, .. }
                        if matches!(self.state, ConnState::Connected | ConnState::Connecting) =>
                    {
                        Some(format!("connection lost; reconnecting in {} s", delay.as_secs_f64().ceil() as u64))
                    }
                    _ => None,
                };
                self.state = s;
                if let Some(text) = line {
                    show.push(Show::System { place: Place::Main, time: now, text });
                }
                show.push(Show::Info);
            }
            Event::Nick(n) => {
                self.nick = n.clone();
                self.settings.nick = n;
                self.suggestion = None;
                show.extend([Show::Remember, Show::Info]);
            }
            Event::NickTaken { wanted, suggestion } => {
                let text = if self.state == ConnState::Connected {
                    let free = format!("\"{suggestion}\" may be free: {NICK_BUTTON} to try it or another");
                    format!("the nick \"{wanted}\" is taken; {free}")
                } else {
                    let instead = format!("joining as \"{suggestion}\" instead ({NICK_BUTTON} to change it)");
                    format!("the nick \"{wanted}\" is taken; {instead}")
                };
                self.suggestion = Some(suggestion);
                show.push(Show::System { place: Place::Active, time: now, text });
            }
            Event::NickInvalid { wanted, reason, fallback } => {
                let refused = format!("the server refused the nick \"{wanted}\" ({reason})");
                let text = match &fallback {
                    Some(f) => format!("{refused}; joining as \"{f}\" instead ({NICK_BUTTON} to change it)"),
                    None if self.state == ConnState::Connected => format!("{refused}; you are still {}", self.nick),
                    None => format!("{refused}: {NICK_BUTTON} to pick another"),
                };
                show.push(Show::System { place: Place::Active, time: now, text });
            }
            Event::Message { target, from, text, time, kind, history } => {
                let place = if target.starts_with(['#', '&']) { Place::Find(target) } else { Place::Open(target) };
                let shown = emoticon::emojify(&text);
                let text = if kind == MsgKind::Notice { format!("[notice] {shown}") } else { shown.into_owned() };
                show.push(Show::Message { place, time, from, text, action: kind == MsgKind::Action, history });
            }
            Event::System { target, text, time } => {
                show.push(Show::System { place: target.map_or(Place::Main, Place::Find), time, text });
            }
            Event::Users { channel, mut nicks } => {
                if self.is_main(&channel) {
                    nicks.sort_by_key(|n| bare_nick(n, DEFAULT_PREFIXES).to_ascii_lowercase());
                    self.users = nicks;
                    show.push(Show::Users);
                }
            }
            Event::Rtt(d) => {
                self.rtt = Some(d);
                show.push(Show::Info);
            }
            Event::Stroke { channel, stroke, .. } => {
                if self.is_main(&channel) && self.stroke_keys.insert(stroke_key(&stroke)) {
                    show.push(Show::Stroke(stroke));
                }
            }
            Event::Snapshot { channel, png } => {
                if self.is_main(&channel) {
                    self.stroke_keys.clear();
                    show.push(Show::Snapshot(png));
                }
            }
            Event::Undo { channel, id, count, .. } => {
                if self.is_main(&channel) {
                    show.push(Show::Undo { id, count });
                }
            }
            Event::Synced => {}
            Event::CanvasCleared { channel, by } => {
                if self.is_main(&channel) {
                    if by == self.nick && self.pending_clears > 0 {
                        self.pending_clears -= 1;
                    } else {
                        self.stroke_keys.clear();
                        let text = format!("{by} cleared the canvas");
                        show.extend([Show::ClearCanvas, Show::System { place: Place::Main, time: now, text }]);
                    }
                }
            }
            Event::Secure { fingerprint } => {
                self.fingerprint = Some(fingerprint);
                self.refused = None;
                show.push(Show::Info);
            }
            Event::Pinned { server, fingerprint } => {
                if server == self.settings.server {
                    self.settings.pin = Some(fingerprint.clone());
                }
                show.push(Show::Pin { server, fingerprint });
            }
            Event::CertChanged { server, seen, .. } => {
                // The core's System line says what happened and how to accept it.
                self.refused = Some((server, seen));
            }
            Event::NotSent { target, text, reason } => {
                let text = format!("not sent to {target}: \"{text}\" ({reason})");
                show.push(Show::System { place: Place::Find(target), time: now, text });
            }
        }
        show
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        let (server, nick, channel) = ("127.0.0.1:6667".into(), "ann".into(), "#lobby".into());
        View::new(Settings { server, nick, channel, password: None, tls: false, pin: None })
    }

    #[test]
    fn users_sort_by_bare_nick_whatever_their_status() {
        let mut v = view();
        let nicks = ["~zed", "@bob", "%Carl", "ann", "+dora"].map(String::from).to_vec();
        assert_eq!(v.on_event(Event::Users { channel: "#Lobby".into(), nicks }, SystemTime::UNIX_EPOCH), [Show::Users]);
        assert_eq!(v.users, ["ann", "@bob", "%Carl", "+dora", "~zed"]);
        let other = Event::Users { channel: "#side".into(), nicks: Vec::new() };
        assert!(v.on_event(other, SystemTime::UNIX_EPOCH).is_empty());
    }

    #[test]
    fn lines_go_to_their_conversation() {
        let mut v = view();
        let t = SystemTime::UNIX_EPOCH;
        let msg = |target: &str, kind| Event::Message {
            target: target.into(),
            from: "bob".into(),
            text: "hi :)".into(),
            time: t,
            kind,
            history: false,
        };
        assert!(matches!(&v.on_event(msg("bob", MsgKind::Privmsg), t)[..],
            [Show::Message { place: Place::Open(p), text, .. }] if p == "bob" && text == "hi 🙂"));
        assert!(matches!(&v.on_event(msg("#lobby", MsgKind::Notice), t)[..],
            [Show::Message { place: Place::Find(p), text, .. }] if p == "#lobby" && text == "[notice] hi 🙂"));
        let invalid = Event::NickInvalid { wanted: "1bad".into(), reason: "Erroneous nickname".into(), fallback: None };
        assert!(matches!(&v.on_event(invalid, t)[..],
            [Show::System { place: Place::Active, text, .. }]
                if text.contains("\"1bad\"") && text.contains("Nick…")));
    }

    #[test]
    fn our_clear_is_shown_once_and_replayed_strokes_are_skipped() {
        let mut v = view();
        let t = SystemTime::UNIX_EPOCH;
        let stroke = Stroke { id: 1, color: 0, width: 2, points: heapless::Vec::new() };
        v.drawn(&stroke);
        let replay = Event::Stroke { channel: "#lobby".into(), from: "ann".into(), stroke: stroke.clone() };
        assert!(v.on_event(replay.clone(), t).is_empty());
        v.cleared();
        assert_eq!(v.on_event(replay, t), [Show::Stroke(stroke)]);
        let echo = Event::CanvasCleared { channel: "#lobby".into(), by: "ann".into() };
        assert!(v.on_event(echo.clone(), t).is_empty());
        assert_eq!(v.on_event(echo, t).len(), 2, "a second clear by the same nick is someone else's");
    }
}
