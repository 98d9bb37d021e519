//! The user list's menu, opened by a right click on a user: what a channel
//! operator can do to a member (voice, operator, kick, ban) and to the
//! channel (mute: only voiced users speak and draw), sent as standard IRC.
//! Everyone sees what was done in the log, as the server announces it.

use fltk::menu::{MenuButton, MenuButtonType};
use fltk::prelude::*;
use fltk::window::Window;

use crate::client::{DEFAULT_PREFIXES, bare_nick};

/// Something the menu offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Voice(bool),
    Op(bool),
    Kick,
    Ban,
    /// The channel: `+m` (only voiced users and operators speak and draw) or `-m`.
    Mute(bool),
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Voice(true) => "Give voice",
            Action::Voice(false) => "Take voice away",
            Action::Op(true) => "Make operator",
            Action::Op(false) => "Remove operator",
            Action::Kick => "Kick",
            Action::Ban => "Ban and kick",
            Action::Mute(true) => "Mute the channel (only voiced speak)",
            Action::Mute(false) => "Unmute the channel",
        }
    }

    /// The IRC lines that do it.
    pub fn lines(self, channel: &str, nick: &str) -> Vec<String> {
        let mode = |m: &str| format!("MODE {channel} {m} {nick}");
        match self {
            Action::Voice(on) => vec![mode(if on { "+v" } else { "-v" })],
            Action::Op(on) => vec![mode(if on { "+o" } else { "-o" })],
            Action::Kick => vec![format!("KICK {channel} {nick}")],
            Action::Ban => vec![format!("MODE {channel} +b {nick}!*@*"), format!("KICK {channel} {nick} :Banned")],
            Action::Mute(on) => vec![format!("MODE {channel} {}m", if on { '+' } else { '-' })],
        }
    }
}

/// The status symbols of a user-list entry (`@+` of `@+bob`).
fn status(entry: &str) -> &str {
    &entry[..entry.len() - bare_nick(entry, DEFAULT_PREFIXES).len()]
}

/// What the menu offers us (`me`, in the list `users`) for the entry
/// `entry`: nothing unless we are an operator of the channel.
pub fn offered(users: &[String], me: &str, entry: &str) -> Vec<Action> {
    let is_op =
        users.iter().any(|u| bare_nick(u, DEFAULT_PREFIXES).eq_ignore_ascii_case(me) && status(u).contains('@'));
    if !is_op {
        return Vec::new();
    }
    let s = status(entry);
    let mut v = vec![Action::Voice(!s.contains('+')), Action::Op(!s.contains('@'))];
    if !bare_nick(entry, DEFAULT_PREFIXES).eq_ignore_ascii_case(me) {
        v.extend([Action::Kick, Action::Ban]);
    }
    v.extend([Action::Mute(true), Action::Mute(false)]);
    v
}

/// The popup menu itself: one hidden menu button, refilled for each click.
pub struct UserMenu {
    button: MenuButton,
}

/// A menu that pops up at the mouse (`popup()`), refilled for each use:
/// a hidden menu button in `win`.
pub fn popup_menu(win: &mut Window) -> MenuButton {
    let mut button = MenuButton::new(0, 0, 1, 1, None);
    button.set_type(MenuButtonType::Popup3);
    button.hide();
    win.add(&button);
    button
}

impl UserMenu {
    pub fn new(win: &mut Window) -> UserMenu {
        UserMenu { button: popup_menu(win) }
    }

    /// Pops the menu up at the mouse for the user-list entry `entry` of
    /// `channel`; the IRC lines of the chosen action, if one was chosen.
    pub fn popup(&mut self, channel: &str, users: &[String], me: &str, entry: &str) -> Vec<String> {
        let actions = offered(users, me, entry);
        self.button.clear();
        if actions.is_empty() {
            self.button.add_choice("Only channel operators can moderate");
            if let Some(mut item) = self.button.at(0) {
                item.deactivate();
            }
        }
        for a in &actions {
            self.button.add_choice(a.label());
        }
        let Some(chosen) = self.button.popup().and_then(|item| item.label()) else { return Vec::new() };
        let nick = bare_nick(entry, DEFAULT_PREFIXES);
        actions.iter().find(|a| a.label() == chosen).map(|a| a.lines(channel, nick)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_operators_get_actions_fitting_the_member() {
        let users: Vec<String> = ["@ann", "+bob", "carl", "@+dee"].iter().map(|s| s.to_string()).collect();
        assert!(offered(&users, "bob", "carl").is_empty());
        let a = offered(&users, "ann", "+bob");
        assert_eq!(
            a,
            [
                Action::Voice(false),
                Action::Op(true),
                Action::Kick,
                Action::Ban,
                Action::Mute(true),
                Action::Mute(false)
            ]
        );
        assert_eq!(offered(&users, "ann", "@+dee")[..2], [Action::Voice(false), Action::Op(false)]);
        assert!(!offered(&users, "ann", "@ann").contains(&Action::Kick));
        assert_eq!(Action::Ban.lines("#c", "bob"), ["MODE #c +b bob!*@*", "KICK #c bob :Banned"]);
        assert_eq!(Action::Mute(true).lines("#c", "bob"), ["MODE #c +m"]);
        assert_eq!(Action::Voice(true).lines("#c", "bob"), ["MODE #c +v bob"]);
    }
}
