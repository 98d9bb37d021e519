//! Queries about users and the server: PING, PONG, MOTD, LUSERS, VERSION,
//! TIME, USERHOST, ISON, AWAY, WHO (with WHOX), WHOIS and WHOWAS.

use std::time::SystemTime;

use super::channels;
use super::{Cx, Flow, VERSION};
use crate::clock;
use crate::line::Message;
use crate::numeric::*;
use crate::server::names::{AWAYLEN, fold, mask_match};
use crate::server::state::{Caps, Client, Flag, Member};

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
    let (invisible, opers) = cx.st.invisible_and_opers();
    let visible = users - invisible;
    cx.num(RPL_LUSERCLIENT, &[&format!("There are {visible} users and {invisible} invisible on 1 servers")]);
    if opers > 0 {
        cx.num(RPL_LUSEROP, &[&opers.to_string(), "operator(s) online"]);
    }
    if unknown > 0 {
        cx.num(RPL_LUSERUNKNOWN, &[&unknown.to_string(), "unknown connection(s)"]);
    }
    cx.num(RPL_LUSERCHANNELS, &[&cx.st.channel_count().to_string(), "channels formed"]);
    cx.num(RPL_LUSERME, &[&format!("I have {users} clients and 0 servers")]);
    let (n, max) = (users.to_string(), cx.st.max_users().to_string());
    cx.num(RPL_LOCALUSERS, &[&n, &max, &format!("Current local users {n}, max {max}")]);
    cx.num(RPL_GLOBALUSERS, &[&n, &max, &format!("Current global users {n}, max {max}")]);
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
        .map(|c| format!("{}={}{}@{}", c.nick, if c.away.is_some() { '-' } else { '+' }, c.user, c.host()))
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

/// Most users a WHO with a mask lists.
const WHO_MAX: usize = 500;

/// `WHO mask [%fields[,token]]`: the members of a channel, or the clients
/// whose nick, user, host or realname match a mask (`*`, `nick*`,
/// `*.host`); with `%fields`, WHOX replies (354) with those fields.
/// Outsiders see nothing of a secret channel, and no invisible client
/// they share no channel with.
pub fn who(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let mask = match msg.param(0) {
        "" | "0" => "*",
        m => m,
    };
    let whox = msg.param(1).strip_prefix('%').map(|f| f.split_once(',').unwrap_or((f, "0")));
    let me = cx.conn.id;
    let (my_caps, oper) = cx.st.client(me).map_or((Caps::default(), false), |c| (c.caps, c.oper));
    // (channel, client, membership) per row.
    let mut rows: Vec<(&str, &Client, Option<&Member>)> = Vec::new();
    if mask.starts_with('#') {
        if let Some(ch) = cx.st.channel(&fold(mask)) {
            let inside = channels::inside(cx, ch);
            for m in ch.members.iter().filter(|_| inside || !ch.has(Flag::Secret)) {
                if let Some(c) = cx.st.client(m.id).filter(|c| inside || !c.invisible) {
                    rows.push((&ch.name, c, Some(m)));
                }
            }
        }
    } else {
        let near = cx.st.neighbours(me);
        for (id, c) in cx.st.clients().filter(|(_, c)| c.registered) {
            let seen = !c.invisible || oper || id == me || near.contains(&id);
            if seen && [&*c.nick, &c.user, &c.host(), &c.realname].iter().any(|f| mask_match(mask, f)) {
                rows.push(("*", c, None));
            }
        }
        rows.sort_by(|a, b| a.1.nick.cmp(&b.1.nick));
        // `WHO *` on a full server must not overflow the asker's queue.
        rows.truncate(WHO_MAX);
    }
    let server = cx.shared.config.name.as_str();
    for (chan, c, m) in rows {
        let host = c.host();
        let mut flags = String::from(if c.away.is_some() { "G" } else { "H" });
        if c.oper {
            flags.push('*');
        }
        flags.push_str(m.map_or("", |m| channels::prefixes(m, my_caps)));
        let Some((fields, token)) = whox else {
            let last = format!("0 {}", c.realname);
            cx.num(RPL_WHOREPLY, &[chan, &c.user, &host, server, &c.nick, &flags, &last]);
            continue;
        };
        let (ip, idle) = (c.ip.to_string(), c.last_spoke.elapsed().as_secs().to_string());
        let mut out: Vec<&str> = Vec::new();
        // The fields in WHOX's fixed order, whatever order they were asked in.
        for f in "tcuihsnfdlaor".chars().filter(|f| fields.contains(*f)) {
            out.push(match f {
                't' => token,
                'c' => chan,
                'u' => &c.user,
                'i' => &ip,
                'h' => &host,
                's' => server,
                'n' => &c.nick,
                'f' => &flags,
                'd' => "0",
                'l' => &idle,
                'a' => "0",
                'o' => "n/a",
                _ => &c.realname,
            });
        }
        cx.num(RPL_WHOSPCRPL, &out);
    }
    cx.num(RPL_ENDOFWHO, &[mask, "End of /WHO list"]);
    Flow::Continue
}

/// `WHOWAS nick[,nick] [count]`: what is remembered of nicks that left or changed.
pub fn whowas(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if msg.param(0).is_empty() {
        cx.num(ERR_NONICKNAMEGIVEN, &["No nickname given"]);
        return Flow::Continue;
    }
    let count = msg.param(1).parse::<usize>().ok().filter(|n| *n > 0).unwrap_or(usize::MAX);
    let server = cx.shared.config.name.as_str();
    for nick in msg.param(0).split(',').filter(|n| !n.is_empty()) {
        let mut any = false;
        for g in cx.st.whowas(nick).take(count) {
            any = true;
            cx.num(RPL_WHOWASUSER, &[&g.nick, &g.user, &g.host, "*", &g.realname]);
            cx.num(RPL_WHOISSERVER, &[&g.nick, server, &clock::readable_utc(clock::from_unix_ms(g.time * 1000))]);
        }
        if !any {
            cx.num(ERR_WASNOSUCHNICK, &[nick, "There was no such nickname"]);
        }
        cx.num(RPL_ENDOFWHOWAS, &[nick, "End of WHOWAS"]);
    }
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
    cx.num(RPL_WHOISUSER, &[nick, &c.user, &c.host(), "*", &c.realname]);
    let me = cx.conn.id;
    let chans: Vec<String> = c
        .channels
        .iter()
        .filter_map(|k| st.channel(k))
        .filter(|ch| id == me || !ch.has(Flag::Secret) || channels::inside(cx, ch))
        .filter_map(|ch| Some(format!("{}{}", channels::prefixes(ch.get(id)?, Caps::default()), ch.name)))
        .collect();
    if !chans.is_empty() {
        cx.num(RPL_WHOISCHANNELS, &[nick, &chans.join(" ")]);
    }
    cx.num(RPL_WHOISSERVER, &[nick, &cx.shared.config.name, "lanchat LAN chat appliance"]);
    if c.oper {
        cx.num(RPL_WHOISOPERATOR, &[nick, "is an IRC operator"]);
    }
    if c.secure {
        cx.num(RPL_WHOISSECURE, &[nick, "is using a secure connection"]);
    }
    if let Some(away) = &c.away {
        cx.num(RPL_AWAY, &[nick, away]);
    }
    let idle = c.last_spoke.elapsed().as_secs().to_string();
    cx.num(RPL_WHOISIDLE, &[nick, &idle, &c.signon.to_string(), "seconds idle, signon time"]);
    cx.num(RPL_ENDOFWHOIS, &[nick, "End of /WHOIS list"]);
    Flow::Continue
}
