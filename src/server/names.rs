//! Names on the server: what a valid nick or channel is, how they fold for
//! comparison, and the lengths we announce in ISUPPORT.

/// Longest nick.
pub const NICKLEN: usize = 30;
/// Longest channel name.
pub const CHANNELLEN: usize = 50;
/// Longest topic.
pub const TOPICLEN: usize = 390;
/// Longest away message.
pub const AWAYLEN: usize = 200;
/// Longest user name.
pub const USERLEN: usize = 16;

/// Casefolds a nick or channel name by the `ascii` casemapping we announce.
pub fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A nick is a letter or one of `[]\`_^{|}`, then those, digits and `-`.
pub fn valid_nick(nick: &str) -> bool {
    let special = |c: char| "[]\\`_^{|}".contains(c);
    let mut chars = nick.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || special(c) => {}
        _ => return false,
    }
    nick.len() <= NICKLEN && chars.all(|c| c.is_ascii_alphanumeric() || special(c) || c == '-')
}

/// A channel is `#` then at least one character that is not a space,
/// comma, colon or control character.
pub fn valid_channel(name: &str) -> bool {
    name.len() > 1
        && name.len() <= CHANNELLEN
        && name.starts_with('#')
        && !name.chars().any(|c| c == ' ' || c == ',' || c == ':' || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks_and_channels() {
        assert!(valid_nick("alice"));
        assert!(valid_nick("[bot]_1-x"));
        assert!(!valid_nick("1alice"));
        assert!(!valid_nick("123"));
        assert!(!valid_nick(""));
        assert!(!valid_nick("a b"));
        assert!(!valid_nick(&"a".repeat(NICKLEN + 1)));
        assert!(valid_channel("#lobby"));
        assert!(!valid_channel("#"));
        assert!(!valid_channel("lobby"));
        assert!(!valid_channel("#a,b"));
        assert!(!valid_channel("#a\x07"));
        assert_eq!(fold("NiCk[]"), "nick[]");
    }
}
