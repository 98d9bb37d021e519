//! Typing notices (the IRCv3 `+typing` client tag), with no IO: when to
//! send one as the input line changes, and who is typing where.
//!
//! The spec's pacing: `active` at most once every 3 seconds while typing,
//! `paused` when the typing stops for a while with text left, `done` when the
//! text is cleared or the conversation changes (a sent message implies done).
//! A received `active` lapses after 6 seconds without another, `paused`
//! after 30.

use std::time::{Duration, Instant};

use super::TypingState;

/// How often `active` is repeated while typing.
pub const ACTIVE_EVERY: Duration = Duration::from_secs(3);
/// No keystroke for this long with text left: `paused`.
pub const PAUSED_AFTER: Duration = Duration::from_secs(5);
const ACTIVE_LAPSES: Duration = Duration::from_secs(6);
const PAUSED_LAPSES: Duration = Duration::from_secs(30);

/// What we told whom about our own typing.
#[derive(Default)]
pub struct Outgoing {
    target: Option<String>,
    state: Option<TypingState>,
    last_active: Option<Instant>,
    last_edit: Option<Instant>,
}

impl Outgoing {
    /// The input line (for `target`) changed; `empty` when it has no text,
    /// `command` when it is a slash command (not typing to anyone).
    pub fn on_edit(&mut self, target: &str, empty: bool, command: bool, now: Instant) -> Vec<(String, TypingState)> {
        let mut out = Vec::new();
        if self.target.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case(target)) {
            out.extend(self.done());
        }
        if empty || command {
            out.extend(self.done());
            return out;
        }
        self.target = Some(target.to_owned());
        self.last_edit = Some(now);
        let due = self.state != Some(TypingState::Active)
            || self.last_active.is_none_or(|at| now.saturating_duration_since(at) >= ACTIVE_EVERY);
        if due {
            self.state = Some(TypingState::Active);
            self.last_active = Some(now);
            out.push((target.to_owned(), TypingState::Active));
        }
        out
    }

    /// Time passed: `paused` once the keys have been still for a while.
    pub fn on_tick(&mut self, now: Instant) -> Option<(String, TypingState)> {
        let still = self.last_edit.is_some_and(|at| now.saturating_duration_since(at) >= PAUSED_AFTER);
        if self.state == Some(TypingState::Active) && still {
            self.state = Some(TypingState::Paused);
            return Some((self.target.clone()?, TypingState::Paused));
        }
        None
    }

    /// The line was sent: that says done by itself.
    pub fn on_sent(&mut self) {
        *self = Outgoing::default();
    }

    fn done(&mut self) -> Option<(String, TypingState)> {
        let target = self.target.take();
        let was = self.state.take();
        self.last_active = None;
        target.filter(|_| was.is_some()).map(|t| (t, TypingState::Done))
    }
}

/// Who is typing in which conversation.
#[derive(Default)]
pub struct Incoming {
    /// Conversation (lowercased), nick, state and when it was said.
    typing: Vec<(String, String, TypingState, Instant)>,
}

impl Incoming {
    pub fn set(&mut self, target: &str, from: &str, state: TypingState, now: Instant) {
        let key = target.to_ascii_lowercase();
        self.typing.retain(|(t, n, ..)| !(t == &key && n.eq_ignore_ascii_case(from)));
        if state != TypingState::Done {
            self.typing.push((key, from.to_owned(), state, now));
        }
    }

    /// `from` said something (or left): no longer typing anywhere. True
    /// when they were.
    pub fn stop(&mut self, from: &str) -> bool {
        let before = self.typing.len();
        self.typing.retain(|(_, n, ..)| !n.eq_ignore_ascii_case(from));
        before != self.typing.len()
    }

    /// Drops notices that lapsed; true when any did.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.typing.len();
        self.typing.retain(|(_, _, state, at)| {
            let life = if *state == TypingState::Active { ACTIVE_LAPSES } else { PAUSED_LAPSES };
            now.saturating_duration_since(*at) < life
        });
        before != self.typing.len()
    }

    /// The line under a conversation's log: "alice is typing...", empty for
    /// nobody (a paused typist is not shown, only kept from lapsing).
    pub fn line(&self, target: &str) -> String {
        let key = target.to_ascii_lowercase();
        let active: Vec<&str> = self
            .typing
            .iter()
            .filter(|(t, _, s, _)| *t == key && *s == TypingState::Active)
            .map(|(_, n, ..)| n.as_str())
            .collect();
        match active[..] {
            [] => String::new(),
            [one] => format!("{one} is typing..."),
            [a, b] => format!("{a} and {b} are typing..."),
            _ => "several people are typing...".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TypingState::*;
    use super::*;

    #[test]
    fn active_is_paced_then_paused_then_done() {
        let t0 = Instant::now();
        let s = |x: u64| t0 + Duration::from_millis(x);
        let mut o = Outgoing::default();
        assert_eq!(o.on_edit("#a", false, false, s(0)), [("#a".into(), Active)]);
        assert!(o.on_edit("#a", false, false, s(1000)).is_empty(), "not again within 3 s");
        assert_eq!(o.on_edit("#a", false, false, s(3000)), [("#a".into(), Active)]);
        assert_eq!(o.on_tick(s(7000)), None, "4 s still: not yet paused");
        assert_eq!(o.on_tick(s(8000)), Some(("#a".into(), Paused)));
        assert_eq!(o.on_tick(s(9000)), None, "once");
        assert_eq!(o.on_edit("#a", false, false, s(9500)), [("#a".into(), Active)], "typing again");
        assert_eq!(o.on_edit("bob", false, false, s(9600)), [("#a".into(), Done), ("bob".into(), Active)]);
        assert_eq!(o.on_edit("bob", true, false, s(9700)), [("bob".into(), Done)], "cleared");
        assert!(o.on_edit("bob", true, false, s(9800)).is_empty(), "done once");
        assert_eq!(o.on_edit("bob", false, true, s(9900)), [], "a command is not typing");
        o.on_edit("bob", false, false, s(10000));
        o.on_sent();
        assert!(o.on_edit("bob", true, false, s(10100)).is_empty(), "a sent line already said done");
    }

    #[test]
    fn notices_lapse_and_read_as_a_line() {
        let t0 = Instant::now();
        let mut i = Incoming::default();
        i.set("#a", "alice", Active, t0);
        assert_eq!(i.line("#A"), "alice is typing...");
        assert_eq!(i.line("#b"), "");
        i.set("#a", "bob", Active, t0);
        assert_eq!(i.line("#a"), "alice and bob are typing...");
        i.set("#a", "bob", Done, t0);
        i.stop("ALICE");
        assert_eq!(i.line("#a"), "");
        i.set("#a", "alice", Active, t0);
        assert!(!i.expire(t0 + Duration::from_secs(5)));
        assert!(i.expire(t0 + Duration::from_secs(6)), "active lapses after 6 s");
        i.set("#a", "alice", Paused, t0);
        assert!(!i.expire(t0 + Duration::from_secs(29)));
        assert!(i.expire(t0 + Duration::from_secs(30)));
    }
}
