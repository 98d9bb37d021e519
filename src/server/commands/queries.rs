//! Queries about users and the server: PING, PONG, MOTD, LUSERS, VERSION,
//! TIME, USERHOST, ISON, AWAY, WHO and WHOIS.

use std::time::SystemTime;

use super::{Cx, Flow, VERSION};
use crate::clock;
use crate::line::Message;
use crate::numeric::*;
use crate::server::names::{AWAYLEN, fold};
use crate::server::state::{Client, Member};

pub fn ping(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if msg.params.is_empty() {
        cx.num(ERR_NOORIGIN, &["No origin specified"]);
        return Flow::Continue;
    }
    // The token back as it came: a middle parameter when it can be one.
    let (name, token) = (cx.shared.config.name.as_str(), msg.param(0));
    if token.is_empty() || token.contains(' ') || token.starts_with(':') {
        cx.reply("PONG", &[name], Some(token));
    } else {
        cx.reply("PONG", &[name, token], None);
    }
    Flow::Continue
}

pub fn pong(_cx: &mut Cx<'_>, _msg: &Message<'_>) -> Flow {
    Flow::Continue
}

pub fn motd(cx: &mut Cx<'_>, _msg: &Message<'_>) -> Flow {
    send_motd(cx);
    Flow::Continue
}

pub fn send_motd(cx: &Cx<'_>) {
    let name = &cx.shared.config.name;
    // With TLS, its port and fingerprint close the MOTD: how to check the certificate.
    let tls = cx.shared.tls.as_ref().map(|t| format!("TLS on port {}, certificate SHA-256 {}", t.port, t.fingerprint));
    if cx.shared.motd.is_none() && tls.is_none() {
        cx.num(ERR_NOMOTD, &["MOTD File is missing"]);
        return;
    }
    cx.num(RPL_MOTDSTART, &[&format!("- {name} Message of the day - ")]);
    for l in cx.shared.motd.iter().flat_map(|text| text.lines()).chain(tls.as_deref()) {
        let l: String = l.chars().filter(|c| !c.is_control()).take(400).collect();
        cx.num(RPL_MOTD, &[&format!("- {l}")]);
    }
    cx.num(RPL_ENDOFMOTD, &["End of /MOTD command."]);
}

pub fn lusers(cx: &mut Cx<'_>, _msg: &Message<'_>) -> Flow {
    send_lusers(cx);
    Flow::Continue
}

pub fn send_lusers(cx: &Cx<'_>) {
    let users = cx.st.user_count();
    let unknown = cx.st.client_count() - users;
    cx.num(RPL_LUSERCLIENT, &[&format!("There are {users} users and 0 invisible on 1 servers")]);
    if unknown > 0 {
        cx.num(RPL_LUSERUNKNOWN, &[&unknown.to_string(), "unknown connection(s)"]);
    }
    cx.num(RPL_LUSERCHANNELS, &[&cx.st.channel_count().to_string(), "channels formed"]);
    cx.num(RPL_LUSERME, &[&format!("I have {users} clients and 0 servers")]);
}

pub fn version(cx: &mut Cx<'_>, _msg: &Message<'_>) -> Flow {
    cx.num(RPL_VERSION, &[VERSION, &cx.shared.config.name, "lanchat LAN chat appliance"]);
    Flow::Continue
}

pub fn time(cx: &mut Cx<'_>, _msg: &Message<'_>) -> Flow {
    cx.num(RPL_TIME, &[&cx.shared.config.name, &clock::rfc3339(SystemTime::now())]);
    Flow::Continue
}

pub fn userhost(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let st = &*cx.st;
    let replies: Vec<String> = msg
        .params
        .iter()
        .take(5)
        .filter_map(|n| st.find_nick(n).and_then(|id| st.client(id)))
        .map(|c| format!("{}={}{}@{}", c.nick, if c.away.is_some() { '-' } else { '+' }, c.user, c.host))
        .collect();
    cx.num(RPL_USERHOST, &[&replies.join(" ")]);
    Flow::Continue
}

pub fn ison(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let st = &*cx.st;
    let on: Vec<&str> = msg
        .params
        .iter()
        .flat_map(|p| p.split(' '))
        .filter_map(|n| st.find_nick(n).and_then(|id| st.client(id)))
        .map(|c| c.nick.as_str())
        .collect();
    cx.num(RPL_ISON, &[&on.join(" ")]);
    Flow::Continue
}

pub fn away(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let text: String = msg.param(0).chars().take(AWAYLEN).collect();
    if text.is_empty() {
        cx.st.set_away(cx.conn.id, None);
        cx.num(RPL_UNAWAY, &["You are no longer marked as being away"]);
    } else {
        cx.st.set_away(cx.conn.id, Some(text));
        cx.num(RPL_NOWAWAY, &["You have been marked as being away"]);
    }
    Flow::Continue
}

pub fn who(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let mask = msg.param(0);
    let name = &cx.shared.config.name;
    let row = |chan: &str, c: &Client, op: bool| {
        let flags = format!("{}{}", if c.away.is_some() { 'G' } else { 'H' }, if op { "@" } else { "" });
        let last = format!("0 {}", c.realname);
        cx.num(RPL_WHOREPLY, &[chan, &c.user, &c.host, name, &c.nick, &flags, &last]);
    };
    if let Some(ch) = cx.st.channel(&fold(mask)) {
        for Member { id, op, .. } in &ch.members {
            if let Some(c) = cx.st.client(*id) {
                row(&ch.name, c, *op);
            }
        }
    } else if let Some(c) = cx.st.find_nick(mask).and_then(|id| cx.st.client(id)) {
        row("*", c, false);
    }
    cx.num(RPL_ENDOFWHO, &[mask, "End of /WHO list"]);
    Flow::Continue
}

pub fn whois(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    // WHOIS [server] nick: the nick is the last parameter.
    let Some(target) = msg.params.last().copied().filter(|t| !t.is_empty()) else {
        cx.num(ERR_NONICKNAMEGIVEN, &["No nickname given"]);
        return Flow::Continue;
    };
    let st = &*cx.st;
    let Some((id, c)) = st.find_nick(target).and_then(|id| st.client(id).map(|c| (id, c))) else {
        cx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        cx.num(RPL_ENDOFWHOIS, &[target, "End of /WHOIS list"]);
        return Flow::Continue;
    };
    let nick = c.nick.as_str();
    cx.num(RPL_WHOISUSER, &[nick, &c.user, &c.host, "*", &c.realname]);
    let chans: Vec<String> = c
        .channels
        .iter()
        .filter_map(|k| st.channel(k))
        .map(|ch| format!("{}{}", if ch.member(id) == Some(true) { "@" } else { "" }, ch.name))
        .collect();
    if !chans.is_empty() {
        cx.num(RPL_WHOISCHANNELS, &[nick, &chans.join(" ")]);
    }
    cx.num(RPL_WHOISSERVER, &[nick, &cx.shared.config.name, "lanchat LAN chat appliance"]);
    if let Some(away) = &c.away {
        cx.num(RPL_AWAY, &[nick, away]);
    }
    let idle = c.last_spoke.elapsed().as_secs().to_string();
    cx.num(RPL_WHOISIDLE, &[nick, &idle, &c.signon.to_string(), "seconds idle, signon time"]);
    cx.num(RPL_ENDOFWHOIS, &[nick, "End of /WHOIS list"]);
    Flow::Continue
}
