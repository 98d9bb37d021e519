//! Just enough HTTP/1.1 for shared files: upload one, ask its size, fetch
//! it into memory or to disk. Blocking, on the caller's thread (a thread of
//! its own, never the GUI's), one request per connection. Plain `http://`
//! only: that is what the server's web port speaks. Errors are sentences
//! for a person.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the server may stay silent, or not take what we write.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest answer head we read.
const MAX_HEAD: usize = 16 * 1024;
/// What progress callbacks are given between calls, at most.
const CHUNK: usize = 64 * 1024;

/// `(done, total)` in bytes, called as a transfer goes.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// An answer's status and the length it announced.
struct Answer {
    status: u16,
    length: Option<u64>,
    reader: BufReader<TcpStream>,
}

/// Splits `http://host:port/path` into the address and the path.
fn split(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// links can be fetched"))?;
    let (host, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    if host.is_empty() {
        return Err(format!("{url}: no server in the link"));
    }
    Ok((host, path))
}

/// Opens a connection and sends a request head (and the caller the body).
fn request(url: &str, method: &str, extra: &str) -> Result<(TcpStream, String), String> {
    let (host, path) = split(url)?;
    let with_port = if host.ends_with(']') || !host.contains(':') { format!("{host}:80") } else { host.to_string() };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot find {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot find {host}"))?;
    let stream =
        TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| format!("cannot connect to {host}: {e}"))?;
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n");
    (&stream).write_all(head.as_bytes()).map_err(|e| format!("cannot send to {host}: {e}"))?;
    Ok((stream, host.to_string()))
}

/// Reads an answer's head.
fn answer(stream: TcpStream) -> Result<Answer, String> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut read = 0;
    let mut status = None;
    let mut length = None;
    loop {
        line.clear();
        // Bounded: a line that never ends must not grow without end.
        let left = (MAX_HEAD - read) as u64;
        let n = (&mut reader).take(left).read_line(&mut line).map_err(|e| format!("no answer from the server: {e}"))?;
        read += n;
        if n == 0 || read >= MAX_HEAD {
            return Err("the server's answer was cut short".into());
        }
        let l = line.trim_end();
        if status.is_none() {
            let code = l.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok());
            status = Some(code.ok_or_else(|| format!("not an HTTP answer: {l}"))?);
        } else if l.is_empty() {
            break;
        } else if let Some((name, value)) = l.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
    Ok(Answer { status: status.unwrap_or(0), length, reader })
}

impl Answer {
    /// The error for a status other than 2xx: the server's own words.
    fn check(mut self) -> Result<Answer, String> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let mut body = Vec::new();
        let _ = (&mut self.reader).take(512).read_to_end(&mut body);
        let text = String::from_utf8_lossy(&body);
        let text = text.lines().next().unwrap_or("").trim();
        Err(match (text.is_empty(), self.status) {
            (false, _) => text.to_string(),
            // A HEAD's answer has no words of its own.
            (true, 404) => "the file is not on the server (any more)".into(),
            (true, 503) => "the server is busy or shares no files now; try again later".into(),
            (true, status) => format!("the server answered {status}"),
        })
    }

    /// Copies the body to `out`, reporting progress; the byte count.
    fn body_to(mut self, out: &mut dyn Write, max: u64, progress: Progress<'_>) -> Result<u64, String> {
        let total = self.length.unwrap_or(0);
        if self.length.is_some_and(|l| l > max) {
            return Err(format!("the file is larger than {}", crate::files::human_size(max)));
        }
        let mut buf = vec![0u8; CHUNK];
        let mut done = 0u64;
        loop {
            let n = self.reader.read(&mut buf).map_err(|e| format!("the download stopped: {e}"))?;
            if n == 0 {
                break;
            }
            done += n as u64;
            if done > max {
                return Err(format!("the file is larger than {}", crate::files::human_size(max)));
            }
            out.write_all(&buf[..n]).map_err(|e| format!("cannot write the file: {e}"))?;
            progress(done, total.max(done));
        }
        if self.length.is_some_and(|l| l != done) {
            return Err("the download was cut short".into());
        }
        Ok(done)
    }
}

/// A file's size, from a HEAD request.
pub fn head(url: &str) -> Result<u64, String> {
    let (stream, _) = request(url, "HEAD", "")?;
    let a = answer(stream)?.check()?;
    a.length.ok_or_else(|| "the server did not say the size".into())
}

/// A whole file in memory, refused when over `max` bytes.
pub fn get(url: &str, max: u64) -> Result<Vec<u8>, String> {
    let (stream, _) = request(url, "GET", "")?;
    let mut out = Vec::new();
    answer(stream)?.check()?.body_to(&mut out, max, &mut |_, _| {})?;
    Ok(out)
}

/// Saves a file at `dest`, through a temporary file beside it and a rename,
/// so `dest` is never a half file. The byte count.
pub fn download(url: &str, dest: &Path, progress: Progress<'_>) -> Result<u64, String> {
    let (stream, _) = request(url, "GET", "")?;
    let a = answer(stream)?.check()?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{name}.part"));
    let mut file = File::create(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    let result = a.body_to(&mut file, u64::MAX, progress).and_then(|n| {
        file.sync_all().map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, dest).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        Ok(n)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Uploads the file at `path` as `name` to the server's upload address
/// with the connection's token; the file's link.
pub fn upload(url: &str, token: &str, path: &Path, name: &str, progress: Progress<'_>) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let total = file.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
    let target = format!("{url}?name={}", crate::files::percent_encode(name));
    let extra = format!(
        "Authorization: Bearer {token}\r\nContent-Length: {total}\r\nContent-Type: application/octet-stream\r\n"
    );
    let (mut stream, host) = request(&target, "POST", &extra)?;
    let mut buf = vec![0u8; CHUNK];
    let mut sent = 0u64;
    while sent < total {
        let n = file.read(&mut buf).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            return Err(format!("{} shrank while it was being sent", path.display()));
        }
        let n = n.min((total - sent) as usize);
        if let Err(e) = stream.write_all(&buf[..n]) {
            // The server may have refused early (a size or a token) and
            // closed: its answer says why better than the broken pipe.
            return match stream.try_clone().map_err(|e| e.to_string()).and_then(answer) {
                Ok(a) => a.check().and(Err(format!("cannot send to {host}: {e}"))),
                Err(_) => Err(format!("cannot send to {host}: {e}")),
            };
        }
        sent += n as u64;
        progress(sent, total);
    }
    let mut a = answer(stream)?.check()?;
    let mut body = String::new();
    (&mut a.reader).take(4096).read_to_string(&mut body).map_err(|e| format!("no answer from the server: {e}"))?;
    let link = body.trim();
    if crate::files::link(link).is_none() {
        return Err(format!("the server's answer is not a file link: {link}"));
    }
    Ok(link.to_string())
}
