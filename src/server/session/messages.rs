//! PRIVMSG, NOTICE and TAGMSG to a channel or a nick, and what a TAGMSG
//! does to a channel's canvas.

use super::*;

impl Session {
    /// PRIVMSG, NOTICE and TAGMSG to a channel or a nick.
    pub(super) fn message(&mut self, cmd: &str, msg: &Message<'_>) {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let notice = cmd == "NOTICE";
        let tagmsg = cmd == "TAGMSG";
        let target = msg.param(0);
        if target.is_empty() {
            if !notice {
                self.num(&st, "411", format_args!(":No recipient given ({cmd})"));
            }
            return;
        }
        let text = msg.param(1);
        if !tagmsg && text.is_empty() {
            if !notice {
                self.num(&st, "412", ":No text to send");
            }
            return;
        }
        // Client-only tags are relayed; every other tag a client sends is ours to set.
        let mut client_tags = String::new();
        for (k, v) in msg.tags() {
            if k.len() > 1
                && k.starts_with('+')
                && k[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b"-/.".contains(&b))
            {
                if !client_tags.is_empty() {
                    client_tags.push(';');
                }
                client_tags.push_str(k);
                if !v.is_empty() {
                    client_tags.push('=');
                    client_tags.push_str(v);
                }
            }
        }
        if client_tags.len() > MAX_CLIENT_TAGS {
            self.num(&st, "417", ":Input line was too long");
            return;
        }
        if tagmsg && client_tags.is_empty() {
            return;
        }
        let Some(sender) = st.clients.get(&self.id) else {
            return;
        };
        let (prefix, caps) = (sender.prefix(), sender.caps);
        let now = SystemTime::now();
        let mut base = String::with_capacity(prefix.len() + target.len() + text.len() + 16);
        base.push(':');
        base.push_str(&prefix);
        base.push(' ');
        base.push_str(cmd);
        base.push(' ');

        if target.starts_with('#') {
            let key = fold(target);
            let Some(ch) = st.channels.get(&key) else {
                if !notice {
                    self.num(&st, "403", format_args!("{} :No such channel", sanitize(target, 60)));
                }
                return;
            };
            if ch.no_external && ch.member(self.id).is_none() {
                if !notice {
                    self.num(&st, "404", format_args!("{} :Cannot send to channel", ch.name));
                }
                return;
            }
            let chname = ch.name.clone();
            base.push_str(&chname);
            let mut canvas_change = None;
            if tagmsg {
                match canvas_tag(msg) {
                    Ok(change) => canvas_change = change,
                    Err(e) => {
                        self.num(&st, "400", format_args!("TAGMSG :Invalid canvas stroke: {e}"));
                        return;
                    }
                }
            } else {
                base.push_str(" :");
                base.push_str(text);
                if base.len() > MAX_LINE - 2 {
                    // With our prefix in front it would not fit a line: refuse, never truncate.
                    self.num(&st, "417", ":Input line was too long");
                    return;
                }
                // In the journal before anyone sees it: what was relayed is in history.
                st.history.append(&chname, clock::unix_ms(now), &Line::from(base.as_str()));
            }
            let mut v = Variants::new(&base, &client_tags, now);
            if tagmsg {
                v = v.tags_only();
            }
            let Some(ch) = st.channels.get_mut(&key) else {
                return;
            };
            match canvas_change {
                Some(CanvasChange::Clear) => {
                    ch.canvas = Canvas { epoch: ch.canvas.epoch + 1, ..Default::default() };
                }
                Some(CanvasChange::Stroke) => {
                    if let Some(line) = v.for_caps(Caps::MESSAGE_TAGS).cloned() {
                        let max = shared.config.canvas_max;
                        ch.canvas.bytes += line.len();
                        ch.canvas.strokes.push_back(line);
                        while ch.canvas.bytes > max {
                            match ch.canvas.strokes.pop_front() {
                                Some(old) => ch.canvas.bytes -= old.len(),
                                None => break,
                            }
                        }
                    }
                }
                None => {}
            }
            if self.burst.as_ref().is_some_and(|b| b.key != key) {
                // A burst to another channel goes out first (handle_line has
                // flushed it already; this keeps the rule local).
                self.flush_burst_locked(&st);
            }
            match &mut self.burst {
                Some(b) => {
                    if b.key.is_empty() {
                        b.key = key.clone();
                        b.kinds = st.channels.get(&key).map_or(0, |ch| {
                            ch.members.iter().fold(0, |kinds, m| kinds | 1 << Variants::kind(m.caps))
                        });
                    }
                    for (kind, lines) in b.lines.iter_mut().enumerate().filter(|(k, _)| b.kinds & 1 << k != 0) {
                        if let Some(line) = v.for_caps(Variants::KINDS[kind]) {
                            lines.push_str(line);
                        }
                    }
                }
                None => st.fanout_channel(&key, Some(self.id), &mut v),
            }
            if caps.has(Caps::ECHO_MESSAGE)
                && let Some(line) = v.for_caps(caps)
            {
                self.out.push(line);
            }
        } else {
            let Some(tid) = st.find_nick(target) else {
                if !notice {
                    self.num(&st, "401", format_args!("{} :No such nick/channel", sanitize(target, NICKLEN + 1)));
                }
                return;
            };
            let Some(tc) = st.clients.get(&tid) else {
                return;
            };
            base.push_str(&tc.nick);
            if !tagmsg {
                base.push_str(" :");
                base.push_str(text);
                if base.len() > MAX_LINE - 2 {
                    self.num(&st, "417", ":Input line was too long");
                    return;
                }
            }
            let mut v = Variants::new(&base, &client_tags, now);
            if tagmsg {
                v = v.tags_only();
            }
            if tid != self.id || !caps.has(Caps::ECHO_MESSAGE) {
                st.fanout([tid], &mut v);
            }
            if caps.has(Caps::ECHO_MESSAGE)
                && let Some(line) = v.for_caps(caps)
            {
                self.out.push(line);
            }
            if cmd == "PRIVMSG"
                && let Some(away) = &tc.away
            {
                self.num(&st, "301", format_args!("{} :{away}", tc.nick));
            }
        }
        if !tagmsg && let Some(c) = st.clients.get_mut(&self.id) {
            c.last_spoke = Instant::now();
        }
    }
}

impl Session {
    /// Fans the held burst out (see [`Burst`]), taking the lock.
    pub(super) fn flush_burst(&mut self) {
        if self.burst.as_ref().is_some_and(|b| !b.key.is_empty()) {
            let shared = self.shared.clone();
            let st = shared.lock();
            self.flush_burst_locked(&st);
        }
    }

    /// Fans the held burst out to the channel's members but this client.
    pub(super) fn flush_burst_locked(&mut self, st: &State) {
        let Some(b) = &mut self.burst else { return };
        if b.key.is_empty() {
            return;
        }
        if let Some(ch) = st.channels.get(&b.key) {
            for m in ch.members.iter().filter(|m| m.id != self.id) {
                // Members were fixed when the burst began: nothing runs between.
                debug_assert!(b.kinds & 1 << Variants::kind(m.caps) != 0, "member joined mid-burst");
                let lines = &b.lines[Variants::kind(m.caps)];
                if !lines.is_empty() {
                    m.out.push(lines);
                }
            }
        }
        // Freed, not kept: a client between bursts holds no buffers.
        *b = Burst::default();
    }
}

enum CanvasChange {
    Stroke,
    Clear,
}

/// What a TAGMSG does to the channel's canvas; an invalid stroke is an error.
fn canvas_tag(msg: &Message<'_>) -> Result<Option<CanvasChange>, canvas::DecodeError> {
    if msg.tag(canvas::CLEAR_TAG).is_some() {
        return Ok(Some(CanvasChange::Clear));
    }
    match msg.tag(canvas::STROKE_TAG) {
        Some(v) => canvas::Stroke::decode(&crate::line::unescape_tag_value(v)).map(|_| Some(CanvasChange::Stroke)),
        None => Ok(None),
    }
}
