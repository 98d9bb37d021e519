//! The core's part about people and channels rather than the connection:
//! the channel list (LIST), away (AWAY, away-notify, WHO flags), typing
//! notices (`+typing`), topics set from the input line, and MONITOR for
//! the people we talk to privately.

use super::{ChannelInfo, Command, Core, Event, Message, Now};
use crate::client::TypingState;
use crate::numeric::*;

impl Core {
    pub(super) fn on_people_command(&mut self, cmd: Command) {
        let registered = self.registered();
        match cmd {
            Command::List if registered => self.send("LIST".into()),
            Command::Away(message) => {
                let message = message.filter(|m| !m.trim().is_empty());
                self.away = message.clone();
                if registered {
                    self.send(message.map_or_else(|| "AWAY".into(), |m| format!("AWAY :{m}")));
                }
            }
            Command::Typing { target, state } => {
                // Silently nothing without message-tags: it is only a nicety.
                let tags = self.link.as_ref().is_some_and(|l| l.caps.iter().any(|c| c == "message-tags"));
                if registered && tags {
                    self.send(format!("@+typing={} TAGMSG {target}", state.as_str()));
                }
            }
            Command::Topic { channel, text } if registered => self.send(format!("TOPIC {channel} :{text}")),
            Command::Watch(nick) => {
                if self.watched.iter().any(|n| n.eq_ignore_ascii_case(&nick)) {
                    return;
                }
                if registered && self.link.as_ref().is_some_and(|l| l.monitor) {
                    self.send(format!("MONITOR + {nick}"));
                }
                self.watched.push(nick);
            }
            _ => {}
        }
    }

    /// `AWAY` from a neighbour (away-notify): away with a message, or back.
    pub(super) fn on_away(&mut self, msg: &Message<'_>) {
        let Some(nick) = msg.source_nick() else { return };
        let message = Some(msg.param(0)).filter(|m| !m.is_empty()).map(String::from);
        self.emit(Event::Away { nick: nick.into(), message });
    }

    pub(super) fn on_people_numeric(&mut self, n: Numeric, msg: &Message<'_>, now: Now) {
        let Some(link) = self.link.as_mut() else { return };
        let me = link.nick.clone();
        match n {
            RPL_AWAY => {
                // Said when we write to someone away.
                let (nick, message) = (msg.param(1), msg.param(2));
                self.system(Some(nick), format!("{nick} is away: {message}"), now);
                self.emit(Event::Away { nick: nick.into(), message: Some(message.into()) });
            }
            RPL_NOWAWAY => {
                let message = Some(self.away.clone().unwrap_or_default());
                self.emit(Event::Away { nick: me, message });
            }
            RPL_UNAWAY => self.emit(Event::Away { nick: me, message: None }),
            RPL_WHOREPLY => {
                // channel user host server nick flags: H here, G gone (away).
                let (nick, flags) = (msg.param(5), msg.param(6));
                let message = flags.starts_with('G').then(String::new);
                self.emit(Event::Away { nick: nick.into(), message });
            }
            RPL_MONONLINE | RPL_MONOFFLINE => {
                // `nick!user@host,...` online, `nick,...` offline.
                let online = n == RPL_MONONLINE;
                for target in msg.param(1).split(',').filter(|t| !t.is_empty()) {
                    let nick = target.split('!').next().unwrap_or(target);
                    self.emit(Event::Presence { nick: nick.into(), online });
                }
            }
            RPL_LISTSTART => link.list = Some(Vec::new()),
            RPL_LIST => {
                let users = msg.param(2).parse().unwrap_or(0);
                let row = ChannelInfo { name: msg.param(1).into(), users, topic: msg.param(3).into() };
                link.list.get_or_insert_with(Vec::new).push(row);
            }
            RPL_LISTEND => {
                let list = link.list.take().unwrap_or_default();
                self.emit(Event::ChannelList(list));
            }
            _ => {}
        }
    }

    /// A `+typing` notice: in a channel, or privately to us.
    pub(super) fn on_typing(&mut self, msg: &Message<'_>, value: &str) {
        let Some(link) = self.link.as_ref() else { return };
        let (Some(from), Some(state)) = (msg.source_nick(), TypingState::parse(value)) else { return };
        if from.eq_ignore_ascii_case(&link.nick) {
            return; // our own, echoed
        }
        let target = msg.param(0);
        let target = if target.starts_with(['#', '&']) { target } else { from };
        self.emit(Event::Typing { target: target.into(), from: from.into(), state });
    }
}
