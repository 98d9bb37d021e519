//! Registration: CAP negotiation, PASS, NICK, USER and QUIT, and the welcome burst.

use std::time::SystemTime;

use log::info;

use super::{Cx, Flow, VERSION};
use crate::clock;
use crate::line::Message;
use crate::numeric::*;
use crate::server::names::{AWAYLEN, CHANNELLEN, KICKLEN, NICKLEN, TOPICLEN, USERLEN, valid_nick};
use crate::server::state::{Caps, MAXLIST, MONITOR_MAX};

use super::chathistory::CHATHISTORY_MAX;
use super::modes::{KEYLEN, MODES};
use crate::server::state::Variants;

pub fn cap(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let id = cx.conn.id;
    let nick = cx.st.nick(id).to_string();
    let sub = msg.param(0).to_ascii_uppercase();
    match sub.as_str() {
        "LS" => {
            if !cx.conn.registered {
                cx.conn.cap_negotiating = true;
            }
            let all: Vec<&str> = Caps::ALL.iter().map(|(n, _)| *n).collect();
            cx.reply("CAP", &[&nick, "LS"], Some(&all.join(" ")));
            // CAP LS 302 enables cap-notify by itself (our caps never change,
            // so it never brings a CAP NEW or DEL).
            if msg.param(1).parse::<u32>().is_ok_and(|v| v >= 302)
                && let Some(c) = cx.st.client(id)
            {
                cx.st.set_caps(id, Caps(c.caps.0 | Caps::CAP_NOTIFY.0));
            }
        }
        "LIST" => {
            let caps = cx.st.client(id).map(|c| c.caps).unwrap_or_default();
            cx.reply("CAP", &[&nick, "LIST"], Some(&caps.names()));
        }
        "REQ" => {
            if !cx.conn.registered {
                cx.conn.cap_negotiating = true;
            }
            let wanted = msg.param(1);
            let mut add = Caps::default();
            let mut remove = Caps::default();
            let mut ok = !wanted.trim().is_empty();
            for w in wanted.split(' ').filter(|w| !w.is_empty()) {
                let (neg, n) = match w.strip_prefix('-') {
                    Some(n) => (true, n),
                    None => (false, w),
                };
                match Caps::by_name(n) {
                    Some(c) if neg => remove.0 |= c.0,
                    Some(c) => add.0 |= c.0,
                    None => ok = false,
                }
            }
            if ok && let Some(c) = cx.st.client(id) {
                let caps = Caps((c.caps.0 | add.0) & !remove.0);
                cx.st.set_caps(id, caps);
            }
            cx.reply("CAP", &[&nick, if ok { "ACK" } else { "NAK" }], Some(wanted.trim()));
        }
        "END" => {
            cx.conn.cap_negotiating = false;
            try_register(cx);
        }
        _ => {
            let sub = if sub.is_empty() { "*" } else { msg.param(0) };
            cx.num(ERR_INVALIDCAPCMD, &[sub, "Invalid CAP command"]);
        }
    }
    Flow::Continue
}

pub fn pass(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if cx.conn.registered {
        cx.num(ERR_ALREADYREGISTERED, &["You may not reregister"]);
        return Flow::Continue;
    }
    if let Some(want) = &cx.shared.config.password {
        cx.conn.pass_ok = constant_time_eq(msg.param(0).as_bytes(), want.as_bytes());
    }
    let noted = cx.st.nick(cx.conn.id).to_string();
    if cx.conn.pass_ok && cx.st.claim_nick(cx.conn.id).is_err() {
        // The nick noted before the password was taken meanwhile.
        cx.num(ERR_NICKNAMEINUSE, &[&noted, "Nickname is already in use"]);
    }
    Flow::Continue
}

pub fn user(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if cx.conn.registered || cx.conn.got_user {
        cx.num(ERR_ALREADYREGISTERED, &["You may not reregister"]);
        return Flow::Continue;
    }
    if msg.param(0).is_empty() || msg.param(3).is_empty() {
        cx.need_more_params("USER");
        return Flow::Continue;
    }
    let user: String = msg
        .param(0)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.[]{}|^`\\".contains(*c))
        .take(USERLEN)
        .collect();
    let user = if user.is_empty() { "user".to_string() } else { user };
    cx.st.set_user(cx.conn.id, user, msg.param(3).chars().take(REALNAMELEN).collect());
    cx.conn.got_user = true;
    try_register(cx);
    Flow::Continue
}

pub fn nick(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let new = msg.param(0);
    if new.is_empty() {
        cx.num(ERR_NONICKNAMEGIVEN, &["No nickname given"]);
        return Flow::Continue;
    }
    if !valid_nick(new) {
        cx.num(ERR_ERRONEUSNICKNAME, &[new, "Erroneous nickname"]);
        return Flow::Continue;
    }
    if cx.st.nick(cx.conn.id) == new {
        return Flow::Continue;
    }
    // Before the password, a nick is noted but not reserved: someone
    // without the password must not keep the members from their nicks.
    match cx.st.set_nick(cx.conn.id, new, cx.conn.pass_ok) {
        Err(_) => cx.num(ERR_NICKNAMEINUSE, &[new, "Nickname is already in use"]),
        Ok(old) if cx.conn.registered => info!("{}: {old} is now {new}", cx.conn.peer),
        Ok(_) => try_register(cx),
    }
    Flow::Continue
}

/// Longest realname, from USER or SETNAME.
const REALNAMELEN: usize = 100;

/// SETNAME: a new realname, told to this client and everyone sharing a
/// channel with it who has the setname capability.
pub fn setname(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let name = msg.param(0);
    if name.is_empty() || name.chars().count() > REALNAMELEN {
        cx.reply("FAIL", &["SETNAME", "INVALID_REALNAME"], Some("Realname is not valid"));
        return Flow::Continue;
    }
    let id = cx.conn.id;
    cx.st.set_realname(id, name.to_string());
    let line = format!(":{} SETNAME :{name}", cx.prefix());
    let mut to = cx.st.neighbours(id);
    to.push(id);
    cx.st.fanout(to, &mut Variants::new(&line, "", SystemTime::now()).only_for(Caps::SETNAME));
    Flow::Continue
}

pub fn quit(_cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let text = msg.param(0);
    Flow::Quit(if text.is_empty() { "Quit".into() } else { format!("Quit: {text}") })
}

/// PASS must come before registration completes: once NICK and USER (and
/// CAP END) are in without the right one, the connection ends.
pub fn password_refused(cx: &Cx<'_>) -> bool {
    let c = &cx.conn;
    if c.registered || c.pass_ok || !c.got_user || c.cap_negotiating || cx.st.nick(c.id) == "*" {
        return false;
    }
    cx.num(ERR_PASSWDMISMATCH, &["Password incorrect"]);
    true
}

/// Completes registration once NICK, USER (and CAP END, PASS) are in.
fn try_register(cx: &mut Cx<'_>) {
    let c = &cx.conn;
    if c.registered || !c.got_user || c.cap_negotiating || !c.pass_ok || cx.st.nick(c.id) == "*" {
        return;
    }
    cx.conn.registered = true;
    cx.st.register(cx.conn.id, SystemTime::now());
    let prefix = cx.prefix();
    info!("{}: registered as {prefix}", cx.conn.peer);
    let cfg = &cx.shared.config;
    let name = cfg.name.as_str();
    cx.num(RPL_WELCOME, &[&format!("Welcome to the {name} IRC network, {prefix}")]);
    cx.num(RPL_YOURHOST, &[&format!("Your host is {name}, running version {VERSION}")]);
    cx.num(RPL_CREATED, &[&format!("This server was created {}", clock::rfc3339(cx.shared.started))]);
    cx.num_plain(RPL_MYINFO, &[name, VERSION, "iow", "bdeiklmnostv", "beklov"]);
    let chanlimit = format!("CHANLIMIT=#:{}", cfg.max_channels);
    let network = format!("NETWORK={name}");
    let isupport: [&[&str]; 3] = [
        &[
            &format!("AWAYLEN={AWAYLEN}"),
            "CASEMAPPING=ascii",
            &chanlimit,
            "CHANMODES=be,k,l,dimnst",
            &format!("CHANNELLEN={CHANNELLEN}"),
            "CHANTYPES=#",
            "ELIST=",
            "EXCEPTS=e",
            "HOSTLEN=64",
            &format!("KEYLEN={KEYLEN}"),
            &format!("KICKLEN={KICKLEN}"),
            "LINELEN=512",
        ],
        &[
            &format!("MAXLIST=be:{MAXLIST}"),
            &format!("MODES={MODES}"),
            &network,
            &format!("NICKLEN={NICKLEN}"),
            "PREFIX=(ov)@+",
            "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1,JOIN:,PART:,NAMES:1,WHOIS:1,KICK:",
            &format!("TOPICLEN={TOPICLEN}"),
        ],
        &[
            &format!("CHATHISTORY={CHATHISTORY_MAX}"),
            &format!("MONITOR={MONITOR_MAX}"),
            "MSGREFTYPES=msgid,timestamp",
            &format!("USERLEN={USERLEN}"),
            "UTF8ONLY",
            "WHOX",
        ],
    ];
    let files = cx.shared.files.as_ref().map(|f| format!("lanchat/FILES={}", f.file_max.min(f.files_max)));
    for (i, tokens) in isupport.iter().enumerate() {
        let mut params = tokens.to_vec();
        if let Some(f) = files.as_deref().filter(|_| i == isupport.len() - 1) {
            params.push(f);
        }
        params.push("are supported by this server");
        cx.num(RPL_ISUPPORT, &params);
    }
    super::queries::send_lusers(cx);
    super::queries::send_motd(cx);
}

/// Compares without an early exit, so timing does not reveal the password.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
