//! Names on the server: what a valid nick or channel is, how they fold for
//! comparison, and the lengths we announce in ISUPPORT.

/// Longest nick.
pub const NICKLEN: usize = 30;
/// Longest channel name.
pub const CHANNELLEN: usize = 50;
/// Longest topic.
pub const TOPICLEN: usize = 390;
/// Longest KICK reason (with the kicker's prefix, the channel and the
/// nick, the line stays within 512 bytes).
pub const KICKLEN: usize = 255;
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

/// A ban or exception mask in its full `nick!user@host` form: `nick`
/// alone means `nick!*@*`, `user@host` means `*!user@host`, `nick!user`
/// means `nick!user@*`. None for a mask with spaces or control characters.
pub fn canon_mask(mask: &str) -> Option<String> {
    if mask.is_empty() || mask.len() > 100 || mask.starts_with(':') || mask.chars().any(|c| c == ' ' || c.is_control())
    {
        return None;
    }
    Some(match (mask.find('!'), mask.find('@')) {
        (Some(_), Some(_)) => mask.to_string(),
        (None, Some(_)) => format!("*!{mask}"),
        (Some(_), None) => format!("{mask}@*"),
        (None, None) => format!("{mask}!*@*"),
    })
}

/// Whether `text` matches the glob `mask` (`*` any run, `?` one
/// character), ignoring ASCII case as the casemapping does.
pub fn mask_match(mask: &str, text: &str) -> bool {
    let (m, t) = (mask.as_bytes(), text.as_bytes());
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and the text position it has taken up to.
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < m.len() && (m[i] == b'?' || m[i].eq_ignore_ascii_case(&t[j])) {
            i += 1;
            j += 1;
        } else if i < m.len() && m[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            // Let the last `*` take one more character and retry.
            star = Some((si, sj + 1));
            i = si + 1;
            j = sj + 1;
        } else {
            return false;
        }
    }
    m[i..].iter().all(|&b| b == b'*')
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

    #[test]
    fn masks() {
        assert_eq!(canon_mask("bob").as_deref(), Some("bob!*@*"));
        assert_eq!(canon_mask("*@10.0.0.*").as_deref(), Some("*!*@10.0.0.*"));
        assert_eq!(canon_mask("bob!b").as_deref(), Some("bob!b@*"));
        assert_eq!(canon_mask("a b"), None);
        assert!(mask_match("bob!*@*", "Bob!bob@127.0.0.1"));
        assert!(mask_match("*!*@127.0.0.?", "x!y@127.0.0.1"));
        assert!(!mask_match("*!*@127.0.0.?", "x!y@127.0.0.10"));
        assert!(mask_match("*", ""));
        assert!(mask_match("a*b*c", "aXXbYYc"));
        assert!(!mask_match("a*b*c", "aXXbYYd"));
        assert!(mask_match("*.lan", "pi.lan"));
        assert!(!mask_match("bob", "bobby"));
    }
}
