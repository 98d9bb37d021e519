//! PRIVMSG, NOTICE and TAGMSG to a channel or a nick, what a TAGMSG does to
//! a channel's canvas, and the burst that fans a run of them out at once.

use std::time::SystemTime;

use super::{Cx, Flow};
use crate::canvas;
use crate::line::{MAX_CLIENT_TAGS, MAX_LINE, Message};
use crate::numeric::Numeric;
use crate::numeric::*;
use crate::server::canvas_store::Refused;
use crate::server::names::fold;
use crate::server::outbox::Line;
use crate::server::state::{Caps, Channel, Flag, Member, Variants};

/// Consecutive PRIVMSG, NOTICE and TAGMSG of one client to one channel,
/// read in one go, reach each member in one push instead of one per message.
/// Per member, the lock and the cache misses of a push cost more than the
/// copy of a line, so a burst of twenty lines costs about what one did.
///
/// The messages are checked, journaled and put on the canvas as they are
/// handled; only the pushes wait. Correct by construction with any number
/// of executor threads: the burst lives only while its session holds the
/// state lock (the session flushes it before letting go), and anything else
/// this client does flushes it first, so no one can join, leave or speak in
/// between, and every member sees this client's lines in the order sent.
#[derive(Default)]
pub struct Burst(Option<Box<Held>>);

/// A burst being held (boxed: most connections hold none, and the session
/// of every idle connection carries the empty `Burst`).
struct Held {
    /// Casefolded channel.
    key: String,
    /// The held lines for each kind of recipient ([`Variants::kind`]).
    runs: [String; 4],
    /// Which kinds the channel's members are, as bits: only those are formatted.
    kinds: u8,
}

impl Burst {
    /// The channel held for, or "" when nothing is held.
    pub fn key(&self) -> &str {
        self.0.as_ref().map_or("", |b| &b.key)
    }
}

/// Fans the held burst out to the channel's members but this client.
pub fn flush_burst(cx: &mut Cx<'_>) {
    let Some(b) = cx.conn.burst.0.take() else { return };
    // Freed, not kept: a client between bursts holds no buffers.
    cx.st.fanout_channel_runs(&b.key, cx.conn.id, &b.runs);
}

pub fn privmsg(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    message(cx, "PRIVMSG", msg)
}

pub fn notice(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    message(cx, "NOTICE", msg)
}

pub fn tagmsg(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    message(cx, "TAGMSG", msg)
}

/// One message being relayed: what every target shares.
struct Relay<'m> {
    cmd: &'m str,
    notice: bool,
    tagmsg: bool,
    text: &'m str,
    /// Escaped client-only tags, relayed to clients with message-tags.
    client_tags: String,
    /// `:nick!user@host CMD `, the target still to come.
    base: String,
    /// The sender's capabilities (echo-message).
    caps: Caps,
    now: SystemTime,
    msgid: u64,
}

impl Relay<'_> {
    /// An error reply, but never to a NOTICE (no loops between automatons).
    fn error(&self, cx: &Cx<'_>, code: Numeric, params: &[&str]) {
        if !self.notice {
            cx.num(code, params);
        }
    }

    /// Appends ` :text` to the line; false (and 417) when the line would
    /// not fit with our prefix in front: refused, never truncated.
    fn add_text(&mut self, cx: &Cx<'_>) -> bool {
        if self.tagmsg {
            return true;
        }
        self.base.push_str(" :");
        self.base.push_str(self.text);
        if self.base.len() > MAX_LINE - 2 {
            cx.num(ERR_INPUTTOOLONG, &["Input line was too long"]);
            return false;
        }
        true
    }

    fn variants(&self) -> Variants<'_> {
        let v = Variants::new(&self.base, &self.client_tags, self.now).with_msgid(self.msgid);
        if self.tagmsg { v.tags_only() } else { v }
    }
}

/// PRIVMSG, NOTICE and TAGMSG to a channel or a nick. NOTICE never gets an
/// error reply but 417.
fn message(cx: &mut Cx<'_>, cmd: &str, msg: &Message<'_>) -> Flow {
    let (notice, tagmsg) = (cmd == "NOTICE", cmd == "TAGMSG");
    let Some(sender) = cx.st.client(cx.conn.id) else { return Flow::Continue };
    let prefix = sender.prefix();
    let (target, text) = (msg.param(0), msg.param(1));
    let mut base = String::with_capacity(prefix.len() + target.len() + text.len() + 16);
    for part in [":", &prefix, " ", cmd, " "] {
        base.push_str(part);
    }
    let r = Relay {
        cmd,
        notice,
        tagmsg,
        text,
        client_tags: client_tags(msg),
        base,
        caps: sender.caps,
        now: SystemTime::now(),
        msgid: 0,
    };
    if target.is_empty() {
        r.error(cx, ERR_NORECIPIENT, &[&format!("No recipient given ({cmd})")]);
        return Flow::Continue;
    }
    if !tagmsg && text.is_empty() {
        r.error(cx, ERR_NOTEXTTOSEND, &["No text to send"]);
        return Flow::Continue;
    }
    if r.client_tags.len() > MAX_CLIENT_TAGS {
        cx.num(ERR_INPUTTOOLONG, &["Input line was too long"]);
        return Flow::Continue;
    }
    if tagmsg && r.client_tags.is_empty() {
        return Flow::Continue;
    }
    let mut r = r;
    r.msgid = cx.st.msgid(r.now);
    if target.starts_with('#') {
        to_channel(cx, r, target, msg);
    } else {
        to_nick(cx, r, target);
    }
    if !tagmsg {
        cx.st.spoke(cx.conn.id);
    }
    Flow::Continue
}

fn to_channel(cx: &mut Cx<'_>, mut r: Relay<'_>, target: &str, msg: &Message<'_>) {
    let key = fold(target);
    let Some(ch) = cx.st.channel(&key) else {
        r.error(cx, ERR_NOSUCHCHANNEL, &[target, "No such channel"]);
        return;
    };
    // One walk down the member list per message (the hot path).
    let member = ch.get(cx.conn.id);
    if ch.has(Flag::NoExternal) && member.is_none() {
        r.error(cx, ERR_CANNOTSENDTOCHAN, &[&ch.name, "Cannot send to channel"]);
        return;
    }
    let chname = ch.name.clone();
    let op = member.is_some_and(|m| m.op);
    let change = match r.tagmsg.then(|| canvas_tag(msg)).transpose() {
        Ok(change) => change.flatten(),
        Err(e) => {
            cx.num(ERR_UNKNOWNERROR, &["TAGMSG", &e]);
            return;
        }
    };
    if let Some(why) = muted(ch, member, &r.base[1..r.base.len() - r.cmd.len() - 2], change.is_some()) {
        // Other TAGMSGs (typing and the like) are dropped without a word.
        if !r.tagmsg || change.is_some() {
            r.error(cx, ERR_CANNOTSENDTOCHAN, &[&chname, why]);
        }
        return;
    }
    r.base.push_str(&chname);
    if !r.add_text(cx) {
        return;
    }
    if !r.tagmsg {
        // In the journal before anyone sees it: what was relayed is in history.
        cx.st.journal(&chname, r.now, r.msgid, &r.base);
    }
    if let Some(change) = change
        && !canvas_change(cx, &mut r, &key, &chname, op, change)
    {
        return;
    }
    let mut v = r.variants();
    hold(cx, &key, &mut v);
    if r.caps.has(Caps::ECHO_MESSAGE)
        && let Some(line) = v.for_caps(r.caps)
    {
        cx.conn.out.push(line);
    }
}

fn to_nick(cx: &mut Cx<'_>, mut r: Relay<'_>, target: &str) {
    let Some(tid) = cx.st.find_nick(target) else {
        r.error(cx, ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        return;
    };
    let Some(tc) = cx.st.client(tid) else { return };
    r.base.push_str(&tc.nick);
    if !r.add_text(cx) {
        return;
    }
    let mut v = r.variants();
    let echo = r.caps.has(Caps::ECHO_MESSAGE);
    if tid != cx.conn.id || !echo {
        cx.st.fanout([tid], &mut v);
    }
    if echo && let Some(line) = v.for_caps(r.caps) {
        cx.conn.out.push(line);
    }
    if r.cmd == "PRIVMSG"
        && let Some(away) = &tc.away
    {
        cx.num(RPL_AWAY, &[&tc.nick, away]);
    }
}

/// Why `member` (`nick!user@host`; None when not one) may not speak, or with `drawing` draw on
/// the canvas, in `ch`, if it may not: voiced members and operators always
/// may; `+m` silences the rest, `+d` keeps the rest from drawing, and a ban
/// (without an exception) silences who it matches.
fn muted(ch: &Channel, member: Option<&Member>, prefix: &str, drawing: bool) -> Option<&'static str> {
    if member.is_some_and(|m| m.op || m.voice) {
        None
    } else if ch.has(Flag::Moderated) {
        Some(if drawing {
            "Cannot draw in channel (+m): only voiced users and operators may"
        } else {
            "Cannot send to channel (+m)"
        })
    } else if drawing && ch.has(Flag::DrawLock) {
        Some("Cannot draw in channel (+d): only voiced users and operators may")
    } else if ch.banned(prefix) {
        Some("Cannot send to channel (+b)")
    } else {
        None
    }
}

/// Adds a channel message to this client's burst (flushed before the lock
/// is released; see [`Burst`]).
fn hold(cx: &mut Cx<'_>, key: &str, v: &mut Variants<'_>) {
    if cx.conn.burst.key() != key {
        flush_burst(cx);
    }
    let st = &*cx.st;
    let b = cx.conn.burst.0.get_or_insert_with(|| {
        let kinds =
            st.channel(key).map_or(0, |ch| ch.members.iter().fold(0, |kinds, m| kinds | 1 << Variants::kind(m.caps)));
        Box::new(Held { key: key.to_string(), runs: Default::default(), kinds })
    });
    for (kind, run) in b.runs.iter_mut().enumerate().filter(|(k, _)| b.kinds & 1 << k != 0) {
        if let Some(line) = v.for_caps(Variants::KINDS[kind]) {
            run.push_str(line);
        }
    }
}

/// The client-only tags of a message (`+name=value`), escaped as received:
/// they are relayed; every other tag a client sends is ours to set, and so
/// is a canvas snapshot (only the server sends one: from a client it would
/// replace everyone's picture).
fn client_tags(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for (k, v) in msg.tags() {
        if k.len() > 1
            && k.starts_with('+')
            && k != crate::canvas::SNAPSHOT_TAG
            && k[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b"-/.".contains(&b))
        {
            if !out.is_empty() {
                out.push(';');
            }
            out.push_str(k);
            if !v.is_empty() {
                out.push('=');
                out.push_str(v);
            }
        }
    }
    out
}

enum CanvasChange {
    Stroke(u32, String),
    Undo(u32),
    Clear,
}

/// What a TAGMSG does to the channel's canvas; an invalid stroke or undo
/// is an error, with the text of its 400.
fn canvas_tag(msg: &Message<'_>) -> Result<Option<CanvasChange>, String> {
    if msg.tag(canvas::CLEAR_TAG).is_some() {
        return Ok(Some(CanvasChange::Clear));
    }
    if let Some(v) = msg.tag(canvas::UNDO_TAG) {
        let v = crate::line::unescape_tag_value(v);
        return match v.parse() {
            Ok(id) => Ok(Some(CanvasChange::Undo(id))),
            Err(_) => Err(format!("Cannot undo stroke {v}: not a stroke ID")),
        };
    }
    match msg.tag(canvas::STROKE_TAG) {
        Some(v) => {
            let v = crate::line::unescape_tag_value(v);
            match canvas::Stroke::decode(&v) {
                Ok(s) => Ok(Some(CanvasChange::Stroke(s.id, v.into_owned()))),
                Err(e) => Err(format!("Invalid canvas stroke: {e}")),
            }
        }
        None => Ok(None),
    }
}

/// Applies a canvas change (journaled before it is relayed); false, with
/// the error sent, when it is refused. An undo is relayed with its count.
fn canvas_change(cx: &mut Cx<'_>, r: &mut Relay<'_>, key: &str, chname: &str, op: bool, change: CanvasChange) -> bool {
    let Some(prefix) = cx.st.client(cx.conn.id).map(|c| c.prefix()) else { return false };
    let nick = prefix.split('!').next().unwrap_or("").to_string();
    let not_op = "You're not channel operator";
    match change {
        CanvasChange::Clear if !op => {
            cx.num(ERR_CHANOPRIVSNEEDED, &[chname, not_op]);
            false
        }
        CanvasChange::Clear => {
            cx.st.canvas_mut().clear(key, chname);
            true
        }
        CanvasChange::Stroke(id, value) => {
            let line = Line::from(format!("@{}={value} :{prefix} TAGMSG {chname}\r\n", canvas::STROKE_TAG));
            match cx.st.canvas_mut().stroke(key, chname, &prefix, &value, id, line) {
                Ok(()) => true,
                Err(_) => {
                    let text = format!("Invalid canvas stroke: stroke ID {id} belongs to another nick; pick a new ID");
                    cx.num(ERR_UNKNOWNERROR, &["TAGMSG", &text]);
                    false
                }
            }
        }
        CanvasChange::Undo(id) => match cx.st.canvas_mut().undo(key, id, &nick, op) {
            Ok(n) => {
                r.client_tags = format!("{}={id},{n}", canvas::UNDO_TAG);
                true
            }
            Err(Refused::NotYours) => {
                cx.num(ERR_CHANOPRIVSNEEDED, &[chname, not_op]);
                false
            }
            Err(_) => {
                let text = format!(
                    "Cannot undo stroke {id}: it is not kept (folded into the snapshot, cleared, or never drawn)"
                );
                cx.num(ERR_UNKNOWNERROR, &["TAGMSG", &text]);
                false
            }
        },
    }
}
