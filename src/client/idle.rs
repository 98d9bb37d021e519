//! Auto-away, with no clock of its own: away after a while without a key
//! pressed, back at the next key, but only when it was the timer that set it
//! (an away the user chose stays until they end it).

use std::time::{Duration, Instant};

pub struct AutoAway {
    /// None: never.
    after: Option<Duration>,
    last_key: Instant,
    /// The timer set the current away.
    set_by_timer: bool,
}

impl AutoAway {
    pub fn new(after: Option<Duration>, now: Instant) -> AutoAway {
        AutoAway { after: after.filter(|d| !d.is_zero()), last_key: now, set_by_timer: false }
    }

    /// A key was pressed: true when the away the timer set is to be ended.
    pub fn key(&mut self, now: Instant) -> bool {
        self.last_key = now;
        std::mem::take(&mut self.set_by_timer)
    }

    /// The user set or ended away themselves.
    pub fn chosen(&mut self) {
        self.set_by_timer = false;
    }

    /// Time passed: the away message to set now, if it is time (`away`:
    /// already away; `connected`: there is a server to tell).
    pub fn tick(&mut self, now: Instant, away: bool, connected: bool) -> Option<String> {
        let after = self.after?;
        if away || !connected || self.set_by_timer || now.saturating_duration_since(self.last_key) < after {
            return None;
        }
        self.set_by_timer = true;
        Some(format!("away (idle for {} min)", after.as_secs().div_ceil(60)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn away_after_the_idle_time_and_back_at_a_key() {
        let t0 = Instant::now();
        let min = |m: u64| t0 + Duration::from_secs(60 * m);
        let mut a = AutoAway::new(Some(Duration::from_secs(600)), t0);
        assert_eq!(a.tick(min(9), false, true), None);
        assert_eq!(a.tick(min(10), false, false), None, "not while disconnected");
        assert_eq!(a.tick(min(10), false, true).as_deref(), Some("away (idle for 10 min)"));
        assert_eq!(a.tick(min(11), true, true), None, "once");
        assert!(a.key(min(12)), "back at a key");
        assert!(!a.key(min(12)), "once");
        assert_eq!(a.tick(min(15), false, true), None, "idle counts from the last key");
        // Away by choice: the timer neither sets nor ends it.
        a.chosen();
        assert_eq!(a.tick(min(40), true, true), None);
        assert!(!a.key(min(41)));
        assert_eq!(AutoAway::new(Some(Duration::ZERO), t0).tick(min(99), false, true), None, "0 is never");
        assert_eq!(AutoAway::new(None, t0).tick(min(99), false, true), None);
    }
}
