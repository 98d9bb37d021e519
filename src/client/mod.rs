//! The client connection: an IRC client state machine with no GUI in it.
//!
//! [`spawn`] runs one connection on a background thread. The front end (the
//! line-mode client or the FLTK window) sends it [`Command`]s and receives
//! [`Event`]s through a callback; nothing else crosses between them.
//!
//! The protocol logic is [`core`], with no IO; `conn.rs` owns the socket and
//! the timers and feeds it. [`slash`] parses typed lines for both front ends,
//! [`view`] reduces events to what the window shows, [`config`] remembers
//! the last server and nick.

use std::time::{Duration, SystemTime};

use crate::canvas::Stroke;

/// Where and as whom to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `HOST:PORT` of the server.
    pub server: String,
    /// The nick to ask for.
    pub nick: String,
    /// The channel to join after registering (`#lobby` by default).
    pub channel: String,
    /// Sent as PASS when set.
    pub password: Option<String>,
    /// Connect over TLS.
    pub tls: bool,
    /// With `tls`: the SHA-256 fingerprint (`AB:CD:...`) of the only
    /// certificate to accept; None trusts the first one shown, and pins it
    /// ([`Event::Pinned`]). See [`trust`].
    pub pin: Option<String>,
}

/// What the front end asks the connection to do.
// Strokes are fixed-capacity by design (no allocation per segment), which
// makes the enums large; at a few dozen per second that costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Command {
    /// Connect (or reconnect) with these settings, dropping any current connection.
    Connect(Settings),
    /// Close the connection and stop reconnecting.
    Disconnect,
    /// Send a PRIVMSG to a channel or a nick. Queued while (re)connecting;
    /// reported [`Event::NotSent`] when it cannot be sent.
    Say { target: String, text: String },
    /// Send a CTCP ACTION (`/me`), as [`Command::Say`].
    Action { target: String, text: String },
    /// Ask for another nick.
    Nick(String),
    /// Join a channel.
    Join(String),
    /// Leave a channel.
    Part(String),
    /// Send this IRC line as it is (channel moderation: KICK, MODE, INVITE);
    /// when not connected, a System line says it was not sent.
    Raw(String),
    /// Send one stroke segment to a channel's canvas.
    Stroke { channel: String, stroke: Stroke },
    /// Clear a channel's canvas for everyone (channel operators).
    Clear { channel: String },
    /// Take back stroke `id` on a channel's canvas.
    Undo { channel: String, id: u32 },
    /// Report [`Event::Synced`] once the server has answered everything sent
    /// so far (a PING after the JOINs; with lanchat, after their replays).
    Sync,
    /// Ask for the server's channels (LIST); answered by [`Event::ChannelList`].
    List,
    /// Mark us away with this message, or back (None).
    Away(Option<String>),
    /// Tell a conversation whether we are typing (the `+typing` client tag).
    Typing { target: String, state: TypingState },
    /// Set a channel's topic.
    Topic { channel: String, text: String },
    /// Say when this nick (a private conversation) comes and goes: MONITOR
    /// where the server has it, kept over reconnects.
    Watch(String),
    /// Upload the file at `path` to the server and post its link to
    /// `target` (a channel or a nick); reported by [`Event::Transfer`].
    SendFile { target: String, path: std::path::PathBuf },
    /// Send QUIT and end the connection thread. Lines still queued are sent
    /// first if a connection is being made; else they are reported NotSent.
    Quit,
}

/// The state of the connection, for the info pane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Not connected and not trying to.
    Disconnected,
    /// Opening the TCP connection and registering.
    Connecting,
    /// Registered.
    Connected,
    /// Lost; the next attempt starts after `delay`.
    Reconnecting { attempt: u32, delay: Duration },
}

/// What kind of chat line a [`Event::Message`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    Privmsg,
    Notice,
    /// CTCP ACTION (`/me`).
    Action,
}

/// The IRCv3 `+typing` states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypingState {
    Active,
    Paused,
    Done,
}

impl TypingState {
    pub fn as_str(self) -> &'static str {
        match self {
            TypingState::Active => "active",
            TypingState::Paused => "paused",
            TypingState::Done => "done",
        }
    }

    pub fn parse(v: &str) -> Option<TypingState> {
        [TypingState::Active, TypingState::Paused, TypingState::Done].into_iter().find(|s| s.as_str() == v)
    }
}

/// How an upload stands ([`Event::Transfer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferState {
    Running,
    /// Sent; the link.
    Done(String),
    /// Not sent; why, for a person.
    Failed(String),
}

/// One row of the server's channel list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    pub name: String,
    pub users: usize,
    pub topic: String,
}

/// What the connection tells the front end.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Event {
    /// The connection state changed.
    State(ConnState),
    /// Registered, or our nick changed: this is our nick now.
    Nick(String),
    /// The server refused a nick as taken (433); `suggestion` may be free.
    /// While registering, the connection tries it by itself (a few times).
    NickTaken { wanted: String, suggestion: String },
    /// The server refused a nick as not valid (432), saying `reason`. While
    /// registering the connection tries `fallback` instead, once; when that
    /// is None it stops (a System line says so), or, once registered, it
    /// keeps the nick it has.
    NickInvalid { wanted: String, reason: String, fallback: Option<String> },
    /// A chat line. `target` is the channel, or for a private message the
    /// other person's nick (whichever way it went).
    Message {
        target: String,
        from: String,
        text: String,
        time: SystemTime,
        kind: MsgKind,
        /// Replayed from the server's history.
        history: bool,
    },
    /// A system line (join, part, quit, nick change, topic, error), shown in grey.
    /// `target` is the channel or private conversation, or None for the server tab.
    System { target: Option<String>, text: String, time: SystemTime },
    /// We joined this channel (the server said so).
    Joined(String),
    /// We left this channel.
    Parted(String),
    /// A channel's topic, on joining it and when it changes; empty for none.
    Topic { channel: String, topic: String },
    /// The server's channels, answering [`Command::List`].
    ChannelList(Vec<ChannelInfo>),
    /// `nick` is away with this message (empty when not known), or back (None).
    Away { nick: String, message: Option<String> },
    /// Whether the server takes files: the largest it takes, in bytes, or
    /// None. None when registering; Some when its ISUPPORT says so.
    Files(Option<u64>),
    /// An upload asked for with [`Command::SendFile`]: `Running` as bytes
    /// go, then one `Done` (the link, posted to `target`) or `Failed`.
    Transfer { id: u64, target: String, name: String, done: u64, total: u64, state: TransferState },
    /// Someone's typing state in a conversation (a channel, or their nick).
    Typing { target: String, from: String, state: TypingState },
    /// `nick` was seen leaving the server (QUIT) or coming back (JOIN).
    Presence { nick: String, online: bool },
    /// The whole user list of a channel, sent on every change.
    Users { channel: String, nicks: Vec<String> },
    /// Round-trip time of the last PING.
    Rtt(Duration),
    /// A stroke segment drawn by someone, our own echoes and replays included:
    /// a front end skips segments it already has.
    Stroke { channel: String, from: String, stroke: Stroke },
    /// A channel's canvas was cleared by `by`.
    CanvasCleared { channel: String, by: String },
    /// The server's snapshot of a channel's canvas (a PNG; empty for a
    /// blank one): the canvas starts again from it, and the strokes after
    /// it follow (a JOIN's replay).
    Snapshot { channel: String, raster: crate::canvas::raster::Raster },
    /// `by` took back stroke `id`: its last `count` segments (all when None).
    Undo { channel: String, by: String, id: u32, count: Option<usize> },
    /// The answer to [`Command::Sync`].
    Synced,
    /// A message that could not be sent. Always before the Disconnected
    /// state that ends the attempt, so a front end can count them.
    NotSent { target: String, text: String, reason: String },
    /// The connection is over TLS, with the certificate of this SHA-256
    /// fingerprint (the pinned one). Before [`ConnState::Connected`].
    Secure { fingerprint: String },
    /// First use: the certificate of `server` was trusted, and is pinned
    /// from now on. The front end remembers it (in the config).
    Pinned { server: String, fingerprint: String },
    /// The server showed another certificate than the pinned one: the
    /// connection was refused and stopped (a System line says why and how
    /// to accept `seen`); the Disconnected state follows.
    CertChanged { server: String, pinned: String, seen: String },
}

pub mod config;
mod conn;
pub mod core;
pub mod http;
pub mod idle;
pub mod input;
pub mod line_mode;
pub mod slash;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trust;
pub mod typing;
pub mod view;

pub use self::core::{DEFAULT_PREFIXES, bare_nick};
pub use conn::{Handle, spawn};

/// The server used when neither the command line nor the config names one.
pub const DEFAULT_SERVER: &str = "127.0.0.1:6667";

/// Whether the server will take `nick` (RFC 2812: a letter or one of
/// ``[]\`_^{|}`` first, then those, digits and `-`; lanchat allows 30 bytes).
pub fn valid_nick(nick: &str) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = nick.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || special(c))
        && nick.len() <= 30
        && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

/// The nick to use when none is given or remembered: `$USER` reduced to what
/// a nick may hold, or `guest` and a number when nothing of it is left.
pub fn default_nick() -> String {
    let user = std::env::var("USER").unwrap_or_default();
    nick_from_login(&user, std::process::id())
}

fn nick_from_login(user: &str, pid: u32) -> String {
    let nick = user.chars().filter(|c| c.is_ascii_alphanumeric() || "-_[]{}\\|^`".contains(*c));
    let nick: String = nick.take(16).collect();
    if valid_nick(&nick) { nick } else { format!("guest{}", pid % 1000) }
}

/// The caps the client asks for when the server offers them.
pub(crate) const WANTED_CAPS: [&str; 6] =
    ["message-tags", "server-time", "echo-message", "batch", "multi-prefix", "away-notify"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_nicks_are_valid() {
        assert_eq!(nick_from_login("ann", 7), "ann");
        assert_eq!(nick_from_login("j.doe", 7), "jdoe");
        assert_eq!(nick_from_login("1bad", 1234), "guest234");
        assert_eq!(nick_from_login("", 5), "guest5");
        assert!(valid_nick(&nick_from_login("-x", 5)));
        assert!(!valid_nick("1bad") && !valid_nick("a b") && valid_nick("[x]_-1"));
    }
}
