//! `draft/chathistory`: CHATHISTORY BEFORE, AFTER, LATEST, AROUND, BETWEEN
//! and TARGETS, answered from the journal's lines kept in memory (the
//! lines a JOIN replays; private messages are not journaled), and the one
//! way a history line is formatted for a client, here and in the JOIN replay.

use super::channels::stamp_plain;
use super::{Cx, Flow};
use crate::clock;
use crate::line::Message;
use crate::server::history::Entry;
use crate::server::names::{fold, valid_nick};
use crate::server::outbox::Line;
use crate::server::state::Caps;

/// Most messages one CHATHISTORY answers (ISUPPORT `CHATHISTORY`); the
/// journal keeps `--history` lines per channel, so fewer may exist.
pub const CHATHISTORY_MAX: usize = 100;

/// A history line as `caps` wants it, in the batch `batch` ("" for none):
/// time and msgid as tags, or the time in the text for a client without server-time.
pub fn entry_line(e: &Entry, caps: Caps, batch: &str) -> Line {
    let time = clock::from_unix_ms(e.time_ms);
    let mut tags = Vec::with_capacity(3);
    if !batch.is_empty() {
        tags.push(format!("batch={batch}"));
    }
    let body = if caps.has(Caps::SERVER_TIME) {
        tags.push(format!("time={}", clock::rfc3339(time)));
        e.line.to_string()
    } else {
        stamp_plain(&e.line, time)
    };
    if caps.has(Caps::MESSAGE_TAGS) {
        tags.push(format!("msgid={:x}", e.id));
    }
    Line::from(if tags.is_empty() { format!("{body}\r\n") } else { format!("@{} {body}\r\n", tags.join(";")) })
}

/// A point in history: `msgid=ID` or `timestamp=YYYY-MM-DDThh:mm:ss.sssZ`.
#[derive(Clone, Copy)]
enum Ref {
    Id(u64),
    Ms(u64),
}

fn parse_ref(s: &str) -> Option<Ref> {
    if let Some(id) = s.strip_prefix("msgid=") {
        return u64::from_str_radix(id, 16).ok().map(Ref::Id);
    }
    let t = clock::parse_rfc3339(s.strip_prefix("timestamp=")?)?;
    Some(Ref::Ms(clock::unix_ms(t)))
}

/// Where `r` falls in `entries` (oldest first): the index of the first entry
/// at or after it, and of the first entry after it.
fn position(entries: &[Entry], r: Ref) -> (usize, usize) {
    match r {
        Ref::Id(id) => (entries.partition_point(|e| e.id < id), entries.partition_point(|e| e.id <= id)),
        Ref::Ms(ms) => (entries.partition_point(|e| e.time_ms < ms), entries.partition_point(|e| e.time_ms <= ms)),
    }
}

/// The subcommands, by the index `chathistory` works with.
const SUBS: [&str; 6] = ["BEFORE", "AFTER", "LATEST", "AROUND", "BETWEEN", "TARGETS"];
const LATEST: usize = 2;
const BETWEEN: usize = 4;
const TARGETS: usize = 5;

pub fn chathistory(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let Some(k) = SUBS.iter().position(|s| s.eq_ignore_ascii_case(msg.param(0))) else {
        fail(cx, "INVALID_PARAMS", &[msg.param(0)], "Unknown CHATHISTORY subcommand");
        return Flow::Continue;
    };
    let sub = SUBS[k];
    let needed = if k == BETWEEN { 5 } else { 4 };
    if msg.params.len() < needed {
        fail(cx, "NEED_MORE_PARAMS", &[sub], "Missing parameters");
        return Flow::Continue;
    }
    let limit = match msg.param(needed - 1).parse::<usize>() {
        Ok(n) if n > 0 => n.min(CHATHISTORY_MAX),
        _ => {
            fail(cx, "INVALID_PARAMS", &[sub, msg.param(needed - 1)], "Invalid limit");
            return Flow::Continue;
        }
    };
    // The references: one, two for BETWEEN and TARGETS, none for `LATEST *`.
    let mut refs = [None; 2];
    for (i, p) in (if k == TARGETS { 1 } else { 2 }..needed - 1).enumerate() {
        refs[i] = parse_ref(msg.param(p));
        if refs[i].is_none() && !(k == LATEST && msg.param(p) == "*") {
            fail(cx, "INVALID_PARAMS", &[sub, msg.param(p)], "Invalid message reference");
            return Flow::Continue;
        }
    }
    let caps = cx.st.client(cx.conn.id).map(|c| c.caps).unwrap_or_default();
    if k == TARGETS {
        let [Some(Ref::Ms(a)), Some(Ref::Ms(b))] = refs else {
            fail(cx, "INVALID_PARAMS", &[sub], "TARGETS takes timestamps");
            return Flow::Continue;
        };
        targets(cx, caps, a.min(b), a.max(b), limit);
        return Flow::Continue;
    }
    let target = msg.param(1);
    let key = fold(target);
    let member = cx.st.channel(&key).is_some_and(|ch| ch.member(cx.conn.id).is_some());
    let entries: Vec<Entry> = if member {
        // Only what is in memory, copied (the lines are shared, not copied).
        cx.st.history().recent(&key).cloned().collect()
    } else if !target.starts_with('#') && valid_nick(target) {
        // Private messages are not journaled: a valid nick has no history.
        Vec::new()
    } else {
        fail(cx, "INVALID_TARGET", &[sub, target], "Messages could not be retrieved");
        return Flow::Continue;
    };
    let e = &entries[..];
    let at = |r: Option<Ref>| r.map_or((0, 0), |r| position(e, r));
    let (a, b) = (at(refs[0]), at(refs[1]));
    // The window [lo, hi) and whether its newest `limit` lines are wanted.
    let (lo, hi, newest) = match k {
        0 => (0, a.0, true),
        1 => (a.1, e.len(), false),
        LATEST => (if refs[0].is_some() { a.1 } else { 0 }, e.len(), true),
        3 => (a.0.saturating_sub(limit / 2), e.len(), false),
        _ if a.1 <= b.0 => (a.1, b.0, false),
        _ => (b.1, a.0.max(b.1), true),
    };
    let w = &e[lo..hi];
    let picked = if newest { &w[w.len().saturating_sub(limit)..] } else { &w[..limit.min(w.len())] };
    let name = cx.st.channel(&key).map_or(target.to_string(), |ch| ch.name.clone());
    let batch = open_batch(cx, caps, &format!("chathistory {name}"));
    for en in picked {
        cx.conn.out.push(&entry_line(en, caps, &batch));
    }
    close_batch(cx, &batch);
    Flow::Continue
}

/// `FAIL CHATHISTORY <code> <params...> :<why>`.
fn fail(cx: &Cx<'_>, code: &str, params: &[&str], why: &str) {
    let mut all = vec!["CHATHISTORY", code];
    all.extend_from_slice(params);
    cx.reply("FAIL", &all, Some(why));
}

/// The channels this client is on whose latest message falls between `from`
/// and `to`, oldest first.
fn targets(cx: &mut Cx<'_>, caps: Caps, from: u64, to: u64, limit: usize) {
    let keys = cx.st.client(cx.conn.id).map(|c| c.channels.clone()).unwrap_or_default();
    let mut found: Vec<(u64, String)> = keys
        .iter()
        .filter_map(|k| {
            let latest = cx.st.history().recent(k).last()?.time_ms;
            let ch = cx.st.channel(k)?;
            (from..=to).contains(&latest).then(|| (latest, ch.name.clone()))
        })
        .collect();
    found.sort();
    found.truncate(limit);
    let batch = open_batch(cx, caps, "draft/chathistory-targets");
    let tag = if batch.is_empty() { String::new() } else { format!("@batch={batch} ") };
    for (ms, name) in found {
        let t = clock::rfc3339(clock::from_unix_ms(ms));
        cx.conn.out.push(&format!("{tag}:{} CHATHISTORY TARGETS {name} {t}\r\n", cx.shared.config.name));
    }
    close_batch(cx, &batch);
}

/// Starts a batch of `kind` when the client takes batches; returns its id ("" for none).
pub fn open_batch(cx: &mut Cx<'_>, caps: Caps, kind: &str) -> String {
    if !caps.has(Caps::BATCH) {
        return String::new();
    }
    cx.conn.batch_seq += 1;
    let id = format!("h{}x{}", cx.conn.id, cx.conn.batch_seq);
    cx.conn.out.push(&format!(":{} BATCH +{id} {kind}\r\n", cx.shared.config.name));
    id
}

pub fn close_batch(cx: &Cx<'_>, id: &str) {
    if !id.is_empty() {
        cx.conn.out.push(&format!(":{} BATCH -{id}\r\n", cx.shared.config.name));
    }
}
