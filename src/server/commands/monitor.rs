//! MONITOR (IRCv3): a client names nicks and hears when each comes online
//! (730) or goes offline (731), without sharing a channel.

use super::{Cx, Flow};
use crate::line::Message;
use crate::numeric::*;
use crate::server::names::valid_nick;
use crate::server::state::MONITOR_MAX;

/// `MONITOR + a,b` / `- a,b` / `C` / `L` / `S`.
pub fn monitor(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let targets = || msg.param(1).split(',').filter(|n| !n.is_empty());
    match msg.param(0) {
        "+" => {
            let mut added = Vec::new();
            for (i, nick) in targets().enumerate().filter(|(_, n)| valid_nick(n)) {
                if !cx.st.monitor_add(cx.conn.id, nick) {
                    let rest: Vec<&str> = targets().skip(i).collect();
                    let max = MONITOR_MAX.to_string();
                    cx.num(ERR_MONLISTFULL, &[&max, &rest.join(","), "Monitor list is full"]);
                    break;
                }
                added.push(nick);
            }
            status(cx, added);
        }
        "-" => targets().for_each(|n| cx.st.monitor_remove(cx.conn.id, n)),
        "C" | "c" => cx.st.monitor_clear(cx.conn.id),
        "L" | "l" => {
            let list = cx.st.monitoring(cx.conn.id).to_vec();
            // A few per line, so every line stays short.
            for chunk in list.chunks(10) {
                cx.num(RPL_MONLIST, &[&chunk.join(",")]);
            }
            cx.num(RPL_ENDOFMONLIST, &["End of MONITOR list"]);
        }
        "S" | "s" => {
            let list = cx.st.monitoring(cx.conn.id).to_vec();
            status(cx, list.iter().map(String::as_str).collect());
        }
        _ => cx.need_more_params("MONITOR"),
    }
    Flow::Continue
}

/// 730 for those of `nicks` that are online, 731 for the others.
fn status(cx: &Cx<'_>, nicks: Vec<&str>) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for n in nicks {
        match cx.st.find_nick(n).and_then(|id| cx.st.client(id)) {
            Some(c) => on.push(c.prefix()),
            None => off.push(n.to_string()),
        }
    }
    for (code, list) in [(RPL_MONONLINE, on), (RPL_MONOFFLINE, off)] {
        for chunk in list.chunks(5) {
            cx.num(code, &[&chunk.join(",")]);
        }
    }
}
