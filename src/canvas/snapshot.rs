//! How a snapshot travels: the PNG in base64, cut into pieces that fit a
//! client tag (`+lanchat/snapshot=I/N,DATA`), and put back together.

/// Base64 characters per piece: with the key and `I/N,` the tag stays
/// under the 4,094 bytes of client tag data.
pub const PIECE: usize = 4000;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = u32::from(c[0]) << 16 | u32::from(*c.get(1).unwrap_or(&0)) << 8 | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            s.push(if k <= c.len() { char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]) } else { '=' });
        }
    }
    s
}

pub fn unbase64(s: &str) -> Result<Vec<u8>, &'static str> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut n) = (0u32, 0);
    for b in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == b).ok_or("bad base64")? as u32;
        acc = acc << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
    }
    Ok(out)
}

/// The tag values of a snapshot (`I/N,DATA`); an empty PNG is a blank canvas.
pub fn pieces(png: &[u8]) -> Vec<String> {
    let b64 = base64(png);
    let parts: Vec<&str> = if b64.is_empty() {
        vec![""]
    } else {
        b64.as_bytes().chunks(PIECE).map(|c| std::str::from_utf8(c).unwrap_or("")).collect()
    };
    let n = parts.len();
    parts.iter().enumerate().map(|(i, p)| format!("{}/{n},{p}", i + 1)).collect()
}

/// Gathers the pieces of one snapshot.
#[derive(Default, Debug)]
pub struct Gather {
    b64: String,
    next: usize,
}

impl Gather {
    /// Takes one piece; at the last, the PNG (empty for a blank canvas).
    /// A piece out of order drops what was gathered.
    pub fn piece(&mut self, value: &str) -> Option<Result<Vec<u8>, &'static str>> {
        let parsed = value.split_once(',').and_then(|(pos, data)| {
            let (i, n) = pos.split_once('/')?;
            Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?, data))
        });
        let Some((i, n, data)) = parsed else { return Some(Err("malformed snapshot piece")) };
        if i == 1 {
            self.b64.clear();
            self.next = 1;
        }
        if i != self.next || i > n || i == 0 {
            self.next = 0;
            return Some(Err("snapshot pieces out of order"));
        }
        self.b64.push_str(data);
        self.next += 1;
        if i < n {
            return None;
        }
        self.next = 0;
        Some(unbase64(&std::mem::take(&mut self.b64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(unbase64("Zm9vYg==").unwrap(), b"foob");
        assert!(unbase64("Zm9v;").is_err());
    }

    #[test]
    fn pieces_fit_a_tag_and_gather_back() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31) as u8).collect();
        let p = pieces(&data);
        assert_eq!(p.len(), 4);
        assert!(p.iter().all(|v| v.len() + "+lanchat/snapshot=".len() <= crate::line::MAX_CLIENT_TAGS));
        assert!(p[0].starts_with("1/4,") && p[3].starts_with("4/4,"));
        let mut g = Gather::default();
        assert!(g.piece(&p[0]).is_none() && g.piece(&p[1]).is_none() && g.piece(&p[2]).is_none());
        assert_eq!(g.piece(&p[3]).unwrap().unwrap(), data);
        assert_eq!(pieces(&[]), ["1/1,"]);
        assert_eq!(g.piece("1/1,").unwrap().unwrap(), b"");
        assert!(g.piece("2/3,AAAA").unwrap().is_err());
        assert!(g.piece("x").unwrap().is_err());
    }
}
