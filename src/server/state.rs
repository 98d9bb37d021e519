//! The shared state of the server: clients, nicks and channels, and the
//! history journal, behind one lock, and its owner's rules.
//!
//! # The lock discipline
//!
//! - [`Shared::lock`] is the only way to the [`State`], and only the session's
//!   read loop calls it: once per batch of lines read (and once for a
//!   departure, and per canvas line of a paced JOIN replay). Everything a
//!   command does runs in a handler that takes `&mut Cx`, which holds the
//!   `&mut State`; no handler can take the lock again, and nothing awaits
//!   while it is held (the guard is not `Send`, so the compiler refuses an
//!   `.await` across it in a session task).
//! - Every line a command causes (replies and fan-out alike) is pushed into
//!   the recipients' outboxes before the lock is released, so everyone sees
//!   events in the same order. Outbox pushes take only the recipient's own
//!   short queue lock, never this one.
//! - Disk work never runs under it: the journal's `write` into the page cache
//!   does (so history order is relay order), but fsync and compaction run on
//!   the disk thread (`super::disk`), which takes the lock only to take a
//!   snapshot and to swap the file in.
//! - Bulk replays (history, canvas) are pushed after the lock is released,
//!   paced by the client's own reading.
//!
//! # The owner
//!
//! The fields are private. Joining, parting, nick changes, quitting, caps and
//! modes are methods that keep every index in step: the nick index, each
//! client's channel list and each channel's member list (with the member's
//! copy of the client's caps), and the per-address counts.
//! [`State::check_invariants`] says what "in step" means; a seeded random
//! test drives long sequences of operations against it.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use super::Config;
use super::canvas_store::Canvases;
use super::history::Journal;
use super::names::fold;
use super::outbox::{Framed, Line, Outbox};
use super::runtime::Runtime;
use crate::numeric::{RPL_MONOFFLINE, RPL_MONONLINE};

pub use super::names::{valid_channel, valid_nick};

/// Identifies a connection for its whole life.
pub type ClientId = u64;

/// Clients by id, hashed with [`IdHasher`].
/// Boxed: a map slot is 16 bytes, not a whole `Client`, in the quarter or
/// more of its slots that the map keeps empty.
type Clients = HashMap<ClientId, Box<Client>, BuildHasherDefault<IdHasher>>;

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
pub struct Caps(pub u16);

impl Caps {
    pub const MESSAGE_TAGS: Caps = Caps(1);
    pub const SERVER_TIME: Caps = Caps(2);
    pub const ECHO_MESSAGE: Caps = Caps(4);
    pub const BATCH: Caps = Caps(8);
    pub const MULTI_PREFIX: Caps = Caps(16);
    pub const USERHOST_IN_NAMES: Caps = Caps(32);
    pub const AWAY_NOTIFY: Caps = Caps(64);
    pub const INVITE_NOTIFY: Caps = Caps(128);
    pub const LABELED_RESPONSE: Caps = Caps(256);
    pub const EXTENDED_JOIN: Caps = Caps(512);
    pub const SETNAME: Caps = Caps(1024);
    pub const CAP_NOTIFY: Caps = Caps(2048);
    pub const CHATHISTORY: Caps = Caps(4096);

    /// Every capability with its name, in the order CAP LS lists them.
    pub const ALL: [(&'static str, Caps); 13] = [
        ("away-notify", Caps::AWAY_NOTIFY),
        ("batch", Caps::BATCH),
        ("cap-notify", Caps::CAP_NOTIFY),
        ("draft/chathistory", Caps::CHATHISTORY),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("extended-join", Caps::EXTENDED_JOIN),
        ("invite-notify", Caps::INVITE_NOTIFY),
        ("labeled-response", Caps::LABELED_RESPONSE),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("multi-prefix", Caps::MULTI_PREFIX),
        ("server-time", Caps::SERVER_TIME),
        ("setname", Caps::SETNAME),
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

/// A connected client, registered or not. Read it through [`State::client`];
/// only the state's methods change it.
pub struct Client {
    /// `*` until NICK.
    pub nick: String,
    // Boxed strings, not Strings: set once (or seldom), and 8 bytes less
    // each in every connection's record.
    pub user: Box<str>,
    pub realname: Box<str>,
    pub ip: IpAddr,
    pub caps: Caps,
    pub away: Option<Box<str>>,
    pub invisible: bool,
    /// Server operator (user mode `+o`, after OPER).
    pub oper: bool,
    /// Receives WALLOPS (user mode `+w`).
    pub wallops: bool,
    /// Connected over TLS (WHOIS says so).
    pub secure: bool,
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
        format!("{}!{}@{}", self.nick, self.user, self.host())
    }

    /// The host shown for the client: its IP address, made when asked
    /// rather than kept (one allocation less per idle connection). One
    /// starting with ':' (IPv6) would read as a trailing parameter.
    pub fn host(&self) -> String {
        let host = self.ip.to_string();
        if host.starts_with(':') { format!("0{host}") } else { host }
    }

    /// The user mode string, e.g. `+iw`.
    pub fn umodes(&self) -> String {
        let mut m = String::from("+");
        for (on, c) in [(self.invisible, 'i'), (self.oper, 'o'), (self.wallops, 'w')] {
            if on {
                m.push(c);
            }
        }
        m
    }
}

/// A nick that left or changed, for WHOWAS.
pub struct Gone {
    pub nick: String,
    pub user: String,
    pub host: String,
    pub realname: String,
    /// Unix seconds of its departure.
    pub time: u64,
}

/// Most nicks one client may MONITOR (ISUPPORT `MONITOR`).
pub const MONITOR_MAX: usize = 100;

/// How many departed nicks WHOWAS remembers.
const WHOWAS_MAX: usize = 64;

/// A channel member, with what a fan-out needs to reach it without looking
/// the client up: one walk down a contiguous list per message.
#[derive(Clone)]
pub struct Member {
    pub id: ClientId,
    /// Channel operator.
    pub op: bool,
    /// Voiced: may speak (and draw) in a moderated channel.
    pub voice: bool,
    /// The client's capabilities, kept equal to [`Client::caps`] by [`State::set_caps`].
    pub caps: Caps,
    pub out: Outbox,
}

/// A channel flag that takes no parameter, as a bit of [`Channel`]'s flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// `+n`: only members may send to the channel.
    NoExternal = 1,
    /// `+t`: only operators may set the topic.
    TopicLock = 2,
    /// `+m`: only voiced members and operators speak and draw.
    Moderated = 4,
    /// `+i`: only invited clients join.
    InviteOnly = 8,
    /// `+s`: hidden from outsiders in LIST, NAMES, WHO and WHOIS.
    Secret = 16,
    /// `+d` (lanchat): only voiced members and operators draw.
    DrawLock = 32,
}

impl Flag {
    /// Every flag with its mode letter, in the order mode strings list them.
    pub const ALL: [(char, Flag); 6] = [
        ('d', Flag::DrawLock),
        ('i', Flag::InviteOnly),
        ('m', Flag::Moderated),
        ('n', Flag::NoExternal),
        ('s', Flag::Secret),
        ('t', Flag::TopicLock),
    ];

    pub fn by_char(c: char) -> Option<Flag> {
        Flag::ALL.iter().find(|(l, _)| *l == c).map(|(_, f)| *f)
    }
}

/// Which mask list of a channel: bans (`+b`) or their exceptions (`+e`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Bans,
    Excepts,
}

/// A mask on a channel's ban or exception list.
pub struct ListEntry {
    /// In its full `nick!user@host` form.
    pub mask: String,
    pub setter: String,
    /// Unix seconds.
    pub time: u64,
}

/// Most masks on each list of a channel (MAXLIST).
pub const MAXLIST: usize = 64;

/// A channel: members, topic, modes and canvas.
pub struct Channel {
    /// The name as first created.
    pub name: String,
    pub topic: Option<Topic>,
    /// Unix seconds of creation.
    pub created: u64,
    /// Members in join order: the first has been present longest.
    pub members: Vec<Member>,
    /// The set [`Flag`]s, as bits.
    flags: u8,
    /// `+k`: the key JOIN must give.
    pub key: Option<String>,
    /// `+l`: most members.
    pub limit: Option<usize>,
    pub bans: Vec<ListEntry>,
    pub excepts: Vec<ListEntry>,
    /// Clients invited since they last joined (ids are never reused); bounded.
    pub invited: Vec<ClientId>,
}

impl Channel {
    /// Whether `id` is a member, and if so whether an operator.
    pub fn member(&self, id: ClientId) -> Option<bool> {
        self.get(id).map(|m| m.op)
    }

    /// The membership of `id`.
    pub fn get(&self, id: ClientId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn has(&self, flag: Flag) -> bool {
        self.flags & flag as u8 != 0
    }

    /// Whether a client with this `nick!user@host` matches a ban and no exception.
    pub fn banned(&self, prefix: &str) -> bool {
        let hit = |l: &[ListEntry]| l.iter().any(|e| super::names::mask_match(&e.mask, prefix));
        hit(&self.bans) && !hit(&self.excepts)
    }

    /// The mode string and its parameters, e.g. `+ntkl` `secret` `10`; the
    /// key shows only `with_key` (to members).
    pub fn modes(&self, with_key: bool) -> Vec<String> {
        let mut m = String::from("+");
        m.extend(Flag::ALL.iter().filter(|(_, f)| self.has(*f)).map(|(c, _)| *c));
        let mut params = Vec::new();
        if let Some(k) = &self.key {
            m.push('k');
            params.push(if with_key { k.clone() } else { "*".into() });
        }
        if let Some(l) = self.limit {
            m.push('l');
            params.push(l.to_string());
        }
        params.insert(0, m);
        params
    }

    fn list_mut(&mut self, list: List) -> &mut Vec<ListEntry> {
        match list {
            List::Bans => &mut self.bans,
            List::Excepts => &mut self.excepts,
        }
    }
}

/// A channel topic.
pub struct Topic {
    pub text: String,
    pub setter: String,
    pub time: u64,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    TooManyClients,
    TooManyFromAddress,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::TooManyClients => "Too many connections",
            Refused::TooManyFromAddress => "Too many connections from your address",
        }
    }
}

/// Why a nick could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NickInUse;

/// Why a JOIN did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// Already a member: nothing to do.
    AlreadyOn,
    TooManyChannels,
}

/// Why a mask was not added to a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListFull;

/// Everything behind the lock; see the module doc.
pub struct State {
    clients: Clients,
    /// Casefolded nick to client, registered or still registering.
    nicks: HashMap<String, ClientId>,
    /// Casefolded name to channel.
    channels: HashMap<String, Channel>,
    per_ip: HashMap<IpAddr, usize>,
    history: Journal,
    /// Departed and changed nicks, newest last, for WHOWAS.
    whowas: VecDeque<Gone>,
    /// Most registered clients at once, for LUSERS.
    max_users: usize,
    /// Casefolded nick to the clients that MONITOR it, and the other way
    /// round (here, not in [`Client`]: most clients never use MONITOR).
    watchers: HashMap<String, Vec<ClientId>>,
    monitoring: HashMap<ClientId, Vec<String>>,
    /// The server's name: the source of what the server itself says.
    server: String,
    /// Every channel's canvas, which outlives its members.
    canvas: Canvases,
    /// Upload tokens handed out (UPLOAD), with the connection holding each;
    /// here, not in [`Client`]: most clients never share a file.
    uploaders: HashMap<[u8; 16], Uploader>,
}

/// Uploads a second per connection, on average, and at once.
const UPLOAD_RATE: f64 = 10.0 / 60.0;
const UPLOAD_BURST: f64 = 5.0;

/// The connection an upload token belongs to.
struct Uploader {
    id: ClientId,
    bucket: crate::rate::TokenBucket,
    /// One upload at a time per connection.
    running: bool,
}

/// Why an upload's token is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadDenied {
    /// No registered connection holds it.
    Unknown,
    /// An upload of this connection is running.
    Busy,
    /// Too many lately: the next in this long.
    Rate(std::time::Duration),
}

impl State {
    pub fn new(history: Journal, canvas: Canvases, server: &str) -> State {
        State {
            clients: Clients::default(),
            nicks: HashMap::new(),
            channels: HashMap::new(),
            per_ip: HashMap::new(),
            history,
            canvas,
            whowas: VecDeque::new(),
            max_users: 0,
            watchers: HashMap::new(),
            monitoring: HashMap::new(),
            server: server.to_string(),
            uploaders: HashMap::new(),
        }
    }

    // ---- reading ----

    pub fn client(&self, id: ClientId) -> Option<&Client> {
        self.clients.get(&id).map(|c| &**c)
    }

    /// The client's nick, or `*` (before NICK, or for a departed client).
    pub fn nick(&self, id: ClientId) -> &str {
        self.clients.get(&id).map_or("*", |c| c.nick.as_str())
    }

    pub fn channel(&self, key: &str) -> Option<&Channel> {
        self.channels.get(key)
    }

    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.channels.values()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Marks a connection as one over TLS.
    pub fn set_secure(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.secure = true;
        }
    }

    /// Connections (registered or not) from one address.
    pub fn connections_from(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }

    /// Number of registered clients.
    pub fn user_count(&self) -> usize {
        self.clients.values().filter(|c| c.registered).count()
    }

    /// Registered clients that are invisible (`+i`), and that are server operators.
    pub fn invisible_and_opers(&self) -> (usize, usize) {
        let reg = || self.clients.values().filter(|c| c.registered);
        (reg().filter(|c| c.invisible).count(), reg().filter(|c| c.oper).count())
    }

    /// Most registered clients at once since the start.
    pub fn max_users(&self) -> usize {
        self.max_users
    }

    /// Every client, for WHO with a mask.
    pub fn clients(&self) -> impl Iterator<Item = (ClientId, &Client)> {
        self.clients.iter().map(|(id, c)| (*id, &**c))
    }

    /// What WHOWAS knows of `nick`, newest first.
    pub fn whowas(&self, nick: &str) -> impl Iterator<Item = &Gone> {
        self.whowas.iter().rev().filter(move |g| g.nick.eq_ignore_ascii_case(nick))
    }

    /// Notes a registered client's nick for WHOWAS as it goes.
    fn remember(&mut self, id: ClientId) {
        let Some(c) = self.clients.get(&id).filter(|c| c.registered) else { return };
        let time = crate::clock::unix_ms(SystemTime::now()) / 1000;
        let gone = Gone {
            nick: c.nick.clone(),
            user: c.user.to_string(),
            host: c.host(),
            realname: c.realname.to_string(),
            time,
        };
        if self.whowas.len() >= WHOWAS_MAX {
            self.whowas.pop_front();
        }
        self.whowas.push_back(gone);
    }

    /// The registered client whose nick folds to `nick`.
    pub fn find_nick(&self, nick: &str) -> Option<ClientId> {
        self.nicks.get(&fold(nick)).copied().filter(|id| self.clients.get(id).is_some_and(|c| c.registered))
    }

    pub fn history(&self) -> &Journal {
        &self.history
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

    // ---- fan-out ----

    /// Pushes a message to each of `to`, formatted once per capability set.
    pub fn fanout(&self, to: impl IntoIterator<Item = ClientId>, msg: &mut Variants<'_>) {
        for id in to {
            if let Some(c) = self.clients.get(&id)
                && let Some(line) = msg.for_caps(c.caps)
            {
                c.out.push_line(line);
            }
        }
    }

    /// Pushes a message to every member of the channel `key` but `except`,
    /// straight from the member list (this is the hot path of a chat).
    pub fn fanout_channel(&self, key: &str, except: Option<ClientId>, msg: &mut Variants<'_>) {
        let Some(ch) = self.channels.get(key) else { return };
        for m in ch.members.iter().filter(|m| Some(m.id) != except) {
            if let Some(line) = msg.for_caps(m.caps) {
                m.out.push_line(line);
            }
        }
    }

    /// Pushes pre-formatted runs of lines, one per kind of recipient
    /// ([`Variants::kind`]), to every member of `key` but `except`.
    pub fn fanout_channel_runs(&self, key: &str, except: ClientId, runs: &[String; 4]) {
        let Some(ch) = self.channels.get(key) else { return };
        let mut framed: [Framed; 4] = Default::default();
        for m in ch.members.iter().filter(|m| m.id != except) {
            let kind = Variants::kind(m.caps);
            if !runs[kind].is_empty() {
                m.out.push_shared(&runs[kind], &mut framed[kind]);
            }
        }
    }

    // ---- connections ----

    /// Adds a new, unregistered connection, unless a limit refuses it;
    /// `handshaking` more from the same address are still in a handshake.
    pub fn connect(
        &mut self,
        id: ClientId,
        ip: IpAddr,
        out: Outbox,
        cfg: &Config,
        handshaking: usize,
    ) -> Result<(), Refused> {
        if self.clients.len() >= cfg.max_clients {
            return Err(Refused::TooManyClients);
        }
        if self.connections_from(ip) + handshaking >= cfg.max_per_ip {
            return Err(Refused::TooManyFromAddress);
        }
        *self.per_ip.entry(ip).or_default() += 1;
        let client = Client {
            nick: "*".into(),
            user: "".into(),
            realname: "".into(),
            ip,
            caps: Caps::default(),
            away: None,
            invisible: false,
            secure: false,
            oper: false,
            wallops: false,
            registered: false,
            channels: Vec::new(),
            out,
            signon: 0,
            last_spoke: Instant::now(),
        };
        self.clients.insert(id, Box::new(client));
        Ok(())
    }

    /// Removes a client: QUIT to everyone who shared a channel (if it was
    /// registered), ERROR to it, and out of every index. Returns its nick.
    pub fn disconnect(&mut self, id: ClientId, reason: &str) -> Option<String> {
        self.remember(id);
        self.tell_watchers(id, false);
        self.monitor_clear(id);
        let client = self.clients.get(&id)?;
        if client.registered {
            let quit = format!(":{} QUIT :{reason}", client.prefix());
            let mut msg = Variants::new(&quit, "", SystemTime::now());
            self.fanout(self.neighbours(id), &mut msg);
        }
        let client = self.clients.get(&id)?;
        client.out.push(&Line::from(format!("ERROR :Closing Link: {} ({reason})\r\n", client.ip)));
        client.out.close();
        for key in client.channels.clone() {
            self.remove_member(id, &key);
        }
        if !self.uploaders.is_empty() {
            self.uploaders.retain(|_, u| u.id != id);
        }
        let client = self.clients.remove(&id)?;
        let key = fold(&client.nick);
        if self.nicks.get(&key) == Some(&id) {
            self.nicks.remove(&key);
        }
        if let Some(n) = self.per_ip.get_mut(&client.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&client.ip);
            }
        }
        Some(client.nick)
    }

    /// Tells every client the server is going away, and closes each.
    pub fn close_all(&mut self, reason: &str) {
        for c in self.clients.values() {
            c.out.push(&Line::from(format!("ERROR :Closing Link: {} ({reason})\r\n", c.ip)));
            c.out.close();
        }
    }

    /// Cuts every connection off at once (shutdown, after the grace time).
    pub fn kill_all(&self) {
        for c in self.clients.values() {
            c.out.kill();
        }
    }

    // ---- registration and nicks ----

    /// Sets the nick. With `reserve` (always, once registered), the nick is
    /// taken in the index (and refused when someone else has it); without,
    /// it is only noted (a client that has not given the password yet must
    /// not keep anyone from a nick) and any reservation it had is given up. A registered
    /// client's change is announced to it and everyone sharing a channel.
    /// Returns the old nick.
    pub fn set_nick(&mut self, id: ClientId, new: &str, reserve: bool) -> Result<String, NickInUse> {
        let Some(c) = self.clients.get(&id) else { return Err(NickInUse) };
        // A registered client always holds its nick.
        let reserve = reserve || c.registered;
        let (old_key, new_key) = (fold(&c.nick), fold(new));
        if reserve && self.nicks.get(&new_key).is_some_and(|holder| *holder != id) {
            return Err(NickInUse);
        }
        self.remember(id);
        self.tell_watchers(id, false);
        if self.nicks.get(&old_key) == Some(&id) {
            self.nicks.remove(&old_key);
        }
        if reserve {
            self.nicks.insert(new_key, id);
        }
        let Some(c) = self.clients.get_mut(&id) else { return Err(NickInUse) };
        let prefix = c.prefix();
        let old = std::mem::replace(&mut c.nick, new.to_string());
        if c.registered {
            let line = format!(":{prefix} NICK {new}");
            let mut v = Variants::new(&line, "", SystemTime::now());
            let mut to = self.neighbours(id);
            to.push(id);
            self.fanout(to, &mut v);
            self.tell_watchers(id, true);
        }
        Ok(old)
    }

    /// Reserves the nick a client noted before giving the password; when
    /// someone took it meanwhile, the client is back to no nick (`*`).
    pub fn claim_nick(&mut self, id: ClientId) -> Result<(), NickInUse> {
        let Some(c) = self.clients.get_mut(&id) else { return Ok(()) };
        if c.nick == "*" {
            return Ok(());
        }
        let key = fold(&c.nick);
        match self.nicks.get(&key) {
            Some(holder) if *holder == id => Ok(()),
            Some(_) => {
                c.nick = "*".into();
                Err(NickInUse)
            }
            None => {
                self.nicks.insert(key, id);
                Ok(())
            }
        }
    }

    pub fn set_user(&mut self, id: ClientId, user: String, realname: String) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.user = user.into();
            c.realname = realname.into();
        }
    }

    /// SETNAME: a new realname.
    pub fn set_realname(&mut self, id: ClientId, realname: String) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.realname = realname.into();
        }
    }

    /// Marks the client registered; it must hold its nick.
    pub fn register(&mut self, id: ClientId, now: SystemTime) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.registered = true;
            c.signon = crate::clock::unix_ms(now) / 1000;
        }
        self.max_users = self.max_users.max(self.user_count());
        self.tell_watchers(id, true);
    }

    // ---- MONITOR ----

    /// Tells the clients that MONITOR a registered client's nick that it
    /// came (`730`, with `nick!user@host`) or went (`731`).
    fn tell_watchers(&self, id: ClientId, online: bool) {
        let Some(c) = self.clients.get(&id).filter(|c| c.registered) else { return };
        let Some(ws) = self.watchers.get(&fold(&c.nick)) else { return };
        let (code, what) = if online { (RPL_MONONLINE, c.prefix()) } else { (RPL_MONOFFLINE, c.nick.clone()) };
        let code = code.code();
        for w in ws.iter().filter_map(|w| self.clients.get(w)) {
            w.out.push(&format!(":{} {code} {} :{what}\r\n", self.server, w.nick));
        }
    }

    /// The casefolded nicks a client MONITORs.
    pub fn monitoring(&self, id: ClientId) -> &[String] {
        self.monitoring.get(&id).map_or(&[], |m| m.as_slice())
    }

    /// Adds a nick to a client's MONITOR list; false when the list is full.
    pub fn monitor_add(&mut self, id: ClientId, nick: &str) -> bool {
        let key = fold(nick);
        if !self.clients.contains_key(&id) {
            return true;
        }
        let list = self.monitoring.entry(id).or_default();
        if list.contains(&key) {
            return true;
        }
        if list.len() >= MONITOR_MAX {
            return false;
        }
        list.push(key.clone());
        self.watchers.entry(key).or_default().push(id);
        true
    }

    pub fn monitor_remove(&mut self, id: ClientId, nick: &str) {
        let key = fold(nick);
        if let Some(list) = self.monitoring.get_mut(&id) {
            list.retain(|k| *k != key);
            if list.is_empty() {
                self.monitoring.remove(&id);
            }
        }
        if let Some(ws) = self.watchers.get_mut(&key) {
            ws.retain(|w| *w != id);
            if ws.is_empty() {
                self.watchers.remove(&key);
            }
        }
    }

    pub fn monitor_clear(&mut self, id: ClientId) {
        let keys = self.monitoring.remove(&id).unwrap_or_default();
        for key in keys {
            if let Some(ws) = self.watchers.get_mut(&key) {
                ws.retain(|w| *w != id);
                if ws.is_empty() {
                    self.watchers.remove(&key);
                }
            }
        }
    }

    /// Sets a client's capabilities, in its channel memberships too.
    /// The upload token of a connection, if it has one.
    pub fn upload_token(&self, id: ClientId) -> Option<[u8; 16]> {
        self.uploaders.iter().find(|(_, u)| u.id == id).map(|(t, _)| *t)
    }

    /// Gives a connection its upload token, valid until it disconnects.
    pub fn add_upload_token(&mut self, id: ClientId, token: [u8; 16]) {
        let bucket = crate::rate::TokenBucket::new(UPLOAD_RATE, UPLOAD_BURST);
        self.uploaders.insert(token, Uploader { id, bucket, running: false });
    }

    /// An upload with `token` starts, if its connection may upload now.
    pub fn begin_upload(&mut self, token: &[u8; 16], now: Instant) -> Result<ClientId, UploadDenied> {
        let u = self.uploaders.get_mut(token).ok_or(UploadDenied::Unknown)?;
        if !self.clients.get(&u.id).is_some_and(|c| c.registered) {
            return Err(UploadDenied::Unknown);
        }
        if u.running {
            return Err(UploadDenied::Busy);
        }
        u.bucket.take(now).map_err(UploadDenied::Rate)?;
        u.running = true;
        Ok(u.id)
    }

    /// The upload [`State::begin_upload`] started is over.
    pub fn end_upload(&mut self, token: &[u8; 16]) {
        if let Some(u) = self.uploaders.get_mut(token) {
            u.running = false;
        }
    }

    pub fn set_caps(&mut self, id: ClientId, caps: Caps) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        c.caps = caps;
        for key in &c.channels {
            if let Some(m) = self.channels.get_mut(key).and_then(|ch| ch.members.iter_mut().find(|m| m.id == id)) {
                m.caps = caps;
            }
        }
    }

    /// Sets or clears the away message; neighbours with away-notify are told.
    pub fn set_away(&mut self, id: ClientId, away: Option<String>) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        let line = format!(":{} AWAY{}\r\n", c.prefix(), away.as_deref().map_or(String::new(), |m| format!(" :{m}")));
        c.away = away.map(String::into_boxed_str);
        let line = Line::from(line);
        for n in self.neighbours(id) {
            if let Some(c) = self.clients.get(&n).filter(|c| c.caps.has(Caps::AWAY_NOTIFY)) {
                c.out.push(&line);
            }
        }
    }

    /// Sets the user modes `+i`, `+o` (server operator) and `+w`.
    pub fn set_umodes(&mut self, id: ClientId, invisible: bool, oper: bool, wallops: bool) {
        if let Some(c) = self.clients.get_mut(&id) {
            (c.invisible, c.oper, c.wallops) = (invisible, oper, wallops);
        }
    }

    pub fn spoke(&mut self, id: ClientId) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.last_spoke = Instant::now();
        }
    }

    // ---- channels ----

    /// Joins `name` (creating it, with the joiner as operator, when new) and
    /// announces the JOIN to every member, the joiner included. Returns the
    /// channel's key.
    pub fn join(&mut self, id: ClientId, name: &str, max_channels: usize) -> Result<String, JoinError> {
        let key = fold(name);
        let Some(client) = self.clients.get(&id) else { return Err(JoinError::AlreadyOn) };
        if client.channels.contains(&key) {
            return Err(JoinError::AlreadyOn);
        }
        if client.channels.len() >= max_channels {
            return Err(JoinError::TooManyChannels);
        }
        let (prefix, caps, out) = (client.prefix(), client.caps, client.out.clone());
        let realname = client.realname.clone();
        let now = SystemTime::now();
        let ch = self.channels.entry(key.clone()).or_insert_with(|| Channel {
            name: name.to_string(),
            topic: None,
            created: crate::clock::unix_ms(now) / 1000,
            members: Vec::new(),
            flags: Flag::NoExternal as u8 | Flag::TopicLock as u8,
            key: None,
            limit: None,
            bans: Vec::new(),
            excepts: Vec::new(),
            invited: Vec::new(),
        });
        // Whoever creates a channel runs it.
        let op = ch.members.is_empty();
        ch.members.push(Member { id, op, voice: false, caps, out });
        ch.invited.retain(|i| *i != id);
        let line = format!(":{prefix} JOIN {}", ch.name);
        // extended-join: the account (lanchat has none: `*`) and the realname.
        let ext = format!("{line} * :{realname}");
        let (mut plain, mut extended) = (Variants::new(&line, "", now), Variants::new(&ext, "", now));
        for m in &ch.members {
            let v = if m.caps.has(Caps::EXTENDED_JOIN) { &mut extended } else { &mut plain };
            if let Some(l) = v.for_caps(m.caps) {
                m.out.push_line(l);
            }
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.channels.push(key.clone());
        }
        Ok(key)
    }

    /// Leaves the channel `key`, telling its members (the leaver included);
    /// the channel goes when its last member does.
    pub fn part(&mut self, id: ClientId, key: &str, reason: &str) {
        let Some(prefix) = self.clients.get(&id).map(|c| c.prefix()) else { return };
        let Some(ch) = self.channels.get(key) else { return };
        if ch.member(id).is_none() {
            return;
        }
        let line = if reason.is_empty() {
            format!(":{prefix} PART {}", ch.name)
        } else {
            format!(":{prefix} PART {} :{reason}", ch.name)
        };
        self.fanout_channel(key, None, &mut Variants::new(&line, "", SystemTime::now()));
        self.remove_member(id, key);
    }

    /// Puts `target` out of the channel `key`: `:kicker KICK #chan target :reason` to every member first.
    pub fn kick(&mut self, key: &str, target: ClientId, kicker: &str, reason: &str) {
        let Some(ch) = self.channels.get(key).filter(|ch| ch.member(target).is_some()) else { return };
        let line = format!(":{kicker} KICK {} {} :{reason}", ch.name, self.nick(target));
        self.fanout_channel(key, None, &mut Variants::new(&line, "", SystemTime::now()));
        self.remove_member(target, key);
    }

    fn remove_member(&mut self, id: ClientId, key: &str) {
        if let Some(ch) = self.channels.get_mut(key) {
            ch.members.retain(|m| m.id != id);
            if ch.members.is_empty() {
                self.channels.remove(key);
            }
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.channels.retain(|k| k != key);
        }
        self.ensure_op(key, None);
    }

    /// A channel never stays without an operator: when it has none, its
    /// longest-present member (but `avoid`, who just gave it up, when
    /// another is there) is made one, announced as a MODE from the server.
    pub fn ensure_op(&mut self, key: &str, avoid: Option<ClientId>) {
        let Some(ch) = self.channels.get_mut(key) else { return };
        if ch.members.iter().any(|m| m.op) {
            return;
        }
        let pick = ch.members.iter().position(|m| Some(m.id) != avoid).unwrap_or(0);
        ch.members[pick].op = true;
        let (id, name) = (ch.members[pick].id, ch.name.clone());
        let line = format!(":{} MODE {name} +o {}", self.server, self.nick(id));
        self.fanout_channel(key, None, &mut Variants::new(&line, "", SystemTime::now()));
    }

    /// Remembers that `id` was invited to `key` (it may join past `+i`).
    pub fn invite(&mut self, key: &str, id: ClientId) {
        let Some(ch) = self.channels.get_mut(key) else { return };
        if !ch.invited.contains(&id) {
            if ch.invited.len() >= MAXLIST {
                ch.invited.remove(0);
            }
            ch.invited.push(id);
        }
    }

    pub fn set_topic(&mut self, key: &str, topic: Option<Topic>) {
        if let Some(ch) = self.channels.get_mut(key) {
            ch.topic = topic;
        }
    }

    /// Sets a flag; returns whether it changed.
    pub fn set_flag(&mut self, key: &str, flag: Flag, on: bool) -> bool {
        let Some(ch) = self.channels.get_mut(key) else { return false };
        let old = ch.flags;
        if on {
            ch.flags |= flag as u8;
        } else {
            ch.flags &= !(flag as u8);
        }
        old != ch.flags
    }

    /// Sets or clears the key (`+k`); returns whether it changed.
    pub fn set_key(&mut self, key: &str, k: Option<String>) -> bool {
        let Some(ch) = self.channels.get_mut(key) else { return false };
        std::mem::replace(&mut ch.key, k.clone()) != k
    }

    /// Sets or clears the member limit (`+l`); returns whether it changed.
    pub fn set_limit(&mut self, key: &str, l: Option<usize>) -> bool {
        let Some(ch) = self.channels.get_mut(key) else { return false };
        std::mem::replace(&mut ch.limit, l) != l
    }

    /// Adds a full mask to a list; Ok(false) when it was there already.
    pub fn list_add(&mut self, key: &str, list: List, entry: ListEntry) -> Result<bool, ListFull> {
        let Some(ch) = self.channels.get_mut(key) else { return Ok(false) };
        let l = ch.list_mut(list);
        if l.iter().any(|e| e.mask.eq_ignore_ascii_case(&entry.mask)) {
            return Ok(false);
        }
        if l.len() >= MAXLIST {
            return Err(ListFull);
        }
        l.push(entry);
        Ok(true)
    }

    /// Removes a full mask from a list; returns the mask as it was set, if it was.
    pub fn list_remove(&mut self, key: &str, list: List, mask: &str) -> Option<String> {
        let l = self.channels.get_mut(key)?.list_mut(list);
        let i = l.iter().position(|e| e.mask.eq_ignore_ascii_case(mask))?;
        Some(l.remove(i).mask)
    }

    /// Makes a member an operator or not; `None` when not a member, else
    /// whether it changed. Whoever takes a channel's last operator away
    /// calls [`State::ensure_op`] once the change is announced.
    pub fn set_op(&mut self, key: &str, id: ClientId, on: bool) -> Option<bool> {
        let m = self.channels.get_mut(key)?.members.iter_mut().find(|m| m.id == id)?;
        Some(std::mem::replace(&mut m.op, on) != on)
    }

    /// The canvases, for the canvas commands, JOIN replays, folds and the
    /// disk thread's compactions.
    pub fn canvas_mut(&mut self) -> &mut Canvases {
        &mut self.canvas
    }

    /// Voices a member or not; like [`State::set_op`].
    pub fn set_voice(&mut self, key: &str, id: ClientId, on: bool) -> Option<bool> {
        let m = self.channels.get_mut(key)?.members.iter_mut().find(|m| m.id == id)?;
        Some(std::mem::replace(&mut m.voice, on) != on)
    }

    // ---- history ----

    /// A new msgid for a message relayed at `time`.
    pub fn msgid(&mut self, time: SystemTime) -> u64 {
        self.history.next_id(crate::clock::unix_ms(time))
    }

    /// Journals a channel line with its msgid; call it before fanning the line out.
    pub fn journal(&mut self, channel: &str, time: SystemTime, id: u64, line: &str) {
        self.history.append(channel, crate::clock::unix_ms(time), id, &Line::from(line));
    }

    /// The journal, for the disk thread's compaction and fsync steps.
    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.history
    }

    // ---- the rules ----

    /// Checks that every index agrees with every other; says what does not.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (key, id) in &self.nicks {
            let c = self.clients.get(id).ok_or(format!("nick {key} held by departed client {id}"))?;
            if fold(&c.nick) != *key {
                return Err(format!("nick index {key} points at client {id} called {}", c.nick));
            }
        }
        let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
        for (id, c) in &self.clients {
            *per_ip.entry(c.ip).or_default() += 1;
            if c.registered && self.nicks.get(&fold(&c.nick)) != Some(id) {
                return Err(format!("registered client {id} does not hold its nick {}", c.nick));
            }
            for (i, key) in c.channels.iter().enumerate() {
                if c.channels[..i].contains(key) {
                    return Err(format!("client {id} lists {key} twice"));
                }
                let ch = self.channels.get(key).ok_or(format!("client {id} is in missing channel {key}"))?;
                let m = ch.members.iter().find(|m| m.id == *id).ok_or(format!("client {id} not a member of {key}"))?;
                if m.caps != c.caps {
                    return Err(format!("member {id} of {key} has stale caps"));
                }
            }
        }
        for (key, ws) in &self.watchers {
            if ws.is_empty() {
                return Err(format!("nobody monitors {key} but it is kept"));
            }
            for w in ws {
                self.clients.get(w).ok_or(format!("departed client {w} monitors {key}"))?;
                if !self.monitoring(*w).contains(key) {
                    return Err(format!("client {w} watches {key} without listing it"));
                }
            }
        }
        for (id, list) in &self.monitoring {
            if list.is_empty() || !self.clients.contains_key(id) {
                return Err(format!("client {id} has an empty or stale MONITOR list"));
            }
            for key in list {
                if !self.watchers.get(key).is_some_and(|ws| ws.contains(id)) {
                    return Err(format!("client {id} monitors {key} but is not in the index"));
                }
            }
        }
        if per_ip != self.per_ip {
            return Err(format!("per-address counts {:?} but clients give {per_ip:?}", self.per_ip));
        }
        for (key, ch) in &self.channels {
            if ch.members.is_empty() {
                return Err(format!("channel {key} is empty but kept"));
            }
            if fold(&ch.name) != *key {
                return Err(format!("channel {} kept under {key}", ch.name));
            }
            if !ch.members.iter().any(|m| m.op) {
                return Err(format!("channel {key} has no operator"));
            }
            for (i, m) in ch.members.iter().enumerate() {
                if ch.members[..i].iter().any(|o| o.id == m.id) {
                    return Err(format!("client {} is in {key} twice", m.id));
                }
                let c = self.clients.get(&m.id).ok_or(format!("departed client {} still in {key}", m.id))?;
                if !c.channels.contains(key) {
                    return Err(format!("member {} of {key} does not list it", m.id));
                }
            }
        }
        Ok(())
    }
}

/// What every session holds: the settings, the runtime and the locked state.
pub struct Shared {
    pub config: Config,
    pub motd: Option<String>,
    /// The TLS port and certificate fingerprint, when there is one.
    pub tls: Option<super::transport::TlsInfo>,
    /// When the server started, for RPL_CREATED.
    pub started: SystemTime,
    /// The executor and buffer pool of this server (no process-wide ones).
    pub rt: Runtime,
    /// Connections still in a TLS or HTTP handshake, per address.
    pub handshakes: super::handshakes::Handshakes,
    /// Shared files, unless `--no-files` or `--no-web`.
    pub files: Option<Arc<super::files::Store>>,
    state: Mutex<State>,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(
        config: Config,
        motd: Option<String>,
        tls: Option<super::transport::TlsInfo>,
        history: Journal,
        canvas: Canvases,
        files: Option<Arc<super::files::Store>>,
        rt: Runtime,
    ) -> Shared {
        let state = Mutex::new(State::new(history, canvas, &config.name));
        Shared {
            config,
            motd,
            tls,
            started: SystemTime::now(),
            rt,
            handshakes: Default::default(),
            files,
            state,
            next_id: AtomicU64::new(1),
        }
    }

    /// Takes the lock; see the module doc for who may. A panic elsewhere
    /// cannot leave the state half-changed in a way that matters more than
    /// stopping the server would, so a poisoned lock is used as it is.
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
    /// The msgid, for recipients with message-tags; empty for none.
    msgid: String,
    /// Only for recipients with all these caps (message-tags for a TAGMSG).
    need: Caps,
    cache: [Option<Line>; 4],
}

impl<'a> Variants<'a> {
    /// A message with the given base line, client tags and time.
    pub fn new(base: &'a str, client_tags: &'a str, time: SystemTime) -> Variants<'a> {
        Variants {
            base,
            client_tags,
            time: crate::clock::rfc3339(time),
            msgid: String::new(),
            need: Caps(0),
            cache: Default::default(),
        }
    }

    /// The message with a msgid (PRIVMSG, NOTICE, TAGMSG).
    pub fn with_msgid(mut self, id: u64) -> Variants<'a> {
        self.msgid = format!("{id:x}");
        self
    }

    /// A message that reaches only clients with message-tags (TAGMSG).
    pub fn tags_only(self) -> Variants<'a> {
        self.only_for(Caps::MESSAGE_TAGS)
    }

    /// A message that reaches only clients with `caps` (SETNAME).
    pub fn only_for(mut self, caps: Caps) -> Variants<'a> {
        self.need = caps;
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
        if !caps.has(self.need) {
            return None;
        }
        let slot = &mut self.cache[Variants::kind(caps)];
        if slot.is_none() {
            let mut s = String::with_capacity(self.base.len() + self.client_tags.len() + 64);
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
            if mt && !self.msgid.is_empty() {
                s.push(sep);
                s.push_str("msgid=");
                s.push_str(&self.msgid);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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

    /// A small deterministic generator (xorshift64*): the test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }

    /// Long seeded random runs of every operation that changes the state,
    /// checking every invariant after each step.
    #[test]
    fn random_operations_keep_every_index_in_step() {
        let dir = std::env::temp_dir().join(format!("lanchat-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = Config { max_clients: 12, max_per_ip: 5, ..Config::default() };
        let nicks = ["ann", "Ann", "bob", "cy", "dee", "ed"];
        let chans = ["#a", "#A", "#b", "#c"];
        let ips: [IpAddr; 3] = [[127, 0, 0, 1].into(), [127, 0, 0, 2].into(), [127, 0, 0, 3].into()];
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let journal = Journal::open(&dir, 5, 1 << 20).unwrap();
            let canvas = Canvases::open(&dir, "test", 1 << 20, 1 << 20, Duration::ZERO).unwrap();
            let mut st = State::new(journal, canvas, "test");
            let mut next: ClientId = 1;
            let mut ids: Vec<ClientId> = Vec::new();
            for step in 0..2_000 {
                let pick =
                    |rng: &mut Rng, ids: &[ClientId]| ids.get(rng.below(ids.len().max(1) as u64) as usize).copied();
                let nick = nicks[rng.below(nicks.len() as u64) as usize];
                let chan = chans[rng.below(chans.len() as u64) as usize];
                let op = rng.below(11);
                let what = match (op, pick(&mut rng, &ids)) {
                    (0 | 1, _) | (_, None) => {
                        let ip = ips[rng.below(3) as usize];
                        if st.connect(next, ip, Outbox::detached(1 << 16), &cfg, 0).is_ok() {
                            ids.push(next);
                        }
                        next += 1;
                        format!("connect from {ip}")
                    }
                    (2, Some(id)) => {
                        let reserve = rng.below(4) != 0;
                        let _ = st.set_nick(id, nick, reserve);
                        format!("{id} nick {nick} reserve {reserve}")
                    }
                    (3, Some(id)) => {
                        let _ = st.claim_nick(id);
                        format!("{id} claims its nick")
                    }
                    (4, Some(id)) => {
                        // Registration needs a held nick, as the session makes sure.
                        let holds = st.client(id).is_some_and(|c| st.nicks.get(&fold(&c.nick)) == Some(&id));
                        if holds {
                            st.register(id, SystemTime::now());
                        }
                        format!("{id} registers ({holds})")
                    }
                    (5 | 6, Some(id)) => {
                        let _ = st.join(id, chan, 3);
                        format!("{id} joins {chan}")
                    }
                    (7, Some(id)) => {
                        st.part(id, &fold(chan), "bye");
                        format!("{id} parts {chan}")
                    }
                    (8, Some(id)) => {
                        st.set_caps(id, Caps(rng.below(1 << 13) as u16));
                        match rng.below(4) {
                            0 => drop(st.monitor_add(id, nick)),
                            1 => st.monitor_remove(id, nick),
                            2 => st.monitor_clear(id),
                            _ => {}
                        }
                        format!("{id} caps and monitors {nick}")
                    }
                    (9, Some(id)) => {
                        let target = pick(&mut rng, &ids).unwrap_or(id);
                        let _ = st.set_op(&fold(chan), target, rng.below(2) == 0);
                        st.ensure_op(&fold(chan), Some(target));
                        st.set_flag(&fold(chan), Flag::TopicLock, rng.below(2) == 0);
                        if rng.below(3) == 0 {
                            st.kick(&fold(chan), target, "k!k@k", "out");
                        }
                        format!("{id} modes on {chan}")
                    }
                    (_, Some(id)) => {
                        st.disconnect(id, "gone");
                        ids.retain(|i| *i != id);
                        format!("{id} quits")
                    }
                };
                if let Err(e) = st.check_invariants() {
                    panic!("seed {seed}, step {step} ({what}): {e}");
                }
            }
            for id in ids {
                st.disconnect(id, "end");
            }
            st.check_invariants().unwrap();
            assert!(st.clients.is_empty() && st.nicks.is_empty() && st.channels.is_empty() && st.per_ip.is_empty());
            assert!(st.watchers.is_empty() && st.monitoring.is_empty());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
