//! Shared files on the web port: `POST /upload` with a connection's token,
//! and `GET`/`HEAD /f/<id>/<name>` for anyone with the link
//! (docs/PROTOCOL.md, "Files").
//!
//! The request head is read and checked on the executor like any other;
//! the body, and a download's bytes, go on a thread of their own in
//! blocking mode, so a slow SD card or a 100 MiB file never holds up chat.
//! The file streams to disk in pieces: it is never held in memory whole.

use std::io::{self, Read, Seek, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};

use super::http::{Request, Status};
use crate::files::human_size;
use crate::server::files::{Refusal, Slot, disk_full};
use crate::server::state::{Shared, UploadDenied};

/// What is read and thrown away after refusing an upload, so the refusal
/// reaches a client still sending (closing with unread data resets the
/// connection, and the answer with it).
pub const DRAIN: u64 = 8 << 20;
/// The slowest an upload or a download may go, on average, in bytes a second.
const MIN_RATE: u64 = 16 << 10;
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

/// An answer for a person: a status and a sentence.
pub struct Refused {
    pub status: Status,
    pub text: String,
    /// Extra header lines (CR LF ended).
    pub extra: String,
}

fn refused(status: Status, text: impl Into<String>) -> Refused {
    Refused { status, text: text.into(), extra: String::new() }
}

/// An upload whose head was accepted: what its thread needs. Its
/// connection counts as uploading until it is dropped.
pub struct Accepted {
    shared: Arc<Shared>,
    /// The upload's place among those running (taken with the head, so a
    /// refusal costs no thread).
    slot: Option<Slot>,
    token: [u8; 16],
    name: String,
    len: u64,
    expect_continue: bool,
}

impl Drop for Accepted {
    fn drop(&mut self) {
        self.shared.lock().end_upload(&self.token);
    }
}

/// Checks an upload's head: files on, the origin, the name, the length and
/// the token (whose connection is then marked as uploading).
pub fn check_upload(shared: &Arc<Shared>, req: &Request<'_>, origin_ok: bool, ip: IpAddr) -> Result<Accepted, Refused> {
    let Some(store) = &shared.files else {
        return Err(refused(Status::Unavailable, "File sharing is turned off on this server"));
    };
    if !origin_ok {
        return Err(refused(Status::Forbidden, "Uploads are only taken from this server's own page"));
    }
    let name = req.param("name").and_then(|n| crate::files::sanitize_name(&n));
    let Some(name) = name else {
        return Err(refused(Status::BadRequest, "The upload has no file name (?name=...)"));
    };
    if req.header("transfer-encoding").is_some() {
        return Err(refused(Status::LengthRequired, "Send the file with a Content-Length, not chunked"));
    }
    let Some(len) = req.header("content-length").and_then(|l| l.parse::<u64>().ok()) else {
        return Err(refused(Status::LengthRequired, "The upload has no Content-Length"));
    };
    let max = store.file_max.min(store.files_max);
    if len > max {
        let text = format!("{name} is {}; this server takes files up to {}", human_size(len), human_size(max));
        return Err(refused(Status::ContentTooLarge, text));
    }
    // The scheme's name is case-insensitive (RFC 9110 11.1).
    let token = req
        .header("authorization")
        .and_then(|a| a.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, t)| parse_token(t.trim()))
        .ok_or_else(|| refused(Status::Unauthorized, "Only people in the chat can upload (no valid token)"))?;
    match shared.lock().begin_upload(&token, Instant::now()) {
        Ok(_) => {}
        Err(UploadDenied::Unknown) => {
            return Err(refused(Status::Unauthorized, "Only people in the chat can upload (the token is not valid)"));
        }
        Err(UploadDenied::Busy) => {
            let mut r = refused(Status::TooManyRequests, "One upload at a time: wait for the one under way");
            r.extra = "Retry-After: 5\r\n".into();
            return Err(r);
        }
        Err(UploadDenied::Rate(wait)) => {
            let secs = wait.as_secs() + 1;
            let mut r = refused(Status::TooManyRequests, format!("Too many uploads: try again in {secs} s"));
            r.extra = format!("Retry-After: {secs}\r\n");
            return Err(r);
        }
    }
    let expect_continue = req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    let mut accepted = Accepted { shared: shared.clone(), slot: None, token, name, len, expect_continue };
    accepted.slot = Some(store.upload_slot(ip).ok_or_else(|| {
        let mut r = refused(Status::Unavailable, "Too many uploads at once: try again in a moment");
        r.extra = "Retry-After: 5\r\n".into();
        r
    })?);
    Ok(accepted)
}

fn parse_token(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let mut t = [0u8; 16];
    for (i, b) in t.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(t)
}

/// Receives an accepted upload's body (`start` is what came with the head)
/// on this thread, and answers.
pub fn receive(mut s: TcpStream, mut up: Accepted, start: Vec<u8>, peer: std::net::SocketAddr) {
    let result = store_body(&mut s, &mut up, start);
    let (len, asked) = (up.len, up.name.clone());
    // Done before the answer: the next upload may follow it at once.
    drop(up);
    match result {
        Ok((id, name)) => {
            info!("{peer}: shared {name} ({len} bytes) as {id}");
            let local = s.local_addr().map_or_else(|_| "localhost".into(), |a| a.to_string());
            let path = format!("/f/{id}/{}", crate::files::percent_encode(&name));
            let link = format!("http://{local}{path}\n");
            let extra = format!("Location: {path}\r\n");
            let head = head((201, "Created"), "text/plain; charset=utf-8", link.len() as u64, &extra);
            let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(link.as_bytes()));
        }
        Err(None) => info!("{peer}: an upload of {asked} ended before its end"),
        Err(Some(r)) => {
            info!("{peer}: upload of {asked} refused: {} {}", r.status.code().0, r.text);
            answer_blocking(&mut s, &r);
            drain_blocking(&mut s);
        }
    }
}

/// The body to disk; Err(None) when the client went away.
fn store_body(s: &mut TcpStream, up: &mut Accepted, start: Vec<u8>) -> Result<(String, String), Option<Refused>> {
    let store = up.shared.files.clone().ok_or(None)?;
    let mut file = store.begin(up.len, up.slot.take().ok_or(None)?).map_err(|r| {
        Some(match r {
            Refusal::TooLarge(why) => refused(Status::ContentTooLarge, why),
            Refusal::Disk(why) => disk_refusal(&io::Error::other(why)),
        })
    })?;
    if up.expect_continue {
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").map_err(|_| None)?;
    }
    let stall = up.shared.config.file_timeout;
    let _ = s.set_read_timeout(Some(stall));
    // A trickle that never stalls is ended too: the whole body must come
    // at MIN_RATE or better, after one stall's grace.
    let deadline = Instant::now() + stall + Duration::from_secs(up.len / MIN_RATE);
    let mut got = start.len().min(up.len as usize) as u64;
    file.write(&start[..got as usize]).map_err(|e| Some(disk_refusal(&e)))?;
    let mut buf = vec![0u8; 64 << 10];
    while got < up.len {
        let want = buf.len().min((up.len - got) as usize);
        match s.read(&mut buf[..want]) {
            Ok(0) => return Err(None),
            Ok(n) => {
                file.write(&buf[..n]).map_err(|e| Some(disk_refusal(&e)))?;
                got += n as u64;
                if got < up.len && Instant::now() > deadline {
                    let text = format!("The upload was too slow: under {} per second", human_size(MIN_RATE));
                    return Err(Some(refused(Status::Timeout, text)));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                let text = format!("The upload stalled: nothing came for {} s", stall.as_secs_f64());
                return Err(Some(refused(Status::Timeout, text)));
            }
            Err(_) => return Err(None),
        }
    }
    let id = file.id.clone();
    let name = file.finish(&up.name).map_err(|e| Some(disk_refusal(&e)))?;
    Ok((id, name))
}

fn disk_refusal(e: &io::Error) -> Refused {
    if disk_full(e) {
        warn!("an upload was refused: the disk is full");
        refused(Status::InsufficientStorage, "The server's disk is full: the file was not kept")
    } else {
        warn!("an upload failed: {e}");
        refused(Status::Internal, format!("The server could not keep the file: {e}"))
    }
}

/// `GET`/`HEAD /f/<id>/<name>`, on this thread: a picture inline, anything
/// else as a download, never anything a browser would run.
pub fn send(shared: Arc<Shared>, mut s: TcpStream, path: &str, head_only: bool) {
    let id = path.strip_prefix("/f/").and_then(|p| p.split('/').next()).unwrap_or("");
    let found = shared.files.as_ref().and_then(|f| f.open_file(id));
    let Some((mut file, name, len)) = found else {
        let r = refused(Status::NotFound, "No such file: the link is wrong, or the file was removed to make room");
        return answer_blocking(&mut s, &r);
    };
    let mut magic = [0u8; 8];
    let n = file.read(&mut magic).unwrap_or(0);
    if file.rewind().is_err() {
        return answer_blocking(&mut s, &refused(Status::Internal, "The file cannot be read"));
    }
    let encoded = crate::files::percent_encode(&name);
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    let (kind, disposition) = match crate::files::sniff_image(&magic[..n]) {
        Some(kind) => (kind, "inline"),
        None => ("application/octet-stream", "attachment"),
    };
    let extra = format!(
        "Content-Disposition: {disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}\r\n\
         Content-Security-Policy: default-src 'none'; sandbox\r\n\
         Cache-Control: public, max-age=31536000, immutable\r\n"
    );
    let head = head((200, "OK"), kind, len, &extra);
    let stall = shared.config.file_timeout;
    let _ = s.set_write_timeout(Some(stall));
    if s.write_all(head.as_bytes()).is_err() || head_only {
        return;
    }
    // As for uploads, a reader that takes a trickle is ended too, so it
    // cannot hold a download slot for hours.
    let deadline = Instant::now() + stall + Duration::from_secs(len / MIN_RATE);
    let mut sent = 0;
    while sent < len {
        if Instant::now() > deadline {
            return info!("a download of {id} was too slow: ended");
        }
        // std copies a file to a socket with sendfile: no buffer of ours.
        match io::copy(&mut (&mut file).take((len - sent).min(1 << 20)), &mut s) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(e) => return info!("a download of {id} stopped: {e}"),
        }
    }
}

/// An answer's head, with the headers every answer carries.
pub fn head(status: (u16, &str), kind: &str, len: u64, extra: &str) -> String {
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\nConnection: close\r\n\
         X-Content-Type-Options: nosniff\r\n{extra}\r\n",
        status.0, status.1
    )
}

/// A refusal as an answer: the status and its sentence.
pub fn answer_text(r: &Refused) -> Vec<u8> {
    let body = format!("{}\n", r.text);
    let extra = format!("Cache-Control: no-cache\r\n{}", r.extra);
    let mut out = head(r.status.code(), "text/plain; charset=utf-8", body.len() as u64, &extra).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn answer_blocking(s: &mut TcpStream, r: &Refused) {
    let _ = s.set_write_timeout(Some(DRAIN_TIME * 5));
    let _ = s.write_all(&answer_text(r));
}

/// Reads and drops what the client still sends, for a while, then closes.
fn drain_blocking(s: &mut TcpStream) {
    let _ = s.shutdown(std::net::Shutdown::Write);
    let _ = s.set_read_timeout(Some(DRAIN_TIME));
    let until = Instant::now() + DRAIN_TIME;
    let mut left = DRAIN;
    let mut buf = [0u8; 16 << 10];
    while left > 0 && Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n as u64),
        }
    }
}

/// Moves a connection off the executor to a thread of its own, in blocking mode.
pub fn to_thread(stream: async_net::TcpStream, name: &str, job: Box<dyn FnOnce(TcpStream) + Send>) {
    let raw: crate::server::sock::Raw = stream.into();
    let std_stream = match Arc::try_unwrap(raw) {
        Ok(a) => a.into_inner(),
        Err(shared) => shared.get_ref().try_clone(),
    };
    let Ok(s) = std_stream else { return };
    if s.set_nonblocking(false).is_err() {
        return;
    }
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(move || job(s)) {
        warn!("cannot start a thread for a file: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_hex_digits() {
        let t = parse_token("00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(crate::sys::hex(&t), "00112233445566778899aabbccddeeff");
        assert!(parse_token("00112233445566778899aabbccddeef").is_none());
        assert!(parse_token("00112233445566778899aabbccddeefg").is_none());
        assert!(parse_token("é0112233445566778899aabbccddeef").is_none());
    }
}
