//! Registration: CAP negotiation, PASS, NICK and USER, and the welcome burst.

use super::*;

impl Session {
    pub(super) fn nick_set(&self) -> bool {
        self.shared.lock().clients.get(&self.id).is_some_and(|c| c.nick != "*")
    }

    pub(super) fn cap(&mut self, msg: &Message<'_>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let name = &shared.config.name;
        let nick = st.clients.get(&self.id).map_or("*".into(), |c| c.nick.clone());
        let sub = msg.param(0).to_ascii_uppercase();
        match sub.as_str() {
            "LS" => {
                if !self.registered {
                    self.cap_negotiating = true;
                }
                let all: Vec<&str> = Caps::ALL.iter().map(|(n, _)| *n).collect();
                self.out.push(&Line::from(format!(":{name} CAP {nick} LS :{}\r\n", all.join(" "))));
            }
            "LIST" => {
                let caps = st.clients.get(&self.id).map(|c| c.caps).unwrap_or_default();
                self.out.push(&Line::from(format!(":{name} CAP {nick} LIST :{}\r\n", caps.names())));
            }
            "REQ" => {
                if !self.registered {
                    self.cap_negotiating = true;
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
                let verdict = if ok { "ACK" } else { "NAK" };
                if ok && let Some(c) = st.clients.get(&self.id) {
                    let caps = Caps((c.caps.0 | add.0) & !remove.0);
                    st.set_caps(self.id, caps);
                }
                self.out.push(&Line::from(format!(":{name} CAP {nick} {verdict} :{}\r\n", wanted.trim())));
            }
            "END" => {
                self.cap_negotiating = false;
                drop(st);
                self.try_register();
            }
            _ => {
                let sub = if sub.is_empty() { "*" } else { msg.param(0) };
                self.num(&st, "410", format_args!("{} :Invalid CAP command", sanitize(sub, 20)));
            }
        }
    }

    pub(super) fn pass(&mut self, msg: &Message<'_>) {
        if self.registered {
            self.reply("462", ":You may not reregister");
            return;
        }
        if msg.params.is_empty() {
            self.reply("461", "PASS :Not enough parameters");
            return;
        }
        if let Some(want) = &self.shared.config.password {
            self.pass_ok = constant_time_eq(msg.param(0).as_bytes(), want.as_bytes());
        }
        if self.pass_ok {
            self.claim_nick();
        }
    }

    /// Reserves a nick that was given before the password (see [`Self::nick`]).
    pub(super) fn claim_nick(&mut self) {
        let mut st = self.shared.lock();
        let Some(nick) = st.clients.get(&self.id).map(|c| c.nick.clone()) else {
            return;
        };
        if nick == "*" {
            return;
        }
        let key = fold(&nick);
        match st.nicks.get(&key) {
            Some(holder) if *holder == self.id => {}
            Some(_) => {
                if let Some(c) = st.clients.get_mut(&self.id) {
                    c.nick = "*".into();
                }
                self.num(&st, "433", format_args!("{nick} :Nickname is already in use"));
            }
            None => {
                st.nicks.insert(key, self.id);
            }
        }
    }

    pub(super) fn user(&mut self, msg: &Message<'_>) {
        if self.registered || self.got_user {
            self.reply("462", ":You may not reregister");
            return;
        }
        if msg.params.len() < 4 || msg.param(0).is_empty() {
            self.reply("461", "USER :Not enough parameters");
            return;
        }
        let user: String = msg
            .param(0)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.[]{}|^`\\".contains(*c))
            .take(USERLEN)
            .collect();
        let user = if user.is_empty() { "user".to_string() } else { user };
        {
            let mut st = self.shared.lock();
            if let Some(c) = st.clients.get_mut(&self.id) {
                c.user = user;
                c.realname = msg.param(3).chars().take(100).collect();
            }
        }
        self.got_user = true;
        self.try_register();
    }

    pub(super) fn nick(&mut self, msg: &Message<'_>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let new = msg.param(0);
        if new.is_empty() {
            self.num(&st, "431", ":No nickname given");
            return;
        }
        if !valid_nick(new) {
            self.num(&st, "432", format_args!("{} :Erroneous nickname", sanitize(new, NICKLEN + 1)));
            return;
        }
        let key = fold(new);
        let Some(client) = st.clients.get(&self.id) else {
            return;
        };
        let old = client.nick.clone();
        if old == new {
            return;
        }
        if !self.pass_ok {
            // Before the password, a nick is noted but not reserved: someone
            // without the password must not keep the members from their nicks.
            if st.nicks.get(&fold(&old)) == Some(&self.id) {
                st.nicks.remove(&fold(&old));
            }
            if let Some(c) = st.clients.get_mut(&self.id) {
                c.nick = new.to_string();
            }
            return;
        }
        if st.nicks.get(&key).is_some_and(|holder| *holder != self.id) {
            self.num(&st, "433", format_args!("{new} :Nickname is already in use"));
            return;
        }
        let prefix = client.prefix();
        st.nicks.remove(&fold(&old));
        st.nicks.insert(key, self.id);
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.nick = new.to_string();
        }
        if self.registered {
            let line = format!(":{prefix} NICK {new}");
            let mut v = Variants::new(&line, "", SystemTime::now());
            let mut to = st.neighbours(self.id);
            to.push(self.id);
            st.fanout(to, &mut v);
            info!("{}: {old} is now {new}", self.peer);
        } else {
            drop(st);
            self.try_register();
        }
    }

    /// Completes registration once NICK, USER (and CAP END, PASS) are in.
    pub(super) fn try_register(&mut self) {
        if self.registered || !self.got_user || self.cap_negotiating || !self.pass_ok || !self.nick_set() {
            return;
        }
        self.registered = true;
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut st = shared.lock();
        let Some(c) = st.clients.get_mut(&self.id) else {
            return;
        };
        c.registered = true;
        c.signon = clock::unix_ms(SystemTime::now()) / 1000;
        let (nick, prefix) = (c.nick.clone(), c.prefix());
        info!("{}: registered as {prefix}", self.peer);
        let name = &cfg.name;
        self.num(&st, "001", format_args!(":Welcome to the {name} IRC network, {prefix}"));
        self.num(&st, "002", format_args!(":Your host is {name}, running version {VERSION}"));
        self.num(&st, "003", format_args!(":This server was created {}", clock::rfc3339(shared.started)));
        self.num(&st, "004", format_args!("{name} {VERSION} i nto o"));
        self.num(
            &st,
            "005",
            format_args!(
                "AWAYLEN={AWAYLEN} CASEMAPPING=ascii CHANLIMIT=#:{} CHANMODES=,,,nt CHANNELLEN={} CHANTYPES=# ELIST= HOSTLEN=64 LINELEN=512 MODES=4 NETWORK={name} NICKLEN={NICKLEN} PREFIX=(o)@ :are supported by this server",
                cfg.max_channels,
                CHANNELLEN
            ),
        );
        self.num(
            &st,
            "005",
            format_args!(
                "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1,JOIN:,PART:,NAMES:1,WHOIS:1 TOPICLEN={TOPICLEN} USERLEN={USERLEN} UTF8ONLY :are supported by this server"
            ),
        );
        self.lusers_locked(&st);
        self.motd_locked(&st);
        let _ = nick;
        drop(st);
    }
}

/// Compares without an early exit, so timing does not reveal the password.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
