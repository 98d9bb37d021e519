//! The shared state of the server: clients, nicks and channels, under one lock.
//!
//! Every command a session runs takes the lock once, changes what it must,
//! and pushes the formatted results into the recipients' outboxes before it
//! lets go, so everyone sees events in the same order. (A client's burst of
//! channel messages is pushed at the end of the burst; see `session::Burst`.)
//! Nothing in here awaits.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use super::Config;
use super::history::Journal;
use super::outbox::{Line, Outbox};

/// Identifies a connection for its whole life.
pub type ClientId = u64;

/// Clients by id, hashed with [`IdHasher`].
pub type Clients = HashMap<ClientId, Client, BuildHasherDefault<IdHasher>>;

/// Hashes a [`ClientId`] with one multiplication. Ids are our own counter,
/// never chosen by a client, so there is no flooding attack to defend
/// against, and SipHash was 2% of all CPU in the bench's first scenario
/// while every delivery looked its recipient up (private messages, QUIT
/// and NICK still do).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: spreads a counter's low bits into the high ones.
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The IRCv3 capabilities we offer, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps(pub u8);

impl Caps {
    pub const MESSAGE_TAGS: Caps = Caps(1);
    pub const SERVER_TIME: Caps = Caps(2);
    pub const ECHO_MESSAGE: Caps = Caps(4);
    pub const BATCH: Caps = Caps(8);
    pub const MULTI_PREFIX: Caps = Caps(16);
    pub const USERHOST_IN_NAMES: Caps = Caps(32);

    /// Every capability with its name, in the order CAP LS lists them.
    pub const ALL: [(&'static str, Caps); 6] = [
        ("batch", Caps::BATCH),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("multi-prefix", Caps::MULTI_PREFIX),
        ("server-time", Caps::SERVER_TIME),
        ("userhost-in-names", Caps::USERHOST_IN_NAMES),
    ];

    /// Whether every bit of `other` is set.
    pub fn has(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }

    /// The capability called `name`.
    pub fn by_name(name: &str) -> Option<Caps> {
        Caps::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// Space-separated names of the set capabilities.
    pub fn names(self) -> String {
        let names: Vec<&str> = Caps::ALL.iter().filter(|(_, c)| self.has(*c)).map(|(n, _)| *n).collect();
        names.join(" ")
    }
}

/// A connected client, registered or not.
pub struct Client {
    /// `*` until NICK.
    pub nick: String,
    pub user: String,
    pub realname: String,
    pub host: String,
    pub ip: IpAddr,
    pub caps: Caps,
    pub away: Option<String>,
    pub invisible: bool,
    pub registered: bool,
    /// Casefolded names of the channels the client is in.
    pub channels: Vec<String>,
    pub out: Outbox,
    /// Unix seconds of registration.
    pub signon: u64,
    /// Last PRIVMSG/NOTICE sent, for WHOIS idle time.
    pub last_spoke: Instant,
}

impl Client {
    /// `nick!user@host`, the source of what this client sends.
    pub fn prefix(&self) -> String {
        format!("{}!{}@{}", self.nick, self.user, self.host)
    }
}

/// The drawing of a channel since its last clear, as relayable TAGMSG lines.
#[derive(Default)]
pub struct Canvas {
    pub strokes: VecDeque<Line>,
    pub bytes: usize,
    /// Counts the clears, so a replay in progress can tell it is out of date.
    pub epoch: u64,
}

/// A channel member, with what a fan-out needs to reach it without looking
/// the client up: one walk down a contiguous list per message.
#[derive(Clone)]
pub struct Member {
    pub id: ClientId,
    /// Channel operator.
    pub op: bool,
    /// The client's capabilities, kept equal to [`Client::caps`] by [`State::set_caps`].
    pub caps: Caps,
    pub out: Outbox,
}

/// A channel: members, topic, modes and canvas.
pub struct Channel {
    /// The name as first created.
    pub name: String,
    pub topic: Option<Topic>,
    /// Unix seconds of creation.
    pub created: u64,
    /// Members in join order.
    pub members: Vec<Member>,
    /// +n: only members may send to the channel.
    pub no_external: bool,
    /// +t: only operators may set the topic.
    pub topic_lock: bool,
    pub canvas: Canvas,
}

impl Channel {
    /// Whether `id` is a member, and if so whether an operator.
    pub fn member(&self, id: ClientId) -> Option<bool> {
        self.members.iter().find(|m| m.id == id).map(|m| m.op)
    }

    /// The mode string, e.g. `+nt`.
    pub fn modes(&self) -> String {
        let mut m = String::from("+");
        if self.no_external {
            m.push('n');
        }
        if self.topic_lock {
            m.push('t');
        }
        m
    }
}

/// A channel topic.
pub struct Topic {
    pub text: String,
    pub setter: String,
    pub time: u64,
}

/// Everything behind the lock.
pub struct State {
    pub clients: Clients,
    /// Casefolded nick to client, registered or still registering.
    pub nicks: HashMap<String, ClientId>,
    /// Casefolded name to channel.
    pub channels: HashMap<String, Channel>,
    pub history: Journal,
    pub per_ip: HashMap<IpAddr, usize>,
}

impl State {
    /// The registered client whose nick folds to `nick`.
    pub fn find_nick(&self, nick: &str) -> Option<ClientId> {
        self.nicks.get(&fold(nick)).copied().filter(|id| self.clients.get(id).is_some_and(|c| c.registered))
    }

    /// Number of registered clients.
    pub fn user_count(&self) -> usize {
        self.clients.values().filter(|c| c.registered).count()
    }

    /// Every client sharing a channel with `id`, each once, `id` excluded.
    pub fn neighbours(&self, id: ClientId) -> Vec<ClientId> {
        let mut out: Vec<ClientId> = Vec::new();
        if let Some(c) = self.clients.get(&id) {
            for key in &c.channels {
                if let Some(ch) = self.channels.get(key) {
                    out.extend(ch.members.iter().map(|m| m.id).filter(|m| *m != id));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Pushes a line to one client (dropped for a dead one).
    pub fn send(&self, to: ClientId, line: &Line) {
        if let Some(c) = self.clients.get(&to) {
            c.out.push(line);
        }
    }

    /// Pushes a message to each of `to`, formatted once per capability set.
    pub fn fanout(&self, to: impl IntoIterator<Item = ClientId>, msg: &mut Variants<'_>) {
        for id in to {
            if let Some(c) = self.clients.get(&id)
                && let Some(line) = msg.for_caps(c.caps)
            {
                c.out.push(line);
            }
        }
    }

    /// Pushes a message to every member of the channel `key` but `except`,
    /// straight from the member list (this is the hot path of a chat).
    pub fn fanout_channel(&self, key: &str, except: Option<ClientId>, msg: &mut Variants<'_>) {
        let Some(ch) = self.channels.get(key) else { return };
        for m in ch.members.iter().filter(|m| Some(m.id) != except) {
            if let Some(line) = msg.for_caps(m.caps) {
                m.out.push(line);
            }
        }
    }

    /// Sets a client's capabilities, in its channel memberships too.
    pub fn set_caps(&mut self, id: ClientId, caps: Caps) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        c.caps = caps;
        for key in &c.channels {
            if let Some(m) = self.channels.get_mut(key).and_then(|ch| ch.members.iter_mut().find(|m| m.id == id)) {
                m.caps = caps;
            }
        }
    }
}

/// What every session holds: the settings and the locked state.
pub struct Shared {
    pub config: Config,
    pub motd: Option<String>,
    /// When the server started, for RPL_CREATED.
    pub started: SystemTime,
    state: Mutex<State>,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(config: Config, motd: Option<String>, history: Journal) -> Shared {
        Shared {
            config,
            motd,
            started: SystemTime::now(),
            state: Mutex::new(State {
                clients: Clients::default(),
                nicks: HashMap::new(),
                channels: HashMap::new(),
                history,
                per_ip: HashMap::new(),
            }),
            next_id: AtomicU64::new(1),
        }
    }

    /// Takes the lock. A panic elsewhere cannot leave the state half-changed
    /// in a way that matters more than stopping the server would, so a
    /// poisoned lock is used as it is.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh connection id.
    pub fn next_id(&self) -> ClientId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// One message to fan out, formatted lazily once per kind of recipient:
/// with or without client tags (message-tags), with or without `@time`
/// (server-time).
pub struct Variants<'a> {
    /// `:src COMMAND params`, without tags or CR LF.
    base: &'a str,
    /// Escaped client-only tags (`+a=b;+c`), possibly empty.
    client_tags: &'a str,
    time: String,
    /// Only for recipients with message-tags (TAGMSG).
    tags_only: bool,
    cache: [Option<Line>; 4],
}

impl<'a> Variants<'a> {
    /// A message with the given base line, client tags and time.
    pub fn new(base: &'a str, client_tags: &'a str, time: SystemTime) -> Variants<'a> {
        Variants { base, client_tags, time: crate::clock::rfc3339(time), tags_only: false, cache: Default::default() }
    }

    /// A message that reaches only clients with message-tags (TAGMSG).
    pub fn tags_only(mut self) -> Variants<'a> {
        self.tags_only = true;
        self
    }

    /// Representative caps of each kind of recipient, by [`Variants::kind`].
    pub const KINDS: [Caps; 4] =
        [Caps(0), Caps::MESSAGE_TAGS, Caps::SERVER_TIME, Caps(Caps::MESSAGE_TAGS.0 | Caps::SERVER_TIME.0)];

    /// Which kind of recipient `caps` makes: clients of one kind get the same line.
    pub fn kind(caps: Caps) -> usize {
        usize::from(caps.has(Caps::MESSAGE_TAGS)) | usize::from(caps.has(Caps::SERVER_TIME)) << 1
    }

    /// The line for a recipient with `caps`, or None if it must not get it.
    /// Borrowed: a reference count touched per delivery cost as much as the
    /// copy into the recipient's queue.
    pub fn for_caps(&mut self, caps: Caps) -> Option<&Line> {
        let mt = caps.has(Caps::MESSAGE_TAGS);
        let st = caps.has(Caps::SERVER_TIME);
        if self.tags_only && !mt {
            return None;
        }
        let slot = &mut self.cache[Variants::kind(caps)];
        if slot.is_none() {
            let mut s = String::with_capacity(self.base.len() + self.client_tags.len() + 40);
            let mut sep = '@';
            if st {
                s.push(sep);
                s.push_str("time=");
                s.push_str(&self.time);
                sep = ';';
            }
            if mt && !self.client_tags.is_empty() {
                s.push(sep);
                s.push_str(self.client_tags);
                sep = ';';
            }
            if sep == ';' {
                s.push(' ');
            }
            s.push_str(self.base);
            s.push_str("\r\n");
            *slot = Some(Line::from(s));
        }
        slot.as_ref()
    }
}

/// Casefolds a nick or channel name by the `ascii` casemapping we announce.
pub fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Longest nick.
pub const NICKLEN: usize = 30;
/// Longest channel name.
pub const CHANNELLEN: usize = 50;
/// Longest topic.
pub const TOPICLEN: usize = 390;
/// Longest away message.
pub const AWAYLEN: usize = 200;
/// Longest user name.
pub const USERLEN: usize = 16;

/// A nick is a letter or one of `[]\`_^{|}`, then those, digits and `-`.
pub fn valid_nick(nick: &str) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = nick.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || special(c) => {}
        _ => return false,
    }
    nick.len() <= NICKLEN && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

/// A channel is `#` then at least one character that is not a space,
/// comma, colon or control character.
pub fn valid_channel(name: &str) -> bool {
    name.len() > 1
        && name.len() <= CHANNELLEN
        && name.starts_with('#')
        && !name.chars().any(|c| c == ' ' || c == ',' || c == ':' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks_and_channels() {
        assert!(valid_nick("alice"));
        assert!(valid_nick("[bot]_1-x"));
        assert!(!valid_nick("1alice"));
        assert!(!valid_nick("123"));
        assert!(!valid_nick(""));
        assert!(!valid_nick("a b"));
        assert!(!valid_nick(&"a".repeat(NICKLEN + 1)));
        assert!(valid_channel("#lobby"));
        assert!(!valid_channel("#"));
        assert!(!valid_channel("lobby"));
        assert!(!valid_channel("#a,b"));
        assert!(!valid_channel("#a\x07"));
        assert_eq!(fold("NiCk[]"), "nick[]");
    }

    #[test]
    fn variants_are_formatted_per_capability() {
        let t = crate::clock::from_unix_ms(0);
        let mut v = Variants::new(":a!b@c PRIVMSG #x :hi", "+k=v", t);
        assert_eq!(&**v.for_caps(Caps(0)).unwrap(), ":a!b@c PRIVMSG #x :hi\r\n");
        assert_eq!(&**v.for_caps(Caps::MESSAGE_TAGS).unwrap(), "@+k=v :a!b@c PRIVMSG #x :hi\r\n");
        assert_eq!(
            &**v.for_caps(Caps(Caps::MESSAGE_TAGS.0 | Caps::SERVER_TIME.0)).unwrap(),
            "@time=1970-01-01T00:00:00.000Z;+k=v :a!b@c PRIVMSG #x :hi\r\n"
        );
        let mut t = Variants::new(":a!b@c TAGMSG #x", "+k", t).tags_only();
        assert!(t.for_caps(Caps::SERVER_TIME).is_none());
    }
}
