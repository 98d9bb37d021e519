//! Text emoticons such as `:)` turned into emoji, and the emoji offered by the
//! picker. No GUI code: the window calls [`emojify`] on each chat line it shows.
//!
//! An emoticon is replaced only when it stands as a word of its own (spaces or
//! the line's ends around it, or trailing punctuation), so `http://`, `a:b` and
//! `(x:D)` inside words are left alone.

use std::borrow::Cow;

/// Text emoticons and their emoji, longest first where one is a prefix of another.
pub const EMOTICONS: &[(&str, &str)] = &[
    (":'(", "😢"),
    (":-)", "🙂"),
    (":-(", "🙁"),
    (":-D", "😀"),
    (";-)", "😉"),
    (":-P", "😛"),
    (":-p", "😛"),
    (":-O", "😮"),
    (":-o", "😮"),
    (":-|", "😐"),
    (":-*", "😘"),
    ("</3", "💔"),
    ("<3", "❤️"),
    ("B-)", "😎"),
    ("8-)", "😎"),
    ("xD", "😆"),
    ("XD", "😆"),
    (":)", "🙂"),
    (":(", "🙁"),
    (":D", "😀"),
    (";)", "😉"),
    (":P", "😛"),
    (":p", "😛"),
    (":O", "😮"),
    (":o", "😮"),
    (":|", "😐"),
    (":*", "😘"),
    ("^^", "😊"),
];

/// The emoji the picker offers, in its order.
pub const PICKER: &[&str] = &[
    "🙂", "😀", "😆", "😉", "😊", "😎", "😛", "😮", "😐", "🙁", "😢", "😘", "❤️", "💔", "👍", "👎", "👋", "🙏", "🎉",
    "🔥", "✅", "❌", "☕", "🍕",
];

/// Punctuation that may follow an emoticon without gluing it to a word.
fn ends_word(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c.is_whitespace() || matches!(c, ',' | '.' | '!' | '?' | ';'),
    }
}

/// Replaces the text emoticons standing as words in `text` with emoji.
/// Borrows when there is nothing to replace.
pub fn emojify(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut i = 0;
    let mut prev: Option<char> = None;
    while i < text.len() {
        let rest = &text[i..];
        if prev.is_none_or(char::is_whitespace)
            && let Some((from, to)) = EMOTICONS
                .iter()
                .find(|(from, _)| rest.starts_with(from) && ends_word(rest[from.len()..].chars().next()))
        {
            let out = out.get_or_insert_with(|| text[..i].to_owned());
            out.push_str(to);
            i += from.len();
            prev = from.chars().last();
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if let Some(out) = out.as_mut() {
            out.push(c);
        }
        prev = Some(c);
        i += c.len_utf8();
    }
    match out {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_words() {
        assert_eq!(emojify("hi :)"), "hi 🙂");
        assert_eq!(emojify(":D"), "😀");
        assert_eq!(emojify(":-) and ;)"), "🙂 and 😉");
        assert_eq!(emojify("love <3!"), "love ❤️!");
        assert_eq!(emojify("sad :'( really"), "sad 😢 really");
        assert_eq!(emojify(":) :)"), "🙂 🙂");
    }

    #[test]
    fn leaves_other_text_alone() {
        for s in ["http://example", "a:)", ":)b", "(x:D)", "ratio 3:1", "", "é:)", "plain"] {
            assert_eq!(emojify(s), s, "{s}");
            assert!(matches!(emojify(s), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn keeps_multibyte_text() {
        assert_eq!(emojify("héllo :) wörld"), "héllo 🙂 wörld");
        assert_eq!(emojify("🙂 :("), "🙂 🙁");
    }

    #[test]
    fn every_emoticon_maps_and_picker_is_not_empty() {
        for (from, to) in EMOTICONS {
            assert_eq!(emojify(from), *to);
        }
        assert!(PICKER.len() >= 12);
    }
}
