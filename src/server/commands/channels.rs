//! Channels: JOIN (with keys, and history and canvas replay), PART, TOPIC,
//! NAMES and LIST.

use log::info;
use std::time::SystemTime;

use super::chathistory::entry_line;
use super::{Cx, Flow};
use crate::clock;
use crate::line::Message;
use crate::numeric::Numeric;
use crate::numeric::*;
use crate::server::names::{TOPICLEN, fold, valid_channel};
use crate::server::outbox::Line;
use crate::server::state::{Caps, Channel, Flag, JoinError, Member, Topic, Variants};

/// What a JOIN replays after the lock is released: history, then (for a
/// client with message-tags) the canvas, taken and pushed in one piece
/// under the lock when the history is out.
pub struct Replay {
    pub lines: Vec<Line>,
    /// The channel's casefolded name and its name, when the canvas follows.
    pub canvas: Option<(String, String)>,
}

pub fn join(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if msg.param(0) == "0" {
        let keys = cx.st.client(cx.conn.id).map(|c| c.channels.clone()).unwrap_or_default();
        for key in keys {
            cx.st.part(cx.conn.id, &key, "Left all channels");
        }
        return Flow::Continue;
    }
    let mut replays = Vec::new();
    let mut keys = msg.param(1).split(',');
    for name in msg.param(0).split(',') {
        // Keys pair with channels by position, an empty one included.
        let given = keys.next().unwrap_or("");
        if name.is_empty() {
            continue;
        }
        if !valid_channel(name) {
            cx.num(ERR_BADCHANMASK, &[name, "Bad Channel Mask"]);
            continue;
        }
        if let Some((code, why)) = refused(cx, &fold(name), given) {
            cx.num(code, &[name, why]);
            continue;
        }
        let key = match cx.st.join(cx.conn.id, name, cx.shared.config.max_channels) {
            Ok(key) => key,
            Err(JoinError::AlreadyOn) => continue,
            Err(JoinError::TooManyChannels) => {
                cx.num(ERR_TOOMANYCHANNELS, &[name, "You have joined too many channels"]);
                continue;
            }
        };
        info!("{}: joined {name}", cx.conn.peer);
        send_topic(cx, &key, true);
        send_names(cx, &key);
        replays.push(replay(cx, &key));
    }
    if replays.iter().all(|r| r.lines.is_empty() && r.canvas.is_none()) {
        Flow::Continue
    } else {
        Flow::Replay(replays)
    }
}

/// Why this client may not join the channel `key` with the key `given`,
/// if it may not. Server operators always may; an invitation passes `+i`.
fn refused(cx: &Cx<'_>, key: &str, given: &str) -> Option<(Numeric, &'static str)> {
    let ch = cx.st.channel(key)?;
    let c = cx.st.client(cx.conn.id)?;
    if c.oper || ch.member(cx.conn.id).is_some() {
        return None;
    }
    let invited = ch.invited.contains(&cx.conn.id);
    if ch.banned(&c.prefix()) {
        Some((ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"))
    } else if ch.has(Flag::InviteOnly) && !invited {
        Some((ERR_INVITEONLYCHAN, "Cannot join channel (+i)"))
    } else if ch.key.as_deref().is_some_and(|k| k != given) {
        Some((ERR_BADCHANNELKEY, "Cannot join channel (+k)"))
    } else if ch.limit.is_some_and(|l| ch.members.len() >= l) {
        Some((ERR_CHANNELISFULL, "Cannot join channel (+l)"))
    } else {
        None
    }
}

/// The kept history of a channel for this client's capabilities; the canvas follows.
fn replay(cx: &mut Cx<'_>, key: &str) -> Replay {
    let caps = cx.st.client(cx.conn.id).map(|c| c.caps).unwrap_or_default();
    let Some(ch) = cx.st.channel(key) else {
        return Replay { lines: Vec::new(), canvas: None };
    };
    let mut lines = Vec::new();
    let mut entries = cx.st.history().recent(key).peekable();
    if entries.peek().is_some() {
        let name = &cx.shared.config.name;
        let mut batch = String::new();
        if caps.has(Caps::BATCH) && caps.has(Caps::SERVER_TIME) {
            cx.conn.batch_seq += 1;
            batch = format!("h{}x{}", cx.conn.id, cx.conn.batch_seq);
            lines.push(Line::from(format!(":{name} BATCH +{batch} chathistory {}\r\n", ch.name)));
        }
        lines.extend(entries.map(|e| entry_line(e, caps, &batch)));
        if !batch.is_empty() {
            lines.push(Line::from(format!(":{name} BATCH -{batch}\r\n")));
        }
    }
    let canvas = caps.has(Caps::MESSAGE_TAGS).then(|| (key.to_string(), ch.name.clone()));
    Replay { lines, canvas }
}

pub fn part(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let reason = msg.param(1);
    for name in msg.param(0).split(',').filter(|n| !n.is_empty()) {
        let key = fold(name);
        match cx.st.channel(&key) {
            None => cx.num(ERR_NOSUCHCHANNEL, &[name, "No such channel"]),
            Some(ch) if ch.member(cx.conn.id).is_none() => {
                cx.num(ERR_NOTONCHANNEL, &[&ch.name, "You're not on that channel"])
            }
            Some(_) => {
                cx.st.part(cx.conn.id, &key, reason);
                info!("{}: left {name}", cx.conn.peer);
            }
        }
    }
    Flow::Continue
}

/// 332 and 333; without a topic, 331 to TOPIC but nothing on JOIN (clients
/// would print "No topic is set" on every join).
fn send_topic(cx: &Cx<'_>, key: &str, joining: bool) {
    let Some(ch) = cx.st.channel(key) else { return };
    match &ch.topic {
        Some(t) => {
            cx.num(RPL_TOPIC, &[&ch.name, &t.text]);
            cx.num_plain(RPL_TOPICWHOTIME, &[&ch.name, &t.setter, &t.time.to_string()]);
        }
        None if !joining => cx.num(RPL_NOTOPIC, &[&ch.name, "No topic is set"]),
        None => {}
    }
}

/// Whether this client sees inside the channel: a member or a server operator.
pub fn inside(cx: &Cx<'_>, ch: &Channel) -> bool {
    ch.member(cx.conn.id).is_some() || cx.st.client(cx.conn.id).is_some_and(|c| c.oper)
}

/// A member's prefixes: `@`, `+`, or with multi-prefix both.
pub fn prefixes(m: &Member, caps: Caps) -> &'static str {
    match (m.op, m.voice) {
        (true, true) if caps.has(Caps::MULTI_PREFIX) => "@+",
        (true, _) => "@",
        (false, true) => "+",
        _ => "",
    }
}

/// 353s and 366. Outsiders see nothing of a secret (`+s`) channel, and not
/// its invisible (`+i`) members.
fn send_names(cx: &Cx<'_>, key: &str) {
    let Some(ch) = cx.st.channel(key) else { return };
    let caps = cx.st.client(cx.conn.id).map(|c| c.caps).unwrap_or_default();
    let inside = inside(cx, ch);
    let symbol = if ch.has(Flag::Secret) { "@" } else { "=" };
    let mut names = String::new();
    for m in ch.members.iter().filter(|_| inside || !ch.has(Flag::Secret)) {
        let Some(c) = cx.st.client(m.id).filter(|c| inside || !c.invisible) else { continue };
        if names.len() > 350 {
            cx.num(RPL_NAMREPLY, &[symbol, &ch.name, &names]);
            names.clear();
        }
        if !names.is_empty() {
            names.push(' ');
        }
        names.push_str(prefixes(m, caps));
        if caps.has(Caps::USERHOST_IN_NAMES) {
            names.push_str(&c.prefix());
        } else {
            names.push_str(&c.nick);
        }
    }
    if !names.is_empty() {
        cx.num(RPL_NAMREPLY, &[symbol, &ch.name, &names]);
    }
    cx.num(RPL_ENDOFNAMES, &[&ch.name, "End of /NAMES list"]);
}

pub fn names(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let target = msg.param(0);
    if target.is_empty() {
        // Without a channel: the client's own channels, as most servers do.
        let keys = cx.st.client(cx.conn.id).map(|c| c.channels.clone()).unwrap_or_default();
        for key in keys {
            send_names(cx, &key);
        }
        cx.num(RPL_ENDOFNAMES, &["*", "End of /NAMES list"]);
        return Flow::Continue;
    }
    for name in target.split(',').filter(|n| !n.is_empty()) {
        let key = fold(name);
        if cx.st.channel(&key).is_some() {
            send_names(cx, &key);
        } else {
            cx.num(RPL_ENDOFNAMES, &[name, "End of /NAMES list"]);
        }
    }
    Flow::Continue
}

pub fn list(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let wanted: Vec<String> = msg.param(0).split(',').filter(|n| !n.is_empty()).map(fold).collect();
    cx.num(RPL_LISTSTART, &["Channel", "Users  Name"]);
    let mut chans: Vec<&Channel> = cx.st.channels().collect();
    chans.sort_by(|a, b| a.name.cmp(&b.name));
    for ch in chans {
        if (!ch.has(Flag::Secret) || inside(cx, ch)) && (wanted.is_empty() || wanted.contains(&fold(&ch.name))) {
            let topic = ch.topic.as_ref().map_or("", |t| t.text.as_str());
            cx.num(RPL_LIST, &[&ch.name, &ch.members.len().to_string(), topic]);
        }
    }
    cx.num(RPL_LISTEND, &["End of /LIST"]);
    Flow::Continue
}

pub fn topic(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let key = fold(msg.param(0));
    // A secret channel does not exist for those outside it.
    let Some(ch) = cx.st.channel(&key).filter(|ch| !ch.has(Flag::Secret) || inside(cx, ch)) else {
        cx.num(ERR_NOSUCHCHANNEL, &[msg.param(0), "No such channel"]);
        return Flow::Continue;
    };
    if msg.params.len() < 2 {
        send_topic(cx, &key, false);
        return Flow::Continue;
    }
    let oper = cx.st.client(cx.conn.id).is_some_and(|c| c.oper);
    match ch.member(cx.conn.id) {
        None if !oper => {
            cx.num(ERR_NOTONCHANNEL, &[&ch.name, "You're not on that channel"]);
            return Flow::Continue;
        }
        Some(false) if ch.has(Flag::TopicLock) && !oper => {
            cx.num(ERR_CHANOPRIVSNEEDED, &[&ch.name, "You're not channel operator"]);
            return Flow::Continue;
        }
        _ => {}
    }
    let chname = ch.name.clone();
    let prefix = cx.prefix();
    let text: String = msg.param(1).chars().take(TOPICLEN).collect();
    let now = SystemTime::now();
    let topic = (!text.is_empty()).then(|| Topic {
        text: text.clone(),
        setter: prefix.clone(),
        time: clock::unix_ms(now) / 1000,
    });
    cx.st.set_topic(&key, topic);
    let line = format!(":{prefix} TOPIC {chname} :{text}");
    cx.st.fanout_channel(&key, None, &mut Variants::new(&line, "", now));
    Flow::Continue
}

/// A history line for a client without server-time: `[HH:MM] ` before the
/// text (inside a CTCP ACTION, after its verb).
pub(super) fn stamp_plain(line: &str, time: SystemTime) -> String {
    let hhmm = clock::local_hhmm(time);
    let Some(idx) = line.find(" :") else {
        return line.to_string();
    };
    let (head, text) = (&line[..idx], &line[idx + 2..]);
    match text.strip_prefix("\u{1}ACTION ") {
        Some(rest) => format!("{head} :\u{1}ACTION [{hhmm}] {rest}"),
        None => format!("{head} :[{hhmm}] {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_history_gets_a_time_prefix() {
        let t = clock::from_unix_ms(0);
        let hhmm = clock::local_hhmm(t);
        assert_eq!(stamp_plain(":a!b@c PRIVMSG #x :hi", t), format!(":a!b@c PRIVMSG #x :[{hhmm}] hi"));
        assert_eq!(
            stamp_plain(":a!b@c PRIVMSG #x :\u{1}ACTION waves\u{1}", t),
            format!(":a!b@c PRIVMSG #x :\u{1}ACTION [{hhmm}] waves\u{1}")
        );
    }
}
