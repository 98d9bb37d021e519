//! The commands a client can send, as a table ([`COMMANDS`]): the name, the
//! handler, the fewest parameters it takes and whether it may come before
//! registration. [`dispatch`] answers 400/417 (bad input), 451 (not
//! registered), 421 (unknown command) and 461 (too few parameters) for all
//! of them, in one place.
//!
//! A handler takes `&mut Cx`: the locked [`State`], this connection's own
//! protocol state ([`Conn`]) and the server's settings. It never takes the
//! lock or awaits; what must wait for the client (a JOIN's replay) it hands
//! back in [`Flow::Replay`], for the session to push after unlocking.
//!
//! Handlers live in files by what they touch: [`register`] (CAP, PASS,
//! NICK, USER, SETNAME and the welcome), [`chathistory`] (CHATHISTORY and
//! how a history line is formatted), [`channels`] (JOIN, PART, TOPIC, NAMES,
//! LIST), [`modes`] (MODE), [`moderation`] (KICK, INVITE), [`opers`] (OPER,
//! KILL, WALLOPS), [`monitor`] (MONITOR), [`files`] (UPLOAD), [`messages`] (PRIVMSG, NOTICE, TAGMSG and the canvas) and
//! [`queries`] (PING, MOTD, LUSERS, VERSION, TIME, USERHOST, ISON, AWAY,
//! WHO, WHOIS, WHOWAS).

mod channels;
mod chathistory;
mod files;
mod messages;
mod moderation;
mod modes;
mod monitor;
mod opers;
mod queries;
mod register;

use std::net::SocketAddr;

use log::debug;

use super::outbox::Outbox;
use super::state::{Caps, ClientId, Shared, State};
use crate::line::{MAX_LINE, MAX_TAGS, Message, ParseError, write_line};
use crate::numeric::{self, Numeric};

pub use channels::Replay;
pub use messages::{Burst, flush_burst};

/// The server's version, as VERSION and the welcome say it.
pub const VERSION: &str = concat!("lanchat-", env!("CARGO_PKG_VERSION"));

/// What a command tells the session's read loop.
pub enum Flow {
    Continue,
    /// Close the connection with this reason (sent as ERROR and in QUIT).
    Quit(String),
    /// Push these replays, without the lock and paced by the client, then go on.
    Replay(Vec<Replay>),
}

/// A connection's own protocol state, kept by its session between commands.
pub struct Conn {
    pub id: ClientId,
    pub out: Outbox,
    pub peer: SocketAddr,
    pub registered: bool,
    /// CAP LS or REQ before registration holds registration until CAP END.
    cap_negotiating: bool,
    got_user: bool,
    pass_ok: bool,
    batch_seq: u32,
    /// Channel messages handled but not fanned out yet; see [`Burst`].
    pub burst: Burst,
}

impl Conn {
    pub fn new(id: ClientId, out: Outbox, peer: SocketAddr, shared: &Shared) -> Conn {
        Conn {
            id,
            out,
            peer,
            registered: false,
            cap_negotiating: false,
            got_user: false,
            pass_ok: shared.config.password.is_none(),
            batch_seq: 0,
            burst: Burst::default(),
        }
    }
}

/// What a handler works with; it exists only while the lock is held.
pub struct Cx<'a> {
    pub st: &'a mut State,
    pub conn: &'a mut Conn,
    pub shared: &'a Shared,
}

impl Cx<'_> {
    /// Sends `:server CODE nick params...`; the last parameter is the trailing one.
    pub fn num(&self, code: Numeric, params: &[&str]) {
        let (trailing, middle) = params.split_last().map_or((None, params), |(t, m)| (Some(*t), m));
        self.numeric(code, middle, trailing);
    }

    /// Sends `:server CODE nick params...` with no trailing parameter.
    pub fn num_plain(&self, code: Numeric, params: &[&str]) {
        self.numeric(code, params, None);
    }

    fn numeric(&self, code: Numeric, middle: &[&str], trailing: Option<&str>) {
        let mut all = Vec::with_capacity(middle.len() + 1);
        all.push(self.st.nick(self.conn.id));
        all.extend_from_slice(middle);
        let mut s = String::new();
        write_line(&mut s, Some(&self.shared.config.name), code.code(), &all, trailing);
        self.conn.out.push(&s);
    }

    /// Sends `:server COMMAND params...` (the last one trailing) to this client.
    pub fn reply(&self, command: &str, middle: &[&str], trailing: Option<&str>) {
        let mut s = String::new();
        write_line(&mut s, Some(&self.shared.config.name), command, middle, trailing);
        self.conn.out.push(&s);
    }

    /// 461, for a command that lacks a parameter it needs.
    pub fn need_more_params(&self, command: &str) {
        self.num(numeric::ERR_NEEDMOREPARAMS, &[command, "Not enough parameters"]);
    }

    /// This client's `nick!user@host`.
    pub fn prefix(&self) -> String {
        self.st.client(self.conn.id).map(|c| c.prefix()).unwrap_or_default()
    }
}

/// When a command may come.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Before {
    /// Also before registration.
    Yes,
    /// Only once registered.
    No,
    /// Before registration only when the server has no password.
    WithoutPassword,
}

/// One command of the table.
struct Spec {
    name: &'static str,
    run: fn(&mut Cx<'_>, &Message<'_>) -> Flow,
    /// Fewer parameters get 461.
    min_params: usize,
    before_registration: Before,
}

/// Every command the server knows.
const COMMANDS: &[Spec] = &[
    Spec { name: "CAP", run: register::cap, min_params: 0, before_registration: Before::Yes },
    Spec { name: "PASS", run: register::pass, min_params: 1, before_registration: Before::Yes },
    Spec { name: "NICK", run: register::nick, min_params: 0, before_registration: Before::Yes },
    Spec { name: "USER", run: register::user, min_params: 4, before_registration: Before::Yes },
    Spec { name: "QUIT", run: register::quit, min_params: 0, before_registration: Before::Yes },
    Spec { name: "PONG", run: queries::pong, min_params: 0, before_registration: Before::Yes },
    Spec { name: "PING", run: queries::ping, min_params: 0, before_registration: Before::WithoutPassword },
    Spec { name: "JOIN", run: channels::join, min_params: 1, before_registration: Before::No },
    Spec { name: "PART", run: channels::part, min_params: 1, before_registration: Before::No },
    Spec { name: "TOPIC", run: channels::topic, min_params: 1, before_registration: Before::No },
    Spec { name: "NAMES", run: channels::names, min_params: 0, before_registration: Before::No },
    Spec { name: "LIST", run: channels::list, min_params: 0, before_registration: Before::No },
    Spec { name: "MODE", run: modes::mode, min_params: 1, before_registration: Before::No },
    Spec { name: "KICK", run: moderation::kick, min_params: 2, before_registration: Before::No },
    Spec { name: "INVITE", run: moderation::invite, min_params: 2, before_registration: Before::No },
    Spec { name: "OPER", run: opers::oper, min_params: 2, before_registration: Before::No },
    Spec { name: "KILL", run: opers::kill, min_params: 1, before_registration: Before::No },
    Spec { name: "WALLOPS", run: opers::wallops, min_params: 1, before_registration: Before::No },
    Spec { name: "PRIVMSG", run: messages::privmsg, min_params: 0, before_registration: Before::No },
    Spec { name: "NOTICE", run: messages::notice, min_params: 0, before_registration: Before::No },
    Spec { name: "TAGMSG", run: messages::tagmsg, min_params: 0, before_registration: Before::No },
    Spec { name: "CHATHISTORY", run: chathistory::chathistory, min_params: 1, before_registration: Before::No },
    Spec { name: "SETNAME", run: register::setname, min_params: 1, before_registration: Before::No },
    Spec { name: "WHO", run: queries::who, min_params: 0, before_registration: Before::No },
    Spec { name: "WHOIS", run: queries::whois, min_params: 0, before_registration: Before::No },
    Spec { name: "WHOWAS", run: queries::whowas, min_params: 0, before_registration: Before::No },
    Spec { name: "AWAY", run: queries::away, min_params: 0, before_registration: Before::No },
    Spec { name: "USERHOST", run: queries::userhost, min_params: 1, before_registration: Before::No },
    Spec { name: "ISON", run: queries::ison, min_params: 1, before_registration: Before::No },
    Spec { name: "MONITOR", run: monitor::monitor, min_params: 1, before_registration: Before::No },
    Spec { name: "MOTD", run: queries::motd, min_params: 0, before_registration: Before::No },
    Spec { name: "LUSERS", run: queries::lusers, min_params: 0, before_registration: Before::No },
    Spec { name: "VERSION", run: queries::version, min_params: 0, before_registration: Before::No },
    Spec { name: "TIME", run: queries::time, min_params: 0, before_registration: Before::No },
    Spec { name: "UPLOAD", run: files::upload, min_params: 0, before_registration: Before::No },
];

/// labeled-response: sends what the command answered with its label, as
/// one tagged line, a `labeled-response` batch, or ACK for no answer. A
/// JOIN's history replay comes after, outside the batch. Without the batch
/// capability, an answer of several lines goes out unlabeled.
fn labeled(cx: &mut Cx<'_>, caps: Caps, label: &str) {
    let held = cx.conn.out.release();
    // Our own lines: UTF-8 always.
    let text = std::str::from_utf8(&held).unwrap_or_default();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    let name = &cx.shared.config.name;
    let out = match lines[..] {
        [] => format!("@label={label} :{name} ACK\r\n"),
        [line] => add_tag(line, "label", label),
        _ if caps.has(Caps::BATCH) => {
            cx.conn.batch_seq += 1;
            let id = format!("l{}x{}", cx.conn.id, cx.conn.batch_seq);
            let mut out = format!("@label={label} :{name} BATCH +{id} labeled-response\r\n");
            for line in lines {
                // Lines of a batch inside (chathistory) stay in theirs.
                out += &if line.starts_with("@batch=") { format!("{line}\r\n") } else { add_tag(line, "batch", &id) };
            }
            out + &format!(":{name} BATCH -{id}\r\n")
        }
        _ => text.to_string(),
    };
    cx.conn.out.push(&out);
}

/// `line` with the tag `key=value` in front of its others, CR LF added.
fn add_tag(line: &str, key: &str, value: &str) -> String {
    match line.strip_prefix('@') {
        Some(rest) => format!("@{key}={value};{rest}\r\n"),
        None => format!("@{key}={value} {line}\r\n"),
    }
}

/// UTF8ONLY: a line that is not UTF-8 gets `FAIL <command> INVALID_UTF8` and
/// is dropped; but a USER before registration (an old client may send its
/// realname in Latin-1) is taken with the bad bytes replaced, with a `WARN`,
/// so registration does not hang.
fn invalid_utf8(cx: &mut Cx<'_>, raw: &[u8]) -> Flow {
    let text = String::from_utf8_lossy(raw);
    let cmd = Message::parse(&text).map_or("*", |m| m.command);
    let cmd = if cmd.bytes().all(|b| b.is_ascii_alphanumeric()) { cmd.to_ascii_uppercase() } else { "*".into() };
    if cmd == "USER" && !cx.conn.registered {
        cx.reply("WARN", &["USER", "INVALID_UTF8"], Some("Invalid UTF-8 in USER was replaced"));
        return dispatch(cx, text.as_bytes());
    }
    cx.reply("FAIL", &[&cmd, "INVALID_UTF8"], Some("Input is not valid UTF-8; it was dropped"));
    Flow::Continue
}

/// Handles one line (without CR LF) from the client; with a `label` tag
/// (labeled-response), its answer is held and sent labeled.
pub fn dispatch(cx: &mut Cx<'_>, raw: &[u8]) -> Flow {
    let (tags_len, rest_len) = match raw.first() {
        Some(b'@') => {
            let sp = raw.iter().position(|&b| b == b' ').unwrap_or(raw.len());
            (sp + 1, raw.len().saturating_sub(sp + 1))
        }
        _ => (0, raw.len()),
    };
    if tags_len > MAX_TAGS || rest_len > MAX_LINE - 2 {
        cx.num(numeric::ERR_INPUTTOOLONG, &["Input line was too long"]);
        return Flow::Continue;
    }
    let bad = |cx: &Cx<'_>, why: &str| cx.num(numeric::ERR_UNKNOWNERROR, &["*", why]);
    if raw.contains(&0) {
        bad(cx, "Input contains a NUL byte; it was dropped");
        return Flow::Continue;
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return invalid_utf8(cx, raw);
    };
    let msg = match Message::parse(text) {
        Ok(m) => m,
        Err(ParseError::NoCommand) => {
            bad(cx, "Input has no command");
            return Flow::Continue;
        }
        Err(ParseError::TooManyParams) => {
            bad(cx, "Too many parameters");
            return Flow::Continue;
        }
    };
    // Passwords stay out of the log, even at debug level.
    if ["PASS", "OPER"].iter().any(|c| msg.command.eq_ignore_ascii_case(c)) {
        debug!("{}: {} (password not logged)", cx.conn.peer, msg.command);
    } else {
        debug!("{}: {}", cx.conn.peer, text);
    }
    let spec = COMMANDS.iter().find(|s| s.name.eq_ignore_ascii_case(msg.command));
    let held = cx.conn.burst.key();
    if !held.is_empty()
        && (!spec.is_some_and(|s| s.name == "PRIVMSG" || s.name == "NOTICE" || s.name == "TAGMSG")
            // (the key is casefolded: ASCII, as `fold` does, without a copy per message)
            || !msg.param(0).eq_ignore_ascii_case(held))
    {
        // Anything but another message to the same channel: the held burst
        // goes out first, so everyone sees this client's lines in order.
        messages::flush_burst(cx);
    }
    let allowed = |s: &Spec| match s.before_registration {
        Before::Yes => true,
        Before::No => false,
        Before::WithoutPassword => cx.shared.config.password.is_none(),
    };
    if !cx.conn.registered && !spec.is_some_and(allowed) {
        cx.num(numeric::ERR_NOTREGISTERED, &["You have not registered"]);
        return Flow::Continue;
    }
    let Some(spec) = spec else {
        cx.num(numeric::ERR_UNKNOWNCOMMAND, &[msg.command, "Unknown command"]);
        return Flow::Continue;
    };
    if msg.params.len() < spec.min_params {
        cx.need_more_params(spec.name);
        return Flow::Continue;
    }
    // (The tag first: most lines have none, and then the caps are not looked up.)
    let label = msg.tag("label").filter(|l| !l.is_empty()).and_then(|l| {
        let caps = cx.st.client(cx.conn.id)?.caps;
        caps.has(Caps::LABELED_RESPONSE).then_some((l, caps))
    });
    if label.is_some() {
        cx.conn.out.hold();
    }
    let flow = (spec.run)(cx, &msg);
    if let Some((label, caps)) = label {
        labeled(cx, caps, label);
    }
    if matches!(flow, Flow::Continue) && register::password_refused(cx) {
        return Flow::Quit("Bad password".into());
    }
    flow
}
