//! The client connection: an IRC client state machine with no GUI in it.
//!
//! [`spawn`] runs one connection on a background thread. The front end (the
//! line-mode client or the FLTK window) sends it [`Command`]s and receives
//! [`Event`]s through a callback; nothing else crosses between them.

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
    /// Send a PRIVMSG to a channel or a nick. Queued while disconnected.
    Say { target: String, text: String },
    /// Ask for another nick.
    Nick(String),
    /// Join a channel.
    Join(String),
    /// Leave a channel.
    Part(String),
    /// Send one stroke segment to a channel's canvas.
    Stroke { channel: String, stroke: Stroke },
    /// Clear a channel's canvas for everyone.
    Clear { channel: String },
    /// Send QUIT and end the connection thread.
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

/// What the connection tells the front end.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Event {
    /// The connection state changed.
    State(ConnState),
    /// Registered, or our nick changed: this is our nick now.
    Nick(String),
    /// The server refused a nick; `suggestion` is free to try.
    NickTaken { wanted: String, suggestion: String },
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
    /// The whole user list of a channel, sent on every change.
    Users { channel: String, nicks: Vec<String> },
    /// Round-trip time of the last PING.
    Rtt(Duration),
    /// A stroke segment drawn by someone, our own echoes and replays included:
    /// a front end skips segments it already has.
    Stroke { channel: String, from: String, stroke: Stroke },
    /// A channel's canvas was cleared by `by`.
    CanvasCleared { channel: String, by: String },
    /// A message that could not be sent.
    NotSent { target: String, text: String, reason: String },
}

mod conn;
pub mod line_mode;

pub use conn::{Handle, spawn};

/// The caps the client asks for when the server offers them.
pub(crate) const WANTED_CAPS: [&str; 5] = ["message-tags", "server-time", "echo-message", "batch", "multi-prefix"];
