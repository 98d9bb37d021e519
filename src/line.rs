//! The IRC line: parsing and formatting, without copies.
//!
//! [`Message::parse`] splits one line (without its CR LF) into borrowed
//! parts; nothing is allocated unless a tag value needs unescaping. The
//! grammar follows the Modern IRC client protocol document: optional
//! `@tags`, optional `:source`, a command, up to [`MAX_PARAMS`] parameters
//! of which the last may be a `:trailing` one. Runs of spaces separate atoms,
//! as RFC 1459 says. Parsing never panics, whatever the input.

use std::borrow::Cow;
use std::fmt::Write;

/// Most parameters a message may carry (RFC 2812).
pub const MAX_PARAMS: usize = 15;
/// Longest line without its tags, CR LF included (RFC 1459).
pub const MAX_LINE: usize = 512;
/// Longest tag section, `@` and the trailing space included (IRCv3 message-tags).
pub const MAX_TAGS: usize = 8191;
/// Longest client-only tag data a client may send (IRCv3 message-tags).
pub const MAX_CLIENT_TAGS: usize = 4094;

/// One parsed IRC message borrowing from its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The raw tag section, without the `@`; empty when there are no tags.
    pub tags: &'a str,
    /// The source (prefix), without the `:`.
    pub source: Option<&'a str>,
    /// The command or numeric, as sent (case is not changed).
    pub command: &'a str,
    /// The parameters, the trailing one included without its `:`.
    pub params: heapless::Vec<&'a str, MAX_PARAMS>,
}

/// Why a line is not a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but spaces, or tags and source without a command.
    NoCommand,
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParseError::NoCommand => "no command",
            ParseError::TooManyParams => "too many parameters",
        })
    }
}

impl std::error::Error for ParseError {}

impl<'a> Message<'a> {
    /// Parses one line, which must not contain its CR LF.
    pub fn parse(line: &'a str) -> Result<Message<'a>, ParseError> {
        let mut rest = line.trim_start_matches(' ');
        let mut tags = "";
        if let Some(after) = rest.strip_prefix('@') {
            let (t, r) = split_atom(after);
            tags = t;
            rest = r;
        }
        let mut source = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (s, r) = split_atom(after);
            source = Some(s);
            rest = r;
        }
        let (command, mut rest) = split_atom(rest);
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let mut params = heapless::Vec::new();
        while !rest.is_empty() {
            let param = if let Some(trailing) = rest.strip_prefix(':') {
                rest = "";
                trailing
            } else {
                let (p, r) = split_atom(rest);
                rest = r;
                p
            };
            params.push(param).map_err(|_| ParseError::TooManyParams)?;
        }
        Ok(Message { tags, source, command, params })
    }

    /// The tags as `(key, raw value)` pairs, in order; see [`unescape_tag_value`].
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.tags.split(';').map(|t| t.split_once('=').unwrap_or((t, ""))).filter(|(k, _)| !k.is_empty())
    }

    /// The raw value of the last tag named `key` (later duplicates win).
    pub fn tag(&self, key: &str) -> Option<&'a str> {
        self.tags().filter(|(k, _)| *k == key).last().map(|(_, v)| v)
    }

    /// Parameter `i`, or the empty string.
    pub fn param(&self, i: usize) -> &'a str {
        self.params.get(i).copied().unwrap_or("")
    }

    /// The nick part of the source, if there is a source.
    pub fn source_nick(&self) -> Option<&'a str> {
        self.source.map(|s| split_userhost(s).0)
    }
}

/// Splits off the next space-separated atom, skipping the spaces after it.
fn split_atom(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], s[i..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

/// Splits `nick!user@host` into its parts; missing parts are `None`.
pub fn split_userhost(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, host) = match s.split_once('@') {
        Some((r, h)) => (r, Some(h)),
        None => (s, None),
    };
    match rest.split_once('!') {
        Some((n, u)) => (n, Some(u), host),
        None => (rest, None, host),
    }
}

/// Unescapes an IRCv3 tag value; borrows when nothing is escaped.
pub fn unescape_tag_value(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Appends `value` to `out` with the IRCv3 tag escapes applied.
pub fn escape_tag_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends one whole message to `out`, without CR LF. Tag values are
/// escaped; the last parameter gets a `:` when it needs one (empty, has a
/// space, or starts with `:`).
pub fn write_message(out: &mut String, tags: &[(&str, &str)], source: Option<&str>, command: &str, params: &[&str]) {
    if !tags.is_empty() {
        out.push('@');
        for (i, (k, v)) in tags.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(k);
            if !v.is_empty() {
                out.push('=');
                escape_tag_value(v, out);
            }
        }
        out.push(' ');
    }
    if let Some(s) = source {
        let _ = write!(out, ":{s} ");
    }
    out.push_str(command);
    if let Some((last, middle)) = params.split_last() {
        for p in middle {
            out.push(' ');
            out.push_str(p);
        }
        out.push(' ');
        if last.is_empty() || last.contains(' ') || last.starts_with(':') {
            out.push(':');
        }
        out.push_str(last);
    }
}

/// Longest middle parameter [`write_line`] keeps; longer ones (echoed input) are cut.
pub const MAX_MIDDLE: usize = 128;

/// Appends one line ready to send, CR LF included, whatever its parameters
/// hold: each middle parameter is made a valid one (spaces and control
/// characters dropped, leading `:` removed, cut to [`MAX_MIDDLE`] bytes, `*`
/// when nothing is left); the trailing one, always sent with its `:`, loses
/// CR, LF and NUL; the whole is cut to [`MAX_LINE`] on a character boundary.
/// Replies built here cannot split into two lines or shift parameters,
/// whatever a client sent us to echo.
pub fn write_line(out: &mut String, source: Option<&str>, command: &str, middle: &[&str], trailing: Option<&str>) {
    let start = out.len();
    if let Some(s) = source {
        out.push(':');
        out.push_str(s);
        out.push(' ');
    }
    out.push_str(command);
    for p in middle {
        out.push(' ');
        let before = out.len();
        for c in p.trim_start_matches(':').chars().filter(|c| !c.is_control() && *c != ' ') {
            if out.len() - before + c.len_utf8() > MAX_MIDDLE {
                break;
            }
            out.push(c);
        }
        if out.len() == before {
            out.push('*');
        }
    }
    if let Some(t) = trailing {
        out.push_str(" :");
        out.extend(t.chars().filter(|c| !matches!(c, '\r' | '\n' | '\0')));
    }
    let mut end = out.len().min(start + MAX_LINE - 2);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_shapes() {
        let m = Message::parse("@a=1;b :nick!u@h PRIVMSG #c :hello world").unwrap();
        assert_eq!(m.tags, "a=1;b");
        assert_eq!(m.source, Some("nick!u@h"));
        assert_eq!(m.source_nick(), Some("nick"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(&m.params[..], &["#c", "hello world"]);
        assert_eq!(m.tag("b"), Some(""));
        assert_eq!(m.tag("a"), Some("1"));
        assert_eq!(m.tag("c"), None);
        // A tag needs a key: `=v` and empty tags are not tags.
        let m = Message::parse("@=v;;k=1;=w CMD").unwrap();
        assert_eq!(m.tags().collect::<Vec<_>>(), [("k", "1")]);
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(Message::parse(""), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("   "), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("@a=b"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse(":src"), Err(ParseError::NoCommand));
        let many = format!("CMD{}", " x".repeat(16));
        assert_eq!(Message::parse(&many), Err(ParseError::TooManyParams));
    }

    #[test]
    fn escapes_round_trip() {
        let mut s = String::new();
        escape_tag_value("a;b c\\d\r\n", &mut s);
        assert_eq!(s, "a\\:b\\sc\\\\d\\r\\n");
        assert_eq!(unescape_tag_value(&s), "a;b c\\d\r\n");
    }

    #[test]
    fn built_lines_are_always_one_valid_line() {
        let mut s = String::new();
        write_line(&mut s, Some("srv"), "401", &["me", ":x y\r\nQUIT"], Some("No such nick\r\nQUIT"));
        assert_eq!(s, ":srv 401 me xyQUIT :No such nickQUIT\r\n");
        s.clear();
        write_line(&mut s, None, "PONG", &["", &"é".repeat(100)], Some(""));
        let m = Message::parse(s.trim_end()).unwrap();
        assert_eq!(m.params[0], "*");
        assert_eq!(m.params[1].len(), MAX_MIDDLE);
        assert_eq!(m.params[2], "");
        drop(m);
        s.clear();
        write_line(&mut s, Some("srv"), "372", &["me"], Some(&"ü".repeat(600)));
        assert!(s.len() <= MAX_LINE && s.ends_with("\r\n"));
    }
}
