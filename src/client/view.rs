//! What a window shows of the connection, with no widget in it: the event
//! reducer of the desktop client. [`View::on_event`] keeps the nick, state,
//! round trip, user list and canvas bookkeeping, and says what to show
//! ([`Show`]); `gui/` only puts that into widgets.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant, SystemTime};

use super::typing::Incoming;
use super::{ChannelInfo, ConnState, DEFAULT_PREFIXES, Event, MsgKind, Settings, TransferState, bare_nick};
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
    /// This conversation's tab if it is open, else nowhere.
    IfOpen(String),
}

/// What to change on screen after an event.
#[allow(clippy::large_enum_variant)] // a Stroke, consumed at once (as in Event)
#[derive(Clone, Debug, PartialEq)]
pub enum Show {
    /// A chat line; `text` is ready to show (emoji, notice mark). A replayed
    /// one (`history`) does not mark its tab unread.
    /// `mention`: it names us; `attention`: it is for us (a mention or a
    /// private line from someone else, not replayed), worth a notification.
    Message {
        place: Place,
        time: SystemTime,
        from: String,
        text: String,
        action: bool,
        history: bool,
        mention: bool,
        attention: bool,
    },
    /// A grey line.
    System { place: Place, time: SystemTime, text: String },
    /// [`View::info_text`] and the title changed.
    Info,
    /// [`View::users`] of this channel changed (or who is away in it).
    Users(String),
    /// [`View::topic`] of this channel changed.
    Topic(String),
    /// We joined this channel: its tab.
    Joined(String),
    /// We left this channel: close its tab.
    Parted(String),
    /// [`View::channel_list`] arrived.
    ChannelList,
    /// [`View::typing`] changed.
    Typing,
    /// Draw this segment on this channel's canvas.
    Stroke { channel: String, stroke: Stroke },
    /// Empty this channel's canvas.
    ClearCanvas(String),
    /// Start this channel's canvas again from a snapshot (a PNG; empty: blank).
    Snapshot { channel: String, raster: crate::canvas::raster::Raster },
    /// Take back the last `count` segments of stroke `id` (all when None).
    Undo { channel: String, id: u32, count: Option<usize> },
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
    /// Each channel's users (by lowercased name), sorted by bare nick.
    users: HashMap<String, Vec<String>>,
    /// Each channel's topic, by lowercased name.
    topics: HashMap<String, String>,
    /// Who is away (lowercased nick), with the message when known.
    away: HashMap<String, String>,
    /// Our own away message while away.
    pub my_away: Option<String>,
    /// Who is typing where.
    pub typing: Incoming,
    /// Nicks seen quitting, to say when they come back.
    gone: HashSet<String>,
    /// The server's channels, as last listed.
    pub channel_list: Vec<ChannelInfo>,
    /// A free nick the server suggested, for the Nick… dialog.
    pub suggestion: Option<String>,
    /// Our clears not yet echoed by the server (so the log says it once).
    pending_clears: u32,
    /// Strokes on each channel's canvas, so a replay after a reconnect does not add them twice.
    stroke_keys: HashMap<String, HashSet<u64>>,
    /// Over TLS: the fingerprint of the certificate of this connection.
    pub fingerprint: Option<String>,
    /// The server and the fingerprint of the certificate last refused as
    /// not the pinned one, for `/accept`.
    pub refused: Option<(String, String)>,
    /// The largest file the server takes, or None: it takes none.
    pub files: Option<u64>,
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
            users: HashMap::new(),
            topics: HashMap::new(),
            away: HashMap::new(),
            my_away: None,
            typing: Incoming::default(),
            gone: HashSet::new(),
            channel_list: Vec::new(),
            suggestion: None,
            pending_clears: 0,
            stroke_keys: HashMap::new(),
            fingerprint: None,
            refused: None,
            files: None,
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

    /// A channel's users, sorted by bare nick.
    pub fn users(&self, channel: &str) -> &[String] {
        self.users.get(&channel.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    /// A channel's topic, empty when none.
    pub fn topic(&self, channel: &str) -> &str {
        self.topics.get(&channel.to_ascii_lowercase()).map_or("", String::as_str)
    }

    /// Whether a user-list entry (with status prefixes) is away, and why.
    pub fn away_message(&self, entry: &str) -> Option<&str> {
        self.away.get(&bare_nick(entry, DEFAULT_PREFIXES).to_ascii_lowercase()).map(String::as_str)
    }

    /// Whether `text` names `nick` as a word (case-insensitive).
    pub fn mentions(text: &str, nick: &str) -> bool {
        let is_nick_char = |c: char| c.is_ascii_alphanumeric() || "-_[]{}\\|^`".contains(c);
        let (lower, nick) = (text.to_ascii_lowercase(), nick.to_ascii_lowercase());
        !nick.is_empty()
            && lower.match_indices(&nick).any(|(i, _)| {
                let before = lower[..i].chars().next_back().is_none_or(|c| !is_nick_char(c));
                let after = lower[i + nick.len()..].chars().next().is_none_or(|c| !is_nick_char(c));
                before && after
            })
    }

    /// Our own segment, already drawn: a replay of it is skipped.
    pub fn drawn(&mut self, channel: &str, stroke: &Stroke) {
        self.stroke_keys.entry(channel.to_ascii_lowercase()).or_default().insert(stroke_key(stroke));
    }

    /// We cleared a canvas; the server's echo of it is not shown again.
    pub fn cleared(&mut self, channel: &str) {
        self.stroke_keys.remove(&channel.to_ascii_lowercase());
        self.pending_clears += 1;
    }

    /// Typing notices that lapsed are dropped: true when the line changed.
    pub fn expire_typing(&mut self, now: Instant) -> bool {
        self.typing.expire(now)
    }

    fn is_entry(&self, entry: &str, lower_nick: &str) -> bool {
        bare_nick(entry, DEFAULT_PREFIXES).eq_ignore_ascii_case(lower_nick)
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
                let channel = target.starts_with(['#', '&']);
                let mine = from.eq_ignore_ascii_case(&self.nick);
                let mention = !mine && View::mentions(&text, &self.nick);
                let attention = !history && !mine && (mention || !channel);
                if !history && self.typing.stop(&from) {
                    show.push(Show::Typing);
                }
                let place = if channel { Place::Find(target) } else { Place::Open(target) };
                let shown = emoticon::emojify(&text);
                let text = if kind == MsgKind::Notice { format!("[notice] {shown}") } else { shown.into_owned() };
                let action = kind == MsgKind::Action;
                show.insert(0, Show::Message { place, time, from, text, action, history, mention, attention });
            }
            Event::System { target, text, time } => {
                show.push(Show::System { place: target.map_or(Place::Main, Place::Find), time, text });
            }
            Event::Users { channel, mut nicks } => {
                nicks.sort_by_key(|n| bare_nick(n, DEFAULT_PREFIXES).to_ascii_lowercase());
                self.users.insert(channel.to_ascii_lowercase(), nicks);
                show.push(Show::Users(channel));
            }
            Event::Joined(channel) => show.push(Show::Joined(channel)),
            Event::Parted(channel) => {
                let key = channel.to_ascii_lowercase();
                self.users.remove(&key);
                self.topics.remove(&key);
                self.stroke_keys.remove(&key);
                show.push(Show::Parted(channel));
            }
            Event::Topic { channel, topic } => {
                self.topics.insert(channel.to_ascii_lowercase(), topic);
                show.push(Show::Topic(channel));
            }
            Event::ChannelList(list) => {
                self.channel_list = list;
                show.push(Show::ChannelList);
            }
            Event::Away { nick, message } => {
                let key = nick.to_ascii_lowercase();
                if nick.eq_ignore_ascii_case(&self.nick) {
                    // WHO's `G` has no message: keep the one we know.
                    let known = self.my_away.take().filter(|_| message.as_ref().is_some_and(String::is_empty));
                    self.my_away = known.or_else(|| message.clone());
                    show.push(Show::Info);
                }
                let changed = match message {
                    Some(m) => self.away.get(&key).is_none_or(|old| *old != m && !m.is_empty()).then(|| {
                        self.away.insert(key.clone(), m);
                    }),
                    None => self.away.remove(&key).map(drop),
                };
                if changed.is_some() {
                    // Greyed (or not) in every list it is in.
                    let lists = self.users.iter().filter(|(_, l)| l.iter().any(|n| self.is_entry(n, &key)));
                    show.extend(lists.map(|(c, _)| Show::Users(c.clone())));
                }
            }
            Event::Typing { target, from, state } => {
                self.typing.set(&target, &from, state, Instant::now());
                show.push(Show::Typing);
            }
            Event::Presence { nick, online } => {
                let key = nick.to_ascii_lowercase();
                let text = if online {
                    self.gone.remove(&key).then(|| format!("{nick} is back"))
                } else {
                    self.typing.stop(&nick);
                    self.away.remove(&key);
                    self.gone.insert(key).then(|| format!("{nick} left the server"))
                };
                if let Some(text) = text {
                    show.push(Show::System { place: Place::IfOpen(nick), time: now, text });
                }
            }
            Event::Rtt(d) => {
                self.rtt = Some(d);
                show.push(Show::Info);
            }
            Event::Stroke { channel, stroke, .. } => {
                let keys = self.stroke_keys.entry(channel.to_ascii_lowercase()).or_default();
                if keys.insert(stroke_key(&stroke)) {
                    show.push(Show::Stroke { channel, stroke });
                }
            }
            Event::Snapshot { channel, raster } => {
                self.stroke_keys.remove(&channel.to_ascii_lowercase());
                show.push(Show::Snapshot { channel, raster });
            }
            Event::Undo { channel, id, count, .. } => show.push(Show::Undo { channel, id, count }),
            Event::Synced => {}
            Event::Files(max) => {
                self.files = max;
                show.push(Show::Info);
            }
            Event::Transfer { target, name, total, state, .. } => {
                let text = match state {
                    TransferState::Running => None,
                    TransferState::Done(_) => Some(format!("sent {name} ({})", crate::files::human_size(total))),
                    TransferState::Failed(why) => Some(format!("could not send {name}: {why}")),
                };
                if let Some(text) = text {
                    show.push(Show::System { place: Place::Find(target), time: now, text });
                }
            }
            Event::CanvasCleared { channel, by } => {
                if by == self.nick && self.pending_clears > 0 {
                    self.pending_clears -= 1;
                } else {
                    self.stroke_keys.remove(&channel.to_ascii_lowercase());
                    let text = format!("{by} cleared the canvas");
                    let place = Place::Find(channel.clone());
                    show.extend([Show::ClearCanvas(channel), Show::System { place, time: now, text }]);
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
        let t = SystemTime::UNIX_EPOCH;
        assert_eq!(v.on_event(Event::Users { channel: "#Lobby".into(), nicks }, t), [Show::Users("#Lobby".into())]);
        assert_eq!(v.users("#lobby"), ["ann", "@bob", "%Carl", "+dora", "~zed"]);
        let other = Event::Users { channel: "#side".into(), nicks: vec!["x".into()] };
        assert_eq!(v.on_event(other, t), [Show::Users("#side".into())]);
        assert_eq!(v.users("#SIDE"), ["x"], "every channel has its own list");
        assert!(v.users("#none").is_empty());
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
        v.drawn("#lobby", &stroke);
        let replay = Event::Stroke { channel: "#lobby".into(), from: "ann".into(), stroke: stroke.clone() };
        assert!(v.on_event(replay.clone(), t).is_empty());
        let elsewhere = Event::Stroke { channel: "#side".into(), from: "ann".into(), stroke: stroke.clone() };
        assert_eq!(v.on_event(elsewhere, t), [Show::Stroke { channel: "#side".into(), stroke: stroke.clone() }]);
        v.cleared("#lobby");
        assert_eq!(v.on_event(replay, t), [Show::Stroke { channel: "#lobby".into(), stroke }]);
        let echo = Event::CanvasCleared { channel: "#lobby".into(), by: "ann".into() };
        assert!(v.on_event(echo.clone(), t).is_empty());
        assert_eq!(v.on_event(echo, t).len(), 2, "a second clear by the same nick is someone else's");
    }

    #[test]
    fn mentions_and_private_lines_ask_for_attention() {
        let mut v = view();
        let t = SystemTime::UNIX_EPOCH;
        let msg = |target: &str, from: &str, text: &str, history| Event::Message {
            target: target.into(),
            from: from.into(),
            text: text.into(),
            time: t,
            kind: MsgKind::Privmsg,
            history,
        };
        let flags = |shows: Vec<Show>| match &shows[0] {
            Show::Message { mention, attention, .. } => (*mention, *attention),
            other => panic!("{other:?}"),
        };
        assert_eq!(flags(v.on_event(msg("#lobby", "bob", "hi Ann!", false), t)), (true, true));
        assert_eq!(flags(v.on_event(msg("#lobby", "bob", "hi annie, banner", false), t)), (false, false));
        assert_eq!(flags(v.on_event(msg("bob", "bob", "psst", false), t)), (false, true));
        assert_eq!(flags(v.on_event(msg("bob", "bob", "psst ann", true), t)), (true, false), "replayed");
        assert_eq!(flags(v.on_event(msg("bob", "ann", "me, ann", false), t)), (false, false), "our own");
    }

    #[test]
    fn away_greys_in_every_list_and_presence_goes_to_an_open_tab() {
        let mut v = view();
        let t = SystemTime::UNIX_EPOCH;
        for c in ["#lobby", "#side"] {
            v.on_event(Event::Users { channel: c.into(), nicks: vec!["@bob".into(), "ann".into()] }, t);
        }
        let away = |m: Option<&str>| Event::Away { nick: "Bob".into(), message: m.map(String::from) };
        let shows = v.on_event(away(Some("lunch")), t);
        assert_eq!(shows.len(), 2, "{shows:?}");
        assert_eq!(v.away_message("@bob"), Some("lunch"));
        assert!(v.on_event(away(Some("")), t).is_empty(), "WHO's G without a message keeps the message");
        assert!(v.on_event(away(Some("lunch")), t).is_empty(), "no change");
        assert_eq!(v.on_event(away(None), t).len(), 2);
        assert_eq!(v.away_message("bob"), None);
        v.on_event(Event::Away { nick: "ann".into(), message: Some("brb".into()) }, t);
        assert_eq!(v.my_away.as_deref(), Some("brb"));
        v.on_event(Event::Away { nick: "ann".into(), message: Some(String::new()) }, t);
        assert_eq!(v.my_away.as_deref(), Some("brb"), "a WHO reply keeps our message");
        v.on_event(Event::Away { nick: "ann".into(), message: None }, t);
        assert_eq!(v.my_away, None);

        let gone = v.on_event(Event::Presence { nick: "bob".into(), online: false }, t);
        assert!(
            matches!(&gone[..], [Show::System { place: Place::IfOpen(n), text, .. }] if n == "bob" && text == "bob left the server")
        );
        let back = v.on_event(Event::Presence { nick: "bob".into(), online: true }, t);
        assert!(matches!(&back[..], [Show::System { text, .. }] if text == "bob is back"));
        assert!(v.on_event(Event::Presence { nick: "bob".into(), online: true }, t).is_empty(), "once");
    }

    #[test]
    fn topics_and_typing_per_conversation() {
        let mut v = view();
        let t = SystemTime::UNIX_EPOCH;
        v.on_event(Event::Topic { channel: "#Side".into(), topic: "pizza".into() }, t);
        assert_eq!((v.topic("#side"), v.topic("#lobby")), ("pizza", ""));
        let typing =
            Event::Typing { target: "#lobby".into(), from: "bob".into(), state: super::super::TypingState::Active };
        assert_eq!(v.on_event(typing, t), [Show::Typing]);
        assert_eq!(v.typing.line("#lobby"), "bob is typing...");
        let said = Event::Message {
            target: "#lobby".into(),
            from: "bob".into(),
            text: "done".into(),
            time: t,
            kind: MsgKind::Privmsg,
            history: false,
        };
        v.on_event(said, t);
        assert_eq!(v.typing.line("#lobby"), "", "a message ends typing");
    }
}
