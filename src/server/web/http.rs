//! HTTP/1.1 request heads, only as much as the page, the WebSocket
//! upgrade and shared files need: bounded, and an error status for the rest.

/// Longest request line (method, target, version).
pub const MAX_REQUEST_LINE: usize = 2048;
/// Longest request head, request line and headers together.
pub const MAX_HEAD: usize = 8192;

/// The answers we give besides the files and the upgrade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Timeout,
    LengthRequired,
    ContentTooLarge,
    UriTooLong,
    UpgradeRequired,
    TooManyRequests,
    HeadersTooLarge,
    Internal,
    Unavailable,
    InsufficientStorage,
}

impl Status {
    pub fn code(self) -> (u16, &'static str) {
        match self {
            Status::BadRequest => (400, "Bad Request"),
            Status::Unauthorized => (401, "Unauthorized"),
            Status::Forbidden => (403, "Forbidden"),
            Status::NotFound => (404, "Not Found"),
            Status::MethodNotAllowed => (405, "Method Not Allowed"),
            Status::Timeout => (408, "Request Timeout"),
            Status::LengthRequired => (411, "Length Required"),
            Status::ContentTooLarge => (413, "Content Too Large"),
            Status::UriTooLong => (414, "URI Too Long"),
            Status::UpgradeRequired => (426, "Upgrade Required"),
            Status::TooManyRequests => (429, "Too Many Requests"),
            Status::HeadersTooLarge => (431, "Request Header Fields Too Large"),
            Status::Internal => (500, "Internal Server Error"),
            Status::Unavailable => (503, "Service Unavailable"),
            Status::InsufficientStorage => (507, "Insufficient Storage"),
        }
    }
}

/// A parsed request head; everything borrows the bytes read.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// What follows `?`, if anything (without a `#` part).
    pub query: &'a str,
    headers: Vec<(&'a str, &'a str)>,
}

impl Request<'_> {
    /// A header's value (the first, if repeated), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// A query parameter's value, percent-decoded (the first, if repeated).
    pub fn param(&self, name: &str) -> Option<String> {
        let pairs = self.query.split('&').filter_map(|p| p.split_once('='));
        pairs.filter(|(n, _)| *n == name).find_map(|(_, v)| crate::files::percent_decode(&v.replace('+', " ")))
    }

    /// Whether a comma-separated header lists `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses the head at the start of `buf` (what has been read so far).
/// Ok(None): incomplete, read more. Ok(Some((request, length of the head))).
pub fn parse(buf: &[u8]) -> Result<Option<(Request<'_>, usize)>, Status> {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > MAX_REQUEST_LINE { Err(Status::UriTooLong) } else { Ok(None) };
    };
    if line_end > MAX_REQUEST_LINE {
        return Err(Status::UriTooLong);
    }
    // The head ends at an empty line (CR LF, or a bare LF as RFC 9112 tolerates).
    let mut end = None;
    let mut at = line_end + 1;
    while let Some(off) = buf[at..].iter().position(|&b| b == b'\n') {
        if buf[at..at + off].iter().all(|&b| b == b'\r') && off <= 1 {
            end = Some(at + off + 1);
            break;
        }
        at += off + 1;
    }
    let Some(end) = end else {
        return if buf.len() > MAX_HEAD { Err(Status::HeadersTooLarge) } else { Ok(None) };
    };
    if end > MAX_HEAD {
        return Err(Status::HeadersTooLarge);
    }
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| Status::BadRequest)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut parts = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    if !is_token(method) || !target.starts_with('/') || !matches!(version, "HTTP/1.1" | "HTTP/1.0") {
        return Err(Status::BadRequest);
    }
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Status::BadRequest);
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        // No obsolete line folding, no space before the colon (RFC 9112 5.1, 5.2).
        let (name, value) = line.split_once(':').ok_or(Status::BadRequest)?;
        if !is_token(name) || value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(Status::BadRequest);
        }
        headers.push((name, value.trim_matches([' ', '\t'])));
    }
    Ok(Some((Request { method, path, query, headers }, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_head_parses_in_any_piece() {
        let raw = b"GET /irc?x=1 HTTP/1.1\r\nHost: pi:8080\r\nConnection: keep-alive, Upgrade\r\n\r\nrest";
        for cut in 0..raw.len() - 4 {
            assert!(parse(&raw[..cut]).unwrap().is_none(), "cut {cut}");
        }
        let (req, len) = parse(raw).unwrap().unwrap();
        assert_eq!((req.method, req.path, len), ("GET", "/irc", raw.len() - 4));
        assert_eq!(req.header("host"), Some("pi:8080"));
        assert!(req.has_token("connection", "upgrade"));
        assert!(parse(b"GET / HTTP/1.0\n\n").unwrap().is_some());
        let raw = b"POST /upload?x=1&name=caf%C3%A9+menu.pdf#frag HTTP/1.1\r\n\r\n";
        let (req, _) = parse(raw).unwrap().unwrap();
        assert_eq!((req.path, req.param("name").as_deref()), ("/upload", Some("café menu.pdf")));
        assert_eq!(req.param("y"), None);
    }

    #[test]
    fn bad_heads_get_their_status() {
        for (raw, want) in [
            (&b"GET / HTTP/2.0\r\n\r\n"[..], Status::BadRequest),
            (b"GET http://x/ HTTP/1.1\r\n\r\n", Status::BadRequest),
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", Status::BadRequest),
            (b"GET / HTTP/1.1\r\n folded\r\n\r\n", Status::BadRequest),
            (b"GET /\xff HTTP/1.1\r\n\r\n", Status::BadRequest),
        ] {
            assert_eq!(parse(raw).unwrap_err(), want, "{}", String::from_utf8_lossy(raw));
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(parse(long.as_bytes()).unwrap_err(), Status::UriTooLong);
        assert_eq!(parse(&long.as_bytes()[..MAX_REQUEST_LINE + 1]).unwrap_err(), Status::UriTooLong);
        let big = format!("GET / HTTP/1.1\r\n{}", "X-A: b\r\n".repeat(MAX_HEAD / 8));
        assert_eq!(parse(big.as_bytes()).unwrap_err(), Status::HeadersTooLarge);
    }
}
