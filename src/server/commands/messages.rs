//! PRIVMSG, NOTICE and TAGMSG to a channel or a nick, what a TAGMSG does to
//! a channel's canvas, and the burst that fans a run of them out at once.

use std::time::SystemTime;

use super::{Cx, Flow};
use crate::canvas;
use crate::line::{MAX_CLIENT_TAGS, MAX_LINE, Message};
use crate::server::names::fold;
use crate::server::numeric::*;
use crate::server::state::{Caps, Variants};

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
pub struct Burst {
    /// Casefolded channel; empty when nothing is held.
    key: String,
    /// The held lines for each kind of recipient ([`Variants::kind`]).
    runs: [String; 4],
    /// Which kinds the channel's members are, as bits: only those are formatted.
    kinds: u8,
}

impl Burst {
    /// The channel held for, or "" when nothing is held.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Fans the held burst out to the channel's members but this client.
pub fn flush_burst(cx: &mut Cx<'_>) {
    if cx.conn.burst.key.is_empty() {
        return;
    }
    let b = std::mem::take(&mut cx.conn.burst);
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

/// PRIVMSG, NOTICE and TAGMSG to a channel or a nick. NOTICE never gets an
/// error reply but 417, as the RFC asks (no loops between automatons).
fn message(cx: &mut Cx<'_>, cmd: &str, msg: &Message<'_>) -> Flow {
    let notice = cmd == "NOTICE";
    let tagmsg = cmd == "TAGMSG";
    let error = |cx: &Cx<'_>, code, params: &[&str]| {
        if !notice {
            cx.num(code, params);
        }
    };
    let target = msg.param(0);
    if target.is_empty() {
        error(cx, ERR_NORECIPIENT, &[&format!("No recipient given ({cmd})")]);
        return Flow::Continue;
    }
    let text = msg.param(1);
    if !tagmsg && text.is_empty() {
        error(cx, ERR_NOTEXTTOSEND, &["No text to send"]);
        return Flow::Continue;
    }
    let client_tags = client_tags(msg);
    if client_tags.len() > MAX_CLIENT_TAGS {
        cx.num(ERR_INPUTTOOLONG, &["Input line was too long"]);
        return Flow::Continue;
    }
    if tagmsg && client_tags.is_empty() {
        return Flow::Continue;
    }
    let Some(sender) = cx.st.client(cx.conn.id) else { return Flow::Continue };
    let (prefix, caps) = (sender.prefix(), sender.caps);
    let now = SystemTime::now();
    let mut base = String::with_capacity(prefix.len() + target.len() + text.len() + 16);
    base.push(':');
    base.push_str(&prefix);
    base.push(' ');
    base.push_str(cmd);
    base.push(' ');

    if target.starts_with('#') {
        let key = fold(target);
        let Some(ch) = cx.st.channel(&key) else {
            error(cx, ERR_NOSUCHCHANNEL, &[target, "No such channel"]);
            return Flow::Continue;
        };
        if ch.no_external && ch.member(cx.conn.id).is_none() {
            error(cx, ERR_CANNOTSENDTOCHAN, &[&ch.name, "Cannot send to channel"]);
            return Flow::Continue;
        }
        let chname = ch.name.clone();
        base.push_str(&chname);
        let mut canvas_change = None;
        if tagmsg {
            match canvas_tag(msg) {
                Ok(change) => canvas_change = change,
                Err(e) => {
                    cx.num(ERR_UNKNOWNERROR, &["TAGMSG", &format!("Invalid canvas stroke: {e}")]);
                    return Flow::Continue;
                }
            }
        } else {
            base.push_str(" :");
            base.push_str(text);
            if base.len() > MAX_LINE - 2 {
                // With our prefix in front it would not fit a line: refuse, never truncate.
                cx.num(ERR_INPUTTOOLONG, &["Input line was too long"]);
                return Flow::Continue;
            }
            // In the journal before anyone sees it: what was relayed is in history.
            cx.st.journal(&chname, now, &base);
        }
        let mut v = Variants::new(&base, &client_tags, now);
        if tagmsg {
            v = v.tags_only();
        }
        match canvas_change {
            Some(CanvasChange::Clear) => cx.st.canvas_clear(&key),
            Some(CanvasChange::Stroke) => {
                if let Some(line) = v.for_caps(Caps::MESSAGE_TAGS).cloned() {
                    cx.st.canvas_stroke(&key, line, cx.shared.config.canvas_max);
                }
            }
            None => {}
        }
        hold(cx, &key, &mut v);
        if caps.has(Caps::ECHO_MESSAGE)
            && let Some(line) = v.for_caps(caps)
        {
            cx.conn.out.push(line);
        }
    } else {
        let Some(tid) = cx.st.find_nick(target) else {
            error(cx, ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
            return Flow::Continue;
        };
        let Some(tc) = cx.st.client(tid) else { return Flow::Continue };
        base.push_str(&tc.nick);
        if !tagmsg {
            base.push_str(" :");
            base.push_str(text);
            if base.len() > MAX_LINE - 2 {
                cx.num(ERR_INPUTTOOLONG, &["Input line was too long"]);
                return Flow::Continue;
            }
        }
        let mut v = Variants::new(&base, &client_tags, now);
        if tagmsg {
            v = v.tags_only();
        }
        if tid != cx.conn.id || !caps.has(Caps::ECHO_MESSAGE) {
            cx.st.fanout([tid], &mut v);
        }
        if caps.has(Caps::ECHO_MESSAGE)
            && let Some(line) = v.for_caps(caps)
        {
            cx.conn.out.push(line);
        }
        if cmd == "PRIVMSG"
            && let Some(away) = &tc.away
        {
            cx.num(RPL_AWAY, &[&tc.nick, away]);
        }
    }
    if !tagmsg {
        cx.st.spoke(cx.conn.id);
    }
    Flow::Continue
}

/// Adds a channel message to this client's burst (flushed before the lock
/// is released; see [`Burst`]).
fn hold(cx: &mut Cx<'_>, key: &str, v: &mut Variants<'_>) {
    if cx.conn.burst.key != key {
        flush_burst(cx);
    }
    let b = &mut cx.conn.burst;
    if b.key.is_empty() {
        b.key = key.to_string();
        b.kinds =
            cx.st.channel(key).map_or(0, |ch| ch.members.iter().fold(0, |kinds, m| kinds | 1 << Variants::kind(m.caps)));
    }
    for (kind, run) in b.runs.iter_mut().enumerate().filter(|(k, _)| b.kinds & 1 << k != 0) {
        if let Some(line) = v.for_caps(Variants::KINDS[kind]) {
            run.push_str(line);
        }
    }
}

/// The client-only tags of a message (`+name=value`), escaped as received:
/// they are relayed; every other tag a client sends is ours to set.
fn client_tags(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for (k, v) in msg.tags() {
        if k.len() > 1 && k.starts_with('+') && k[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b"-/.".contains(&b))
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
    Stroke,
    Clear,
}

/// What a TAGMSG does to the channel's canvas; an invalid stroke is an error.
fn canvas_tag(msg: &Message<'_>) -> Result<Option<CanvasChange>, canvas::DecodeError> {
    if msg.tag(canvas::CLEAR_TAG).is_some() {
        return Ok(Some(CanvasChange::Clear));
    }
    match msg.tag(canvas::STROKE_TAG) {
        Some(v) => canvas::Stroke::decode(&crate::line::unescape_tag_value(v)).map(|_| Some(CanvasChange::Stroke)),
        None => Ok(None),
    }
}
