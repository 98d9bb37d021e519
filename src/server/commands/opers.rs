//! Server operators: OPER, KILL and WALLOPS. The operators are configured
//! (`--oper NAME:PASSWORD`, the `opers` file); an operator also acts as
//! an operator of every channel (see [`super::modes::is_oper`]).

use log::{info, warn};

use super::modes::is_oper;
use super::{Cx, Flow};
use crate::line::Message;
use crate::numeric::*;
use crate::server::state::Variants;

/// `OPER name password`: 381 and user mode `+o`, or 464 / 491.
pub fn oper(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let (name, pass) = (msg.param(0), msg.param(1));
    let Some((_, want)) = cx.shared.config.opers.iter().find(|(n, _)| n == name) else {
        cx.num(ERR_NOOPERHOST, &["No O-lines for your host"]);
        return Flow::Continue;
    };
    if !super::register::constant_time_eq(pass.as_bytes(), want.as_bytes()) {
        warn!("{}: failed OPER as {name}", cx.conn.peer);
        cx.num(ERR_PASSWDMISMATCH, &["Password incorrect"]);
        return Flow::Continue;
    }
    let Some(c) = cx.st.client(cx.conn.id) else { return Flow::Continue };
    let (nick, was) = (c.nick.clone(), c.oper);
    cx.st.set_umodes(cx.conn.id, c.invisible, true, c.wallops);
    info!("{}: {nick} is now a server operator ({name})", cx.conn.peer);
    cx.num(RPL_YOUREOPER, &["You are now an IRC operator"]);
    if !was {
        cx.conn.out.push(&format!(":{nick} MODE {nick} :+o\r\n"));
    }
    Flow::Continue
}

/// Whether this client is a server operator; 481 when not.
fn privileged(cx: &Cx<'_>) -> bool {
    let ok = is_oper(cx);
    if !ok {
        cx.num(ERR_NOPRIVILEGES, &["Permission Denied- You're not an IRC operator"]);
    }
    ok
}

/// `KILL nick [:reason]`: disconnects a client.
pub fn kill(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if !privileged(cx) {
        return Flow::Continue;
    }
    let target = msg.param(0);
    let Some(tid) = cx.st.find_nick(target) else {
        cx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        return Flow::Continue;
    };
    let me = cx.st.nick(cx.conn.id).to_string();
    // `path (reason)` in the KILL, as clients parse it; `Killed (...)` in the QUIT.
    let why = format!("{me} ({})", if msg.param(1).is_empty() { "no reason" } else { msg.param(1) });
    let reason = format!("Killed ({why})");
    info!("{}: {me} killed {target}: {reason}", cx.conn.peer);
    if tid == cx.conn.id {
        return Flow::Quit(reason);
    }
    let line = format!(":{} KILL {} :{why}", cx.prefix(), cx.st.nick(tid));
    cx.st.fanout([tid], &mut Variants::new(&line, "", std::time::SystemTime::now()));
    cx.st.disconnect(tid, &reason);
    Flow::Continue
}

/// `WALLOPS :text`: to every client with user mode `+w`.
pub fn wallops(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    if !privileged(cx) {
        return Flow::Continue;
    }
    // Cut so that the line with our prefix in front stays within 512 bytes.
    let mut text = msg.param(0).to_string();
    while text.len() > 300 {
        text.pop();
    }
    let line = format!(":{} WALLOPS :{text}", cx.prefix());
    let to: Vec<_> = cx.st.clients().filter(|(_, c)| c.registered && c.wallops).map(|(id, _)| id).collect();
    cx.st.fanout(to, &mut Variants::new(&line, "", std::time::SystemTime::now()));
    Flow::Continue
}
