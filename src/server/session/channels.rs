//! Channels: JOIN (with history and canvas replay), PART, TOPIC, NAMES,
//! LIST and MODE.

use super::*;

/// What a JOIN replays after the lock is released: history, then the canvas.
pub(super) struct Replay {
    lines: Vec<Line>,
    /// Where the canvas lines start in `lines`.
    canvas_from: usize,
    /// The channel's casefolded name, and its canvas's clear count at the JOIN.
    key: String,
    epoch: u64,
}

impl Session {
    pub(super) async fn join(&mut self, msg: &Message<'_>) {
        if msg.params.is_empty() {
            self.reply("461", "JOIN :Not enough parameters");
            return;
        }
        if msg.param(0) == "0" {
            let mut st = self.shared.lock();
            let names: Vec<String> = st
                .clients
                .get(&self.id)
                .map(|c| c.channels.iter().filter_map(|k| st.channels.get(k)).map(|ch| ch.name.clone()).collect())
                .unwrap_or_default();
            for name in names {
                part_one(&mut st, self.id, &name, "Left all channels");
            }
            return;
        }
        for name in msg.param(0).split(',').filter(|n| !n.is_empty()) {
            if let Some(replay) = self.join_one(name)
                && self.push_replay(replay).await.is_err()
            {
                return;
            }
        }
    }

    /// Joins one channel; returns the history and canvas lines to replay.
    pub(super) fn join_one(&mut self, name: &str) -> Option<Replay> {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let mut st = shared.lock();
        if !valid_channel(name) {
            self.num(&st, "476", format_args!("{} :Bad Channel Mask", sanitize(name, 60)));
            return None;
        }
        let key = fold(name);
        let client = st.clients.get(&self.id)?;
        if client.channels.contains(&key) {
            return None;
        }
        if client.channels.len() >= cfg.max_channels {
            self.num(&st, "405", format_args!("{name} :You have joined too many channels"));
            return None;
        }
        let (prefix, caps) = (client.prefix(), client.caps);
        let now = SystemTime::now();
        let ch = st.channels.entry(key.clone()).or_insert_with(|| Channel {
            name: name.to_string(),
            topic: None,
            created: clock::unix_ms(now) / 1000,
            members: Vec::new(),
            no_external: true,
            topic_lock: true,
            canvas: Default::default(),
        });
        // Whoever creates a channel runs it.
        let op = ch.members.is_empty();
        ch.members.push(Member { id: self.id, op, caps, out: self.out.clone() });
        let chname = ch.name.clone();
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.channels.push(key.clone());
        }
        let line = format!(":{prefix} JOIN {chname}");
        let mut v = Variants::new(&line, "", now);
        st.fanout_channel(&key, None, &mut v);
        info!("{}: joined {chname}", self.peer);
        self.topic_reply(&st, &key);
        self.names_reply(&st, &key);

        let mut lines = Vec::new();
        self.history_lines(&st, &key, &chname, caps, &mut lines);
        let canvas_from = lines.len();
        let canvas = &st.channels[&key].canvas;
        if caps.has(Caps::MESSAGE_TAGS) {
            lines.extend(canvas.strokes.iter().cloned());
        }
        Some(Replay { lines, canvas_from, key, epoch: canvas.epoch })
    }

    /// Formats the kept history of a channel for this client's capabilities.
    pub(super) fn history_lines(&mut self, st: &State, key: &str, chname: &str, caps: Caps, out: &mut Vec<Line>) {
        let mut entries = st.history.recent(key).peekable();
        if entries.peek().is_none() {
            return;
        }
        let name = &self.shared.config.name;
        if caps.has(Caps::BATCH) && caps.has(Caps::SERVER_TIME) {
            self.batch_seq += 1;
            let id = format!("h{}x{}", self.id, self.batch_seq);
            out.push(Line::from(format!(":{name} BATCH +{id} chathistory {chname}\r\n")));
            for e in entries {
                let t = clock::rfc3339(clock::from_unix_ms(e.time_ms));
                out.push(Line::from(format!("@batch={id};time={t} {}\r\n", e.line)));
            }
            out.push(Line::from(format!(":{name} BATCH -{id}\r\n")));
        } else if caps.has(Caps::SERVER_TIME) {
            for e in entries {
                let t = clock::rfc3339(clock::from_unix_ms(e.time_ms));
                out.push(Line::from(format!("@time={t} {}\r\n", e.line)));
            }
        } else {
            for e in entries {
                out.push(Line::from(stamp_plain(&e.line, clock::from_unix_ms(e.time_ms)) + "\r\n"));
            }
        }
    }

    /// Pushes a JOIN replay to this client only as fast as it reads it.
    /// A client that reads nothing for the ping timeout meanwhile is cut off:
    /// the read loop, which would time it out, is not running while we wait.
    /// Canvas lines are pushed under the lock, and only while the canvas has
    /// not been cleared since the replay was taken: a clear relayed meanwhile
    /// is never followed by the strokes it cleared.
    pub(super) async fn push_replay(&self, replay: Replay) -> Result<(), ()> {
        let half = self.out.limit() / 2;
        let stall = self.shared.config.ping_timeout;
        for (i, line) in replay.lines.into_iter().enumerate() {
            while self.out.queued() > 0 && self.out.queued() + line.len() > half {
                let room = smol::future::or(async { self.room.recv().await.is_ok() }, async {
                    smol::Timer::after(stall).await;
                    false
                });
                if self.out.is_dead() || !room.await {
                    self.out.kill();
                    return Err(());
                }
            }
            if i >= replay.canvas_from {
                let st = self.shared.lock();
                if st.channels.get(&replay.key).is_none_or(|c| c.canvas.epoch != replay.epoch) {
                    return Ok(());
                }
                if !self.out.push(&line) {
                    return Err(());
                }
            } else if !self.out.push(&line) {
                return Err(());
            }
        }
        Ok(())
    }

    pub(super) fn part(&mut self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "PART :Not enough parameters");
            return;
        }
        let reason = msg.param(1);
        for name in msg.param(0).split(',').filter(|n| !n.is_empty()) {
            let key = fold(name);
            match st.channels.get(&key) {
                None => self.num(&st, "403", format_args!("{} :No such channel", sanitize(name, 60))),
                Some(ch) if ch.member(self.id).is_none() => {
                    self.num(&st, "442", format_args!("{} :You're not on that channel", ch.name))
                }
                Some(_) => {
                    part_one(&mut st, self.id, name, reason);
                    info!("{}: left {name}", self.peer);
                }
            }
        }
    }

    pub(super) fn topic_reply(&self, st: &State, key: &str) {
        let Some(ch) = st.channels.get(key) else {
            return;
        };
        match &ch.topic {
            Some(t) => {
                self.num(st, "332", format_args!("{} :{}", ch.name, t.text));
                self.num(st, "333", format_args!("{} {} {}", ch.name, t.setter, t.time));
            }
            None => self.num(st, "331", format_args!("{} :No topic is set", ch.name)),
        }
    }

    pub(super) fn names_reply(&self, st: &State, key: &str) {
        let Some(ch) = st.channels.get(key) else {
            return;
        };
        let caps = st.clients.get(&self.id).map(|c| c.caps).unwrap_or_default();
        let mut names = String::new();
        for Member { id, op, .. } in &ch.members {
            let Some(c) = st.clients.get(id) else {
                continue;
            };
            if names.len() > 350 {
                self.num(st, "353", format_args!("= {} :{}", ch.name, names));
                names.clear();
            }
            if !names.is_empty() {
                names.push(' ');
            }
            if *op {
                names.push('@');
            }
            if caps.has(Caps::USERHOST_IN_NAMES) {
                names.push_str(&c.prefix());
            } else {
                names.push_str(&c.nick);
            }
        }
        if !names.is_empty() {
            self.num(st, "353", format_args!("= {} :{}", ch.name, names));
        }
        self.num(st, "366", format_args!("{} :End of /NAMES list", ch.name));
    }

    pub(super) fn names(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        let target = msg.param(0);
        if target.is_empty() {
            // Without a channel: the client's own channels, as most servers do.
            let keys = st.clients.get(&self.id).map(|c| c.channels.clone()).unwrap_or_default();
            for key in keys {
                self.names_reply(&st, &key);
            }
            self.num(&st, "366", "* :End of /NAMES list");
            return;
        }
        for name in target.split(',').filter(|n| !n.is_empty()) {
            let key = fold(name);
            if st.channels.contains_key(&key) {
                self.names_reply(&st, &key);
            } else {
                self.num(&st, "366", format_args!("{} :End of /NAMES list", sanitize(name, 60)));
            }
        }
    }

    pub(super) fn list(&self, msg: &Message<'_>) {
        let st = self.shared.lock();
        let wanted: Vec<String> = msg.param(0).split(',').filter(|n| !n.is_empty()).map(fold).collect();
        self.num(&st, "321", "Channel :Users  Name");
        let mut chans: Vec<&Channel> = st.channels.values().collect();
        chans.sort_by(|a, b| a.name.cmp(&b.name));
        for ch in chans {
            if wanted.is_empty() || wanted.contains(&fold(&ch.name)) {
                let topic = ch.topic.as_ref().map_or("", |t| t.text.as_str());
                self.num(&st, "322", format_args!("{} {} :{topic}", ch.name, ch.members.len()));
            }
        }
        self.num(&st, "323", ":End of /LIST");
    }

    pub(super) fn topic(&self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        if msg.params.is_empty() {
            self.num(&st, "461", "TOPIC :Not enough parameters");
            return;
        }
        let key = fold(msg.param(0));
        let Some(ch) = st.channels.get(&key) else {
            self.num(&st, "403", format_args!("{} :No such channel", sanitize(msg.param(0), 60)));
            return;
        };
        if msg.params.len() < 2 {
            self.topic_reply(&st, &key);
            return;
        }
        match ch.member(self.id) {
            None => {
                self.num(&st, "442", format_args!("{} :You're not on that channel", ch.name));
                return;
            }
            Some(false) if ch.topic_lock => {
                self.num(&st, "482", format_args!("{} :You're not channel operator", ch.name));
                return;
            }
            Some(_) => {}
        }
        let Some(c) = st.clients.get(&self.id) else {
            return;
        };
        let (nick, prefix) = (c.nick.clone(), c.prefix());
        let text: String = msg.param(1).chars().take(TOPICLEN).collect();
        let now = SystemTime::now();
        let Some(ch) = st.channels.get_mut(&key) else {
            return;
        };
        ch.topic = if text.is_empty() {
            None
        } else {
            Some(Topic { text: text.clone(), setter: nick, time: clock::unix_ms(now) / 1000 })
        };
        let line = format!(":{prefix} TOPIC {} :{text}", ch.name);
        st.fanout_channel(&key, None, &mut Variants::new(&line, "", now));
    }

    pub(super) fn mode(&self, msg: &Message<'_>) {
        let mut st = self.shared.lock();
        let target = msg.param(0);
        if target.is_empty() {
            self.num(&st, "461", "MODE :Not enough parameters");
            return;
        }
        if target.starts_with('#') {
            self.channel_mode(&mut st, msg);
            return;
        }
        let Some(c) = st.clients.get(&self.id) else {
            return;
        };
        if fold(target) != fold(&c.nick) {
            let code = if st.find_nick(target).is_some() { "502" } else { "401" };
            let text = if code == "502" { "Can't change mode for other users" } else { "No such nick/channel" };
            self.num(&st, code, format_args!("{} :{text}", sanitize(target, NICKLEN + 1)));
            return;
        }
        let modes = msg.param(1);
        if modes.is_empty() {
            let m = if c.invisible { "+i" } else { "+" };
            self.num(&st, "221", m);
            return;
        }
        let mut adding = true;
        let mut unknown = false;
        let mut invisible = c.invisible;
        for m in modes.chars() {
            match m {
                '+' => adding = true,
                '-' => adding = false,
                'i' => invisible = adding,
                _ => unknown = true,
            }
        }
        let (nick, changed) = (c.nick.clone(), invisible != c.invisible);
        if let Some(c) = st.clients.get_mut(&self.id) {
            c.invisible = invisible;
        }
        if changed {
            let m = if invisible { "+i" } else { "-i" };
            self.out.push(&Line::from(format!(":{nick} MODE {nick} :{m}\r\n")));
        }
        if unknown {
            self.num(&st, "501", ":Unknown MODE flag");
        }
    }

    pub(super) fn channel_mode(&self, st: &mut State, msg: &Message<'_>) {
        let key = fold(msg.param(0));
        let Some(ch) = st.channels.get(&key) else {
            self.num(st, "403", format_args!("{} :No such channel", sanitize(msg.param(0), 60)));
            return;
        };
        let modes = msg.param(1);
        if modes.is_empty() {
            self.num(st, "324", format_args!("{} {}", ch.name, ch.modes()));
            self.num(st, "329", format_args!("{} {}", ch.name, ch.created));
            return;
        }
        // Ban list queries (clients send them on join): we keep no lists.
        if msg.params.len() == 2 && matches!(modes, "b" | "+b") {
            self.num(st, "368", format_args!("{} :End of channel ban list", ch.name));
            return;
        }
        let chname = ch.name.clone();
        let is_op = ch.member(self.id) == Some(true);
        let mut args = msg.params.iter().skip(2);
        let mut adding = true;
        let mut applied = String::new();
        let mut applied_args: Vec<String> = Vec::new();
        let mut last_sign = ' ';
        for m in modes.chars() {
            match m {
                '+' => adding = true,
                '-' => adding = false,
                'n' | 't' | 'o' if !is_op => {
                    self.num(st, "482", format_args!("{chname} :You're not channel operator"));
                    return;
                }
                'n' | 't' => {
                    let Some(ch) = st.channels.get_mut(&key) else {
                        return;
                    };
                    let flag = if m == 'n' { &mut ch.no_external } else { &mut ch.topic_lock };
                    if *flag != adding {
                        *flag = adding;
                        let sign = if adding { '+' } else { '-' };
                        if sign != last_sign {
                            applied.push(sign);
                            last_sign = sign;
                        }
                        applied.push(m);
                    }
                }
                'o' => {
                    let Some(who) = args.next() else {
                        self.num(st, "461", "MODE :Not enough parameters");
                        continue;
                    };
                    let Some(tid) = st.find_nick(who) else {
                        self.num(st, "401", format_args!("{} :No such nick/channel", sanitize(who, NICKLEN + 1)));
                        continue;
                    };
                    let Some(ch) = st.channels.get_mut(&key) else {
                        return;
                    };
                    let Some(slot) = ch.members.iter_mut().find(|m| m.id == tid) else {
                        self.num(st, "441", format_args!("{who} {chname} :They aren't on that channel"));
                        continue;
                    };
                    if slot.op != adding {
                        slot.op = adding;
                        let sign = if adding { '+' } else { '-' };
                        if sign != last_sign {
                            applied.push(sign);
                            last_sign = sign;
                        }
                        applied.push('o');
                        applied_args.push(st.clients.get(&tid).map_or(who.to_string(), |c| c.nick.clone()));
                    }
                }
                other => self.num(st, "472", format_args!("{other} :is unknown mode char to me")),
            }
        }
        if !applied.is_empty() {
            let Some(prefix) = st.clients.get(&self.id).map(|c| c.prefix()) else {
                return;
            };
            let mut line = format!(":{prefix} MODE {chname} {applied}");
            for a in &applied_args {
                line.push(' ');
                line.push_str(a);
            }
            st.fanout_channel(&key, None, &mut Variants::new(&line, "", SystemTime::now()));
        }
    }
}

/// Leaves one channel, telling its members; drops the channel when empty.
pub(super) fn part_one(st: &mut State, id: ClientId, name: &str, reason: &str) {
    let key = fold(name);
    let Some(prefix) = st.clients.get(&id).map(|c| c.prefix()) else {
        return;
    };
    let Some(ch) = st.channels.get(&key) else {
        return;
    };
    let line = if reason.is_empty() {
        format!(":{prefix} PART {}", ch.name)
    } else {
        format!(":{prefix} PART {} :{reason}", ch.name)
    };
    st.fanout_channel(&key, None, &mut Variants::new(&line, "", SystemTime::now()));
    remove_member(st, id, &key);
}

/// Takes the client out of every channel without telling anyone (QUIT did).
pub(super) fn part_all(st: &mut State, id: ClientId) {
    let keys = st.clients.get(&id).map(|c| c.channels.clone()).unwrap_or_default();
    for key in keys {
        remove_member(st, id, &key);
    }
}

pub(super) fn remove_member(st: &mut State, id: ClientId, key: &str) {
    if let Some(ch) = st.channels.get_mut(key) {
        ch.members.retain(|m| m.id != id);
        if ch.members.is_empty() {
            st.channels.remove(key);
        }
    }
    if let Some(c) = st.clients.get_mut(&id) {
        c.channels.retain(|k| k != key);
    }
}

/// A history line for a client without server-time: `[HH:MM] ` before the
/// text (inside a CTCP ACTION, after its verb).
fn stamp_plain(line: &str, time: SystemTime) -> String {
    let hhmm = clock::local_hhmm(time);
    let Some(idx) = line.find(" :") else {
        return line.to_string();
    };
    let (head, text) = (&line[..idx], &line[idx + 2..]);
    match text.strip_prefix("\u{1}ACTION ") {
        Some(rest) => format!("{head} :\u{1}ACTION [{hhmm}] {rest}"),
        None => format!("{head} :[{hhmm}] {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_history_gets_a_time_prefix() {
        let t = clock::from_unix_ms(0);
        let hhmm = clock::local_hhmm(t);
        assert_eq!(stamp_plain(":a!b@c PRIVMSG #x :hi", t), format!(":a!b@c PRIVMSG #x :[{hhmm}] hi"));
        assert_eq!(
            stamp_plain(":a!b@c PRIVMSG #x :\u{1}ACTION waves\u{1}", t),
            format!(":a!b@c PRIVMSG #x :\u{1}ACTION [{hhmm}] waves\u{1}")
        );
    }
}
