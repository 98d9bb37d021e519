//! Queries about users and the server: PING, MOTD, LUSERS, VERSION,
//! USERHOST, ISON, AWAY, WHO and WHOIS.

use super::*;

impl Session {
    pub(super) fn ping(&self, msg: &Message<'_>) {
        if msg.params.is_empty() {
            self.reply("409", ":No origin specified");
            return;
        }
        let name = &self.shared.config.name;
        let mut s = String::new();
        crate::line::write_message(&mut s, &[], Some(name), "PONG", &[name, msg.param(0)]);
        s.push_str("\r\n");
        self.out.push(&Line::from(s));
    }

    pub(super) fn motd(&self) {
        let st = self.shared.lock();
        self.motd_locked(&st);
    }

    pub(super) fn motd_locked(&self, st: &State) {
        let name = &self.shared.config.name;
        match &self.shared.motd {
            Some(text) => {
                self.num(st, "375", format_args!(":- {name} Message of the day - "));
                for l in text.lines() {
                    let l: String = l.chars().filter(|c| !c.is_control()).take(400).collect();
                    self.num(st, "372", format_args!(":- {l}"));
                }
                self.num(st, "376", ":End of /MOTD command.");
            }
            None => self.num(st, "422", ":MOTD File is missing"),
        }
    }

    pub(super) fn lusers(&self) {
        let st = self.shared.lock();
        self.lusers_locked(&st);
    }

    pub(super) fn lusers_locked(&self, st: &State) {
        let users = st.user_count();
        let unknown = st.clients.len() - users;
        self.num(st, "251", format_args!(":There are {users} users and 0 invisible on 1 servers"));
        if unknown > 0 {
            self.num(st, "253", format_args!("{unknown} :unknown connection(s)"));
        }
        self.num(st, "254", format_args!("{} :channels formed", st.channels.len()));
        self.num(st, "255", format_args!(":I have {users} clients and 0 servers"));
    }

    pub(super) fn version(&self) {
        let st = self.shared.lock();
        self.num(&st, "351", format_args!("{VERSION} {} :lanchat LAN chat appliance", self.shared.config.name));
    }

    pub(super) fn userhost(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "USERHOST :Not enough parameters");
            return;
        }
        let replies: Vec<String> = msg
            .params
            .iter()
            .take(5)
            .filter_map(|n| st.find_nick(n).and_then(|id| st.clients.get(&id)))
            .map(|c| format!("{}={}{}@{}", c.nick, if c.away.is_some() { '-' } else { '+' }, c.user, c.host))
            .collect();
        self.num(&st, "302", format_args!(":{}", replies.join(" ")));
    }

    pub(super) fn ison(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "ISON :Not enough parameters");
            return;
        }
        let on: Vec<&str> = msg
            .params
            .iter()
            .flat_map(|p| p.split(' '))
            .filter_map(|n| st.find_nick(n).and_then(|id| st.clients.get(&id)))
            .map(|c| c.nick.as_str())
            .collect();
        self.num(&st, "303", format_args!(":{}", on.join(" ")));
    }

    pub(super) fn away(&self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        let text: String = msg.param(0).chars().take(AWAYLEN).collect();
        let back = text.is_empty();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.away = if back { None } else { Some(text) };
        }
        if back {
            self.num(&st, "305", ":You are no longer marked as being away");
        } else {
            self.num(&st, "306", ":You have been marked as being away");
        }
    }

    pub(super) fn who(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        let mask = msg.param(0);
        let name = &self.shared.config.name;
        let row = |chan: &str, c: &Client, op: bool| {
            let flags = format!("{}{}", if c.away.is_some() { 'G' } else { 'H' }, if op { "@" } else { "" });
            self.num(
                &st,
                "352",
                format_args!("{chan} {} {} {name} {} {flags} :0 {}", c.user, c.host, c.nick, c.realname),
            );
        };
        if let Some(ch) = st.channels.get(&fold(mask)) {
            for Member { id, op, .. } in &ch.members {
                if let Some(c) = st.clients.get(id) {
                    row(&ch.name, c, *op);
                }
            }
        } else if let Some(c) = st.find_nick(mask).and_then(|id| st.clients.get(&id)) {
            row("*", c, false);
        }
        let shown = if mask.is_empty() { "*" } else { mask };
        self.num(&st, "315", format_args!("{} :End of /WHO list", sanitize(shown, 60)));
    }

    pub(super) fn whois(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        // WHOIS [server] nick: the nick is the last parameter.
        let Some(target) = msg.params.last().copied().filter(|t| !t.is_empty()) else {
            self.num(&st, "431", ":No nickname given");
            return;
        };
        let name = &self.shared.config.name;
        match st.find_nick(target).and_then(|id| st.clients.get(&id).map(|c| (id, c))) {
            Some((id, c)) => {
                self.num(&st, "311", format_args!("{} {} {} * :{}", c.nick, c.user, c.host, c.realname));
                let chans: Vec<String> = c
                    .channels
                    .iter()
                    .filter_map(|k| st.channels.get(k))
                    .map(|ch| format!("{}{}", if ch.member(id) == Some(true) { "@" } else { "" }, ch.name))
                    .collect();
                if !chans.is_empty() {
                    self.num(&st, "319", format_args!("{} :{}", c.nick, chans.join(" ")));
                }
                self.num(&st, "312", format_args!("{} {name} :lanchat LAN chat appliance", c.nick));
                if let Some(away) = &c.away {
                    self.num(&st, "301", format_args!("{} :{away}", c.nick));
                }
                self.num(
                    &st,
                    "317",
                    format_args!(
                        "{} {} {} :seconds idle, signon time",
                        c.nick,
                        c.last_spoke.elapsed().as_secs(),
                        c.signon
                    ),
                );
                self.num(&st, "318", format_args!("{} :End of /WHOIS list", c.nick));
            }
            None => {
                let t = sanitize(target, NICKLEN + 1);
                self.num(&st, "401", format_args!("{t} :No such nick/channel"));
                self.num(&st, "318", format_args!("{t} :End of /WHOIS list"));
            }
        }
    }
}
