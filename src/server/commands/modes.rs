//! MODE: a channel's modes (flags, key, limit, ban and exception lists,
//! operators and voice) and a user's own modes.

use std::time::SystemTime;

use super::{Cx, Flow};
use crate::clock;
use crate::line::Message;
use crate::numeric::*;
use crate::server::names::{canon_mask, fold};
use crate::server::state::{Flag, List, ListEntry, ListFull, MAXLIST, Variants};

/// Most modes with a parameter applied from one MODE line (ISUPPORT MODES).
pub const MODES: usize = 6;
/// Longest channel key.
pub const KEYLEN: usize = 23;

pub fn mode(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let target = msg.param(0);
    if target.starts_with('#') {
        return channel_mode(cx, msg);
    }
    let Some(c) = cx.st.client(cx.conn.id) else { return Flow::Continue };
    if fold(target) != fold(&c.nick) {
        if cx.st.find_nick(target).is_some() {
            cx.num(ERR_USERSDONTMATCH, &[target, "Can't change mode for other users"]);
        } else {
            cx.num(ERR_NOSUCHNICK, &[target, "No such nick/channel"]);
        }
        return Flow::Continue;
    }
    let modes = msg.param(1);
    if modes.is_empty() {
        cx.num_plain(RPL_UMODEIS, &[&c.umodes()]);
        return Flow::Continue;
    }
    let mut adding = true;
    let mut unknown = false;
    let (mut invisible, mut oper, mut wallops) = (c.invisible, c.oper, c.wallops);
    for m in modes.chars() {
        match m {
            '+' => adding = true,
            '-' => adding = false,
            'i' => invisible = adding,
            'w' => wallops = adding,
            // `+o` comes only with OPER; anyone may drop it.
            'o' => oper &= adding,
            _ => unknown = true,
        }
    }
    let mut applied = String::new();
    for (was, now, letter) in [(c.invisible, invisible, 'i'), (c.oper, oper, 'o'), (c.wallops, wallops, 'w')] {
        if was != now {
            note(&mut applied, now, letter);
        }
    }
    let nick = c.nick.clone();
    cx.st.set_umodes(cx.conn.id, invisible, oper, wallops);
    if !applied.is_empty() {
        cx.conn.out.push(&format!(":{nick} MODE {nick} :{applied}\r\n"));
    }
    if unknown {
        cx.num(ERR_UMODEUNKNOWNFLAG, &["Unknown MODE flag"]);
    }
    Flow::Continue
}

/// Whether this client is a server operator (who may act as any channel's operator).
pub fn is_oper(cx: &Cx<'_>) -> bool {
    cx.st.client(cx.conn.id).is_some_and(|c| c.oper)
}

fn channel_mode(cx: &mut Cx<'_>, msg: &Message<'_>) -> Flow {
    let key = fold(msg.param(0));
    // A secret channel does not exist for those outside it.
    let Some(ch) = cx.st.channel(&key).filter(|ch| !ch.has(Flag::Secret) || super::channels::inside(cx, ch)) else {
        cx.num(ERR_NOSUCHCHANNEL, &[msg.param(0), "No such channel"]);
        return Flow::Continue;
    };
    let member = ch.member(cx.conn.id);
    let chname = ch.name.clone();
    let modes = msg.param(1);
    if modes.is_empty() {
        let mut params = vec![chname.as_str()];
        let shown = ch.modes(member.is_some());
        params.extend(shown.iter().map(String::as_str));
        cx.num_plain(RPL_CHANNELMODEIS, &params);
        cx.num_plain(RPL_CREATIONTIME, &[&chname, &ch.created.to_string()]);
        return Flow::Continue;
    }
    let may = member == Some(true) || is_oper(cx);
    let prefix = cx.prefix();
    let mut args = msg.params.iter().skip(2).copied();
    let (mut adding, mut denied, mut with_param) = (true, false, 0);
    let mut applied = String::new();
    let mut applied_args: Vec<String> = Vec::new();
    let mut deopped = None;
    for m in modes.chars() {
        let takes = match m {
            '+' | '-' => {
                adding = m == '+';
                continue;
            }
            'o' | 'v' | 'b' | 'e' | 'k' => true,
            'l' => adding,
            _ => false,
        };
        let arg = if takes { args.next() } else { None };
        if arg.is_some() {
            with_param += 1;
            if with_param > MODES {
                continue;
            }
        }
        if let ('b' | 'e', None) = (m, arg) {
            send_list(cx, &key, if m == 'b' { List::Bans } else { List::Excepts });
            continue;
        }
        if !may && (Flag::by_char(m).is_some() || takes || m == 'l') {
            if !denied {
                cx.num(ERR_CHANOPRIVSNEEDED, &[&chname, "You're not channel operator"]);
                denied = true;
            }
            continue;
        }
        let changed: Option<String> = match (m, arg, Flag::by_char(m)) {
            (_, _, Some(flag)) => cx.st.set_flag(&key, flag, adding).then(String::new),
            ('o' | 'v', Some(who), None) => {
                let Some(tid) = cx.st.find_nick(who) else {
                    cx.num(ERR_NOSUCHNICK, &[who, "No such nick/channel"]);
                    continue;
                };
                let set = if m == 'o' { cx.st.set_op(&key, tid, adding) } else { cx.st.set_voice(&key, tid, adding) };
                if m == 'o' && !adding && set == Some(true) {
                    deopped = Some(tid);
                }
                match set {
                    None => {
                        cx.num(ERR_USERNOTINCHANNEL, &[who, &chname, "They aren't on that channel"]);
                        None
                    }
                    Some(changed) => changed.then(|| cx.st.nick(tid).to_string()),
                }
            }
            ('b' | 'e', Some(mask), None) => {
                let list = if m == 'b' { List::Bans } else { List::Excepts };
                let Some(mask) = canon_mask(mask) else {
                    cx.num(ERR_INVALIDMODEPARAM, &[&chname, &m.to_string(), mask, "Invalid mask"]);
                    continue;
                };
                if adding {
                    let time = clock::unix_ms(SystemTime::now()) / 1000;
                    let entry = ListEntry { mask: mask.clone(), setter: prefix.clone(), time };
                    match cx.st.list_add(&key, list, entry) {
                        Ok(added) => added.then_some(mask),
                        Err(ListFull) => {
                            let why = format!("Channel list is full ({MAXLIST})");
                            cx.num(ERR_BANLISTFULL, &[&chname, &m.to_string(), &why]);
                            None
                        }
                    }
                } else {
                    cx.st.list_remove(&key, list, &mask)
                }
            }
            ('k', Some(k), None) if adding => {
                if k.is_empty() || k.len() > KEYLEN || k.starts_with(':') || k.contains([' ', ',']) {
                    cx.num(ERR_INVALIDKEY, &[&chname, "Key is not well-formed"]);
                    continue;
                }
                cx.st.set_key(&key, Some(k.to_string())).then(|| k.to_string())
            }
            // `-k` takes a parameter, whatever it is (clients send the key or `*`).
            ('k', _, None) if !adding => cx.st.set_key(&key, None).then(|| "*".to_string()),
            ('l', Some(l), None) => match l.parse::<usize>() {
                Ok(n) if n > 0 => cx.st.set_limit(&key, Some(n)).then(|| n.to_string()),
                _ => {
                    cx.num(ERR_INVALIDMODEPARAM, &[&chname, "l", l, "Invalid limit"]);
                    continue;
                }
            },
            ('l', None, None) if !adding => cx.st.set_limit(&key, None).then(String::new),
            ('o' | 'v' | 'k' | 'l', None, None) => {
                cx.need_more_params("MODE");
                continue;
            }
            _ => {
                cx.num(ERR_UNKNOWNMODE, &[&m.to_string(), "is unknown mode char to me"]);
                continue;
            }
        };
        if let Some(arg) = changed {
            note(&mut applied, adding, m);
            if !arg.is_empty() {
                applied_args.push(arg);
            }
        }
    }
    if !applied.is_empty() {
        let mut line = format!(":{prefix} MODE {chname} {applied}");
        for a in &applied_args {
            line.push(' ');
            line.push_str(a);
        }
        cx.st.fanout_channel(&key, None, &mut Variants::new(&line, "", SystemTime::now()));
    }
    if deopped.is_some() {
        cx.st.ensure_op(&key, deopped);
    }
    Flow::Continue
}

/// 367/368 (bans) or 348/349 (exceptions).
fn send_list(cx: &Cx<'_>, key: &str, list: List) {
    let Some(ch) = cx.st.channel(key) else { return };
    let (entries, item, end, what) = match list {
        List::Bans => (&ch.bans, RPL_BANLIST, RPL_ENDOFBANLIST, "End of channel ban list"),
        List::Excepts => (&ch.excepts, RPL_EXCEPTLIST, RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    };
    for e in entries {
        cx.num_plain(item, &[&ch.name, &e.mask, &e.setter, &e.time.to_string()]);
    }
    cx.num(end, &[&ch.name, what]);
}

/// Adds a mode change to a MODE line's mode string, with its sign when the sign changes.
fn note(applied: &mut String, adding: bool, m: char) {
    let sign = if adding { '+' } else { '-' };
    if applied.rfind(['+', '-']).is_none_or(|i| applied.as_bytes()[i] != sign as u8) {
        applied.push(sign);
    }
    applied.push(m);
}
