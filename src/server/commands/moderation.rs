//! Running a channel: KICK and INVITE (modes are in [`super::modes`]).

use super::modes::is_oper;
use super::{Cx, Flow};
use crate::line::Message;
use crate::numeric::*;
use crate::server::names::{KICKLEN, fold};
use crate::server::state::{Caps, Flag, Variants};

/// `KICK #chan nick[,nick...] [:reason]`: by a channel or server operator.
pub fn kick(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let key = fold(msg.param(0));
    let Some(ch) = cx.st.channel(&key) else {
        cx.num(ERR_NOSUCHCHANNEL, &[msg.param(0), "No such channel"]);
        return Flow::Continue;
    };
    let chname = ch.name.clone();
    if !is_oper(cx) {
        match ch.member(cx.conn.id) {
            None => {
                cx.num(ERR_NOTONCHANNEL, &[&chname, "You're not on that channel"]);
                return Flow::Continue;
            }
            Some(false) => {
                cx.num(ERR_CHANOPRIVSNEEDED, &[&chname, "You're not channel operator"]);
                return Flow::Continue;
            }
            Some(true) => {}
        }
    }
    let prefix = cx.prefix();
    let mut reason = match msg.param(2) {
        "" => cx.st.nick(cx.conn.id).to_string(),
        r => r.to_string(),
    };
    while reason.len() > KICKLEN {
        reason.pop();
    }
    for who in msg.param(1).split(',').filter(|n| !n.is_empty()) {
        let Some(tid) = cx.st.find_nick(who) else {
            cx.num(ERR_NOSUCHNICK, &[who, "No such nick/channel"]);
            continue;
        };
        if cx.st.channel(&key).and_then(|ch| ch.member(tid)).is_none() {
            cx.num(ERR_USERNOTINCHANNEL, &[who, &chname, "They aren't on that channel"]);
            continue;
        }
        cx.st.kick(&key, tid, &prefix, &reason);
        log::info!("{}: kicked {who} from {chname}", cx.conn.peer);
    }
    Flow::Continue
}

/// `INVITE nick #chan`: lets `nick` join past `+i`; members with the
/// invite-notify capability are told.
pub fn invite(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let (nick, chan) = (msg.param(0), msg.param(1));
    let Some(tid) = cx.st.find_nick(nick) else {
        cx.num(ERR_NOSUCHNICK, &[nick, "No such nick/channel"]);
        return Flow::Continue;
    };
    let key = fold(chan);
    let Some(ch) = cx.st.channel(&key) else {
        cx.num(ERR_NOSUCHCHANNEL, &[chan, "No such channel"]);
        return Flow::Continue;
    };
    let chname = ch.name.clone();
    if !is_oper(cx) {
        match ch.member(cx.conn.id) {
            None => {
                cx.num(ERR_NOTONCHANNEL, &[&chname, "You're not on that channel"]);
                return Flow::Continue;
            }
            Some(false) if ch.has(Flag::InviteOnly) => {
                cx.num(ERR_CHANOPRIVSNEEDED, &[&chname, "You're not channel operator"]);
                return Flow::Continue;
            }
            _ => {}
        }
    }
    let tnick = cx.st.nick(tid).to_string();
    if ch.member(tid).is_some() {
        cx.num(ERR_USERONCHANNEL, &[&tnick, &chname, "is already on channel"]);
        return Flow::Continue;
    }
    let notify: Vec<_> =
        ch.members.iter().filter(|m| m.id != cx.conn.id && m.caps.has(Caps::INVITE_NOTIFY)).map(|m| m.id).collect();
    cx.st.invite(&key, tid);
    cx.num_plain(RPL_INVITING, &[&tnick, &chname]);
    let line = format!(":{} INVITE {tnick} {chname}", cx.prefix());
    let mut v = Variants::new(&line, "", std::time::SystemTime::now());
    cx.st.fanout(notify.into_iter().chain([tid]), &mut v);
    if let Some(away) = cx.st.client(tid).and_then(|c| c.away.as_deref()) {
        cx.num(RPL_AWAY, &[&tnick, away]);
    }
    Flow::Continue
}
