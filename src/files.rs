//! Shared files, as server and clients both see them: the link a message
//! carries, the names a file may have, what kind of picture it is, and its
//! size for a person. The protocol is in docs/PROTOCOL.md ("Files").

/// Longest file name kept, in bytes.
pub const MAX_NAME: usize = 100;

/// A message that is exactly a file link: `http(s)://HOST[:PORT]/f/<id>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The whole link, as posted.
    pub url: String,
    /// 32 lowercase hex digits.
    pub id: String,
    /// The file's name, percent-decoded.
    pub name: String,
}

impl Link {
    /// The link's path (`/f/<id>/<name>` as posted), for a page on the same server.
    pub fn path(&self) -> &str {
        let rest = self.url.split_once("://").map_or("", |(_, r)| r);
        rest.find('/').map_or("", |i| &rest[i..])
    }
}

/// Whether `s` is a file id: 32 lowercase hex digits.
pub fn valid_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The file link a message is, if it is one (surrounding spaces allowed).
pub fn link(text: &str) -> Option<Link> {
    let url = text.trim();
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    let (host, path) = rest.split_once('/')?;
    let (id, name) = path.strip_prefix("f/")?.split_once('/')?;
    if host.is_empty() || host.contains(char::is_whitespace) || !valid_id(id) {
        return None;
    }
    if name.is_empty() || name.contains(['/', '?', '#']) || name.contains(char::is_whitespace) {
        return None;
    }
    let name = percent_decode(name)?;
    Some(Link { url: url.to_string(), id: id.to_string(), name })
}

/// Whether the file at `path` can be sent to a server that takes files
/// up to `max` bytes: its size, or why not, for a person.
pub fn sendable(path: &std::path::Path, max: u64) -> Result<u64, String> {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    match std::fs::metadata(path) {
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        Ok(m) if !m.is_file() => Err(format!("{} is not a file", path.display())),
        Ok(m) if m.len() == 0 => Err(format!("{name} is empty")),
        Ok(m) if m.len() > max => {
            Err(format!("{name} is {}; this server takes files up to {}", human_size(m.len()), human_size(max)))
        }
        Ok(m) => Ok(m.len()),
    }
}

/// A path as typed after `/send`: quotes around it (as terminals paste
/// paths with spaces) removed, and a leading `~` for the home directory.
pub fn typed_path(arg: &str) -> std::path::PathBuf {
    let arg = arg.trim();
    let unquoted =
        ['"', '\''].iter().find_map(|q| arg.strip_prefix(*q).and_then(|a| a.strip_suffix(*q))).unwrap_or(arg);
    match (unquoted.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => unquoted.into(),
    }
}

/// Whether a name says PNG, JPEG or GIF (what the clients show inline).
pub fn is_image_name(name: &str) -> bool {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e).to_ascii_lowercase();
    matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "gif")
}

/// The picture type of a file's first bytes, if it is a PNG, JPEG or GIF:
/// the only things ever served inline.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

/// A name safe to keep on disk and put in a link: the last path component,
/// without control characters, `/ \ : * ? " < > |`, `%`, or leading dots
/// and spaces, at most [`MAX_NAME`] bytes. None when nothing is left.
pub fn sanitize_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // Also the invisible format characters: a right-to-left override makes
    // `a\u{202e}gnp.exe` read as `aexe.png`.
    let format =
        |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
    let kept: String = last.chars().filter(|c| !c.is_control() && !format(*c) && !r#":*?"<>|%"#.contains(*c)).collect();
    let kept = kept.trim().trim_start_matches(['.', ' ']);
    let mut end = kept.len().min(MAX_NAME);
    while !kept.is_char_boundary(end) {
        end -= 1;
    }
    let kept = kept[..end].trim_end();
    (!kept.is_empty()).then(|| kept.to_string())
}

/// Percent-encodes a name for a URL path or query: everything but
/// unreserved characters (RFC 3986) is encoded, UTF-8 byte by byte.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and nothing else); None for a bad escape or bytes
/// that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// A size for a person: `512 B`, `1.2 KiB`, `25.0 MiB`, `1.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_that_is_a_file_link_is_recognised() {
        let id = "0123456789abcdef0123456789abcdef";
        let l = link(&format!(" http://192.168.1.5:8080/f/{id}/caf%C3%A9%20menu.pdf ")).unwrap();
        assert_eq!((l.id.as_str(), l.name.as_str()), (id, "café menu.pdf"));
        assert_eq!(l.path(), format!("/f/{id}/caf%C3%A9%20menu.pdf"));
        assert!(link(&format!("https://pi/f/{id}/a.png")).is_some());
        for no in [
            format!("see http://pi/f/{id}/a.png"),
            format!("http://pi/f/{id}/"),
            format!("http://pi/f/{id}/a/b"),
            format!("http://pi/g/{id}/a.png"),
            "http://pi/f/0123/a.png".to_string(),
            format!("http://pi/f/{}/a.png", id.to_uppercase()),
            format!("ftp://pi/f/{id}/a.png"),
            format!("http://pi/f/{id}/%zz"),
        ] {
            assert!(link(&no).is_none(), "{no}");
        }
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(sanitize_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize_name(r"C:\Users\ann\photo.png").as_deref(), Some("photo.png"));
        assert_eq!(sanitize_name("..hidden").as_deref(), Some("hidden"));
        assert_eq!(sanitize_name("a\u{0}b\nc<d>e|f?.txt").as_deref(), Some("abcdef.txt"));
        assert_eq!(sanitize_name("100%.txt").as_deref(), Some("100.txt"));
        assert_eq!(sanitize_name("a\u{202e}gnp.exe").as_deref(), Some("agnp.exe"));
        assert_eq!(sanitize_name("../"), None);
        assert_eq!(sanitize_name(" .. "), None);
        let long = sanitize_name(&"é".repeat(80)).unwrap();
        assert!(long.len() <= MAX_NAME && long.chars().all(|c| c == 'é'));
        assert_eq!(typed_path("'/tmp/a b.txt'"), std::path::Path::new("/tmp/a b.txt"));
        assert_eq!(typed_path(" \"/tmp/a\" "), std::path::Path::new("/tmp/a"));
        let name = "naïve file (1).png";
        assert_eq!(percent_decode(&percent_encode(name)).as_deref(), Some(name));
    }

    #[test]
    fn pictures_are_known_by_their_bytes_and_sizes_read_well() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff_image(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_image(b"<html><script>"), None);
        assert!(is_image_name("A.JPG") && !is_image_name("a.svg") && !is_image_name("png"));
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(25 << 20), "25.0 MiB");
        assert_eq!(human_size(1 << 30), "1.0 GiB");
    }
}
