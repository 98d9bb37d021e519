//! The IRCv3 WebSocket transport (RFC 6455): the handshake's key, a frame
//! decoder that streams payloads, and the reader/writer adapters that let
//! [`crate::server::session::serve`] treat a WebSocket as a socket of lines.
//!
//! The decoder works in place in the session's own read buffer and keeps
//! only a frame header's worth of state, so an idle WebSocket holds no
//! buffer, as an idle TCP connection holds none. Each data message becomes
//! one line (a `\n` is appended at its end): an over-long message is an
//! over-long line to the session, which answers 417 and skips it, the same
//! rule as for TCP. Outgoing lines become one frame each, text or binary.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use smol::io::{AsyncRead, AsyncWrite};

use crate::server::sock::Raw;

const OP_CONT: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;

/// Close codes we send.
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_PROTOCOL: u16 = 1002;

/// The subprotocols we speak, in no order of ours: the client's order decides.
pub const BINARY: &str = "binary.ircv3.net";
pub const TEXT: &str = "text.ircv3.net";

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut data = key.trim().as_bytes().to_vec();
    data.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&sha1(&data))
}

/// A valid `Sec-WebSocket-Key`: 16 bytes in base64.
pub fn valid_key(key: &str) -> bool {
    let k = key.trim().as_bytes();
    k.len() == 24 && k.ends_with(b"==") && k[..22].iter().all(|c| c.is_ascii_alphanumeric() || b"+/".contains(c))
}

/// The subprotocol to answer with, the client's first choice among ours
/// (`Sec-WebSocket-Protocol` lists them), and whether frames are binary.
/// None: no subprotocol, text frames (clients that offer none).
pub fn choose(offered: Option<&str>) -> Option<(&'static str, bool)> {
    offered?.split(',').map(str::trim).find_map(|p| match p {
        BINARY => Some((BINARY, true)),
        TEXT => Some((TEXT, false)),
        _ => None,
    })
}

/// SHA-1, for the handshake only (RFC 3174).
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for i in 0..80 {
            w[i] = if i < 16 {
                u32::from_be_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]])
            } else {
                (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1)
            };
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5A827999),
                1 => (b ^ c ^ d, 0x6ED9EBA1),
                2 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = u32::from(c[0]) << 16 | u32::from(*c.get(1).unwrap_or(&0)) << 8 | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// A client broke the protocol: the close code to send and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Violation {
    pub code: u16,
    pub why: &'static str,
}

const fn violation(why: &'static str) -> Violation {
    Violation { code: CLOSE_PROTOCOL, why }
}

/// A control frame the peer sent.
#[derive(Debug, PartialEq)]
pub enum Control<'a> {
    Ping(&'a [u8]),
    /// The close code, if any.
    Close(Option<u16>),
}

/// Decodes client frames as they arrive, in any pieces.
#[derive(Default)]
pub struct Decoder {
    /// The header being read (at most 2 + 8 + 4 bytes).
    hdr: [u8; 14],
    hdr_len: u8,
    /// Payload bytes left in the current frame; None while reading a header.
    left: Option<u64>,
    mask: [u8; 4],
    mask_at: usize,
    opcode: u8,
    fin: bool,
    /// A data message is open (fragments follow).
    in_message: bool,
    /// A control frame's payload (125 bytes at most, by the RFC).
    ctrl: Vec<u8>,
    /// The peer sent a close frame: nothing after it counts.
    pub closed: bool,
    /// The peer broke the protocol: nothing after that counts either.
    pub broken: Option<Violation>,
}

/// The header's full length once its first two bytes are known.
fn header_len(b1: u8) -> usize {
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
}

impl Decoder {
    /// Decodes the bytes read into `buf[1..]`, in place: the unmasked data
    /// payloads are moved to the front, each message followed by `\n`, and
    /// the returned count says how many bytes that is. (`buf[0]` is room for
    /// the `\n` of a message whose header came in an earlier read; every
    /// later header makes room for its own.) Control frames go to `control`.
    /// After a close frame, or a violation (in `broken`; an error once the
    /// lines before it are out), the rest is ignored.
    pub fn decode(&mut self, buf: &mut [u8], mut control: impl FnMut(Control<'_>)) -> Result<usize, Violation> {
        let (n, mut r, mut w) = (buf.len(), 1, 0);
        while !self.closed && self.broken.is_none() {
            let Some(left) = self.left else {
                if r == n {
                    break;
                }
                self.hdr[self.hdr_len as usize] = buf[r];
                self.hdr_len += 1;
                r += 1;
                if self.hdr_len >= 2
                    && self.hdr_len as usize == header_len(self.hdr[1])
                    && let Err(v) = self.start_frame()
                {
                    self.broken = Some(v);
                }
                continue;
            };
            if left > 0 {
                if r == n {
                    break;
                }
                let take = (left.min((n - r) as u64)) as usize;
                for i in r..r + take {
                    let b = buf[i] ^ self.mask[self.mask_at];
                    self.mask_at = (self.mask_at + 1) & 3;
                    if self.opcode >= OP_CLOSE {
                        self.ctrl.push(b);
                    } else {
                        buf[w] = b;
                        w += 1;
                    }
                }
                r += take;
                self.left = Some(left - take as u64);
                continue;
            }
            // The frame is complete.
            self.left = None;
            self.hdr_len = 0;
            match self.opcode {
                OP_PING => control(Control::Ping(&self.ctrl)),
                OP_PONG => {}
                OP_CLOSE => {
                    let code = (self.ctrl.len() >= 2).then(|| u16::from_be_bytes([self.ctrl[0], self.ctrl[1]]));
                    self.closed = true;
                    control(Control::Close(code));
                }
                _ if self.fin => {
                    self.in_message = false;
                    buf[w] = b'\n';
                    w += 1;
                }
                _ => self.in_message = true,
            }
            self.ctrl = Vec::new();
        }
        match self.broken {
            Some(v) if w == 0 => Err(v),
            _ => Ok(w),
        }
    }

    /// Checks a complete header and sets up its payload.
    fn start_frame(&mut self) -> Result<(), Violation> {
        let h = &self.hdr;
        let (b0, b1) = (h[0], h[1]);
        if b0 & 0x70 != 0 {
            return Err(violation("reserved bits set"));
        }
        if b1 & 0x80 == 0 {
            return Err(violation("unmasked frame"));
        }
        let (len, at) = payload_len(h);
        if len >> 63 != 0 {
            return Err(violation("frame length out of range"));
        }
        self.mask.copy_from_slice(&h[at..at + 4]);
        self.mask_at = 0;
        let opcode = b0 & 0x0f;
        self.fin = b0 & 0x80 != 0;
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG if !self.fin || len > 125 => {
                return Err(violation("control frame fragmented or over 125 bytes"));
            }
            OP_CLOSE | OP_PING | OP_PONG => {}
            OP_CONT if !self.in_message => return Err(violation("continuation without a message")),
            OP_TEXT | OP_BINARY if self.in_message => return Err(violation("new message inside a fragmented one")),
            OP_CONT | OP_TEXT | OP_BINARY => {}
            _ => return Err(violation("unknown opcode")),
        }
        // A control frame between fragments leaves the message open.
        self.opcode = if opcode == OP_CONT { OP_TEXT } else { opcode };
        self.left = Some(len);
        Ok(())
    }
}

/// Appends one unmasked server frame.
pub fn encode(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    frame(out, 0x80 | opcode, payload, None);
}

/// The first byte of a data frame (FIN and opcode): binary or text.
pub const fn data_frame(binary: bool) -> u8 {
    0x80 | if binary { OP_BINARY } else { OP_TEXT }
}

/// Appends each line of `text` (CR LF or LF ended; an empty one is
/// skipped) as one data frame whose first byte is `first`. The lines are
/// framed as they are queued, from a `str`: a text frame is UTF-8 by
/// construction, and the socket writer passes the frames on untouched.
pub fn encode_lines(out: &mut Vec<u8>, first: u8, text: &str) {
    // `split` on a char looks for it a word at a time (memchr), not byte by byte.
    for line in text.split('\n') {
        encode_line(out, first, line);
    }
}

/// [`encode_lines`] for what is known to be one line (a message fanned
/// out): no search for the line's end, which cost as much as the copy.
pub fn encode_line(out: &mut Vec<u8>, first: u8, line: &str) {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if !line.is_empty() {
        frame(out, first, line.as_bytes(), None);
    }
}

/// Appends one frame whose first byte (FIN and opcode) is `first`, its
/// payload masked with `mask` when there is one: a client's frames are
/// (the load generator and the tests speak as clients), a server's never.
pub fn frame(out: &mut Vec<u8>, first: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    let masked = if mask.is_some() { 0x80 } else { 0 };
    // Room first: the header's bytes are then pushed without a call each.
    out.reserve(14 + payload.len());
    out.push(first);
    match payload.len() {
        n @ 0..=125 => out.push(masked | n as u8),
        n @ 126..=0xffff => {
            out.push(masked | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(masked | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
}

/// A frame's payload length and header length, from its complete header.
fn payload_len(h: &[u8]) -> (u64, usize) {
    match h[1] & 0x7f {
        126 => (u64::from(u16::from_be_bytes([h[2], h[3]])), 4),
        127 => (u64::from_be_bytes(h[2..10].try_into().unwrap_or_default()), 10),
        l => (u64::from(l), 2),
    }
}

/// Bytes queued for the socket past which a ping gets no pong.
const PONG_BACKLOG: usize = 4096;

/// What the reading and writing sides share. Data frames are written
/// straight from the outbox's buffer, framed when they were queued; control
/// frames from the reading side (pong, close) wait here until the data
/// written so far ends on a frame boundary, so none lands inside a data frame.
struct Link {
    raw: Raw,
    out: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// Control frames waiting for the socket.
    bytes: Vec<u8>,
    /// A close frame is queued: no data frame may follow it.
    closing: bool,
    /// Where the data written so far stands in its frames.
    at: Cursor,
}

/// Follows the data written through its frames' headers (a few bytes a
/// frame, never the payloads), to know when a control frame may go.
#[derive(Default)]
struct Cursor {
    hdr: [u8; 10],
    hdr_len: u8,
    /// Payload bytes left in the current frame, once its header is complete.
    left: u64,
}

impl Cursor {
    fn at_boundary(&self) -> bool {
        self.hdr_len == 0 && self.left == 0
    }

    /// Bytes that surely belong to the frame being written (its header is
    /// taken a byte at a time: that only happens while a close waits).
    fn rest(&self) -> usize {
        if self.hdr_len == 0 { self.left.try_into().unwrap_or(usize::MAX) } else { 1 }
    }

    /// Moves past `bytes` written.
    fn advance(&mut self, bytes: &[u8]) {
        let mut at = 0;
        loop {
            // The rest of the current frame's payload.
            let skip = self.left.min((bytes.len() - at) as u64);
            self.left -= skip;
            at += skip as usize;
            let Some(&b) = bytes.get(at) else { return };
            // A whole header of 2 or 4 bytes at hand (nearly always: our
            // frames are unmasked, and lines are under 64 KiB).
            if self.hdr_len == 0 {
                match bytes.get(at + 1..at + 4) {
                    Some(&[b1, ..]) if b1 < 126 => {
                        (self.left, at) = (u64::from(b1), at + 2);
                        continue;
                    }
                    Some(&[126, hi, lo]) => {
                        (self.left, at) = (u64::from(u16::from_be_bytes([hi, lo])), at + 4);
                        continue;
                    }
                    _ => {}
                }
            }
            self.hdr[self.hdr_len as usize] = b;
            self.hdr_len += 1;
            at += 1;
            if self.hdr_len >= 2 && usize::from(self.hdr_len) == header_len(self.hdr[1]) {
                (self.left, self.hdr_len) = (payload_len(&self.hdr).0, 0);
            }
        }
    }
}

impl Link {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// From the reading side: queues a control frame and, between data
    /// frames, writes what the socket takes now, without waiting (the writer
    /// task owns waiting for room, and writes the rest before its next data).
    fn send_control(&self, opcode: u8, payload: &[u8]) {
        let mut p = self.pending();
        // A client that pings and never reads would queue pongs without end:
        // past a backlog, a ping goes unanswered (RFC 6455 lets a pong answer
        // only the latest ping).
        if p.closing || (opcode == OP_PONG && p.bytes.len() >= PONG_BACKLOG) {
            return;
        }
        p.closing = opcode == OP_CLOSE;
        encode(&mut p.bytes, opcode, payload);
        while p.at.at_boundary() && !p.bytes.is_empty() {
            match self.raw.get_ref().write(&p.bytes) {
                Ok(n) if n > 0 => drop(p.bytes.drain(..n)),
                _ => break,
            }
        }
    }
}

impl Pending {
    /// Writes the control frames waiting, if the data is between frames.
    fn poll_controls(&mut self, raw: &Raw, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.at.at_boundary() {
            return Poll::Ready(Ok(()));
        }
        while !self.bytes.is_empty() {
            let n = ready!(Pin::new(&mut &**raw).poll_write(cx, &self.bytes))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.bytes.drain(..n);
        }
        // An idle connection holds no buffer.
        self.bytes = Vec::new();
        Poll::Ready(Ok(()))
    }
}

/// The reading side: IRC lines out of client frames.
pub struct Reader {
    raw: Raw,
    dec: Decoder,
    link: Arc<Link>,
    failed: Option<Violation>,
}

/// The writing side: writes the frames the outbox made ([`encode_lines`]),
/// with the reading side's control frames between them.
pub struct Writer {
    link: Arc<Link>,
}

/// The adapters for a connection whose handshake is done.
pub fn split(raw: &Raw) -> (Reader, Writer) {
    let link = Arc::new(Link { raw: raw.clone(), out: Mutex::default() });
    let reader = Reader { raw: raw.clone(), dec: Decoder::default(), link: link.clone(), failed: None };
    (reader, Writer { link })
}

impl AsyncRead for Reader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        for _ in 0..READS_PER_POLL {
            if let Some(v) = me.dec.broken.filter(|_| me.failed.is_none()) {
                // The lines before the violation went out with the last read.
                me.link.send_control(OP_CLOSE, &v.code.to_be_bytes());
                me.failed = Some(v);
            }
            if let Some(v) = me.failed {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {}", v.why))));
            }
            if me.dec.closed {
                return Poll::Ready(Ok(0));
            }
            if buf.len() < 2 {
                return Poll::Ready(Err(io::ErrorKind::InvalidInput.into()));
            }
            let n = ready!(Pin::new(&mut &*me.raw).poll_read(cx, &mut buf[1..]))?;
            if n == 0 {
                return Poll::Ready(Ok(0));
            }
            let link = &me.link;
            let res = me.dec.decode(&mut buf[..1 + n], |c| match c {
                Control::Ping(payload) => link.send_control(OP_PONG, payload),
                Control::Close(code) => {
                    // Echo the code, as the RFC asks (none for none).
                    let code = code.map(u16::to_be_bytes);
                    link.send_control(OP_CLOSE, code.as_ref().map_or(&[][..], |c| &c[..]));
                }
            });
            match res {
                Ok(0) => {}
                Ok(w) => return Poll::Ready(Ok(w)),
                Err(_) => {}
            }
        }
        // Reads that held only control frames (a ping flood): let the
        // executor thread serve others before reading on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Socket reads one poll may make that yield no line.
const READS_PER_POLL: usize = 16;

impl AsyncWrite for Writer {
    /// Writes framed bytes as they are, once the control frames waiting are out.
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let raw = &self.link.raw;
        let mut p = self.link.pending();
        ready!(p.poll_controls(raw, cx))?;
        let mut buf = buf;
        if p.closing {
            if p.at.at_boundary() {
                // The close frame went: what follows it is dropped.
                return Poll::Ready(Ok(buf.len()));
            }
            // A close is waiting: finish the frame being written, no more.
            buf = &buf[..p.at.rest().min(buf.len())];
        }
        let n = ready!(Pin::new(&mut &**raw).poll_write(cx, buf))?;
        p.at.advance(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.link.pending().poll_controls(&self.link.raw, cx)
    }

    /// Says goodbye with a close frame (unless one went already, or a data
    /// frame was left half-written), then shuts the socket's sending side.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut p = self.link.pending();
        if !p.closing && p.at.at_boundary() {
            p.closing = true;
            encode(&mut p.bytes, OP_CLOSE, &CLOSE_NORMAL.to_be_bytes());
        }
        ready!(p.poll_controls(&self.link.raw, cx))?;
        Poll::Ready(self.link.raw.get_ref().shutdown(std::net::Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut f = Vec::new();
        super::frame(&mut f, first, payload, Some(mask));
        f
    }

    /// Decodes `input` fed in pieces of `step` bytes; returns the lines and the controls.
    fn run(input: &[u8], step: usize) -> (Result<Vec<u8>, Violation>, Vec<String>) {
        let mut dec = Decoder::default();
        let (mut out, mut ctl) = (Vec::new(), Vec::new());
        for piece in input.chunks(step) {
            let mut buf = [&[0][..], piece].concat();
            match dec.decode(&mut buf, |c| ctl.push(format!("{c:?}"))) {
                Ok(w) => out.extend_from_slice(&buf[..w]),
                Err(v) => return (Err(v), ctl),
            }
        }
        (Ok(out), ctl)
    }

    #[test]
    fn the_accept_key_matches_the_rfc_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_key("short"));
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn the_client_order_of_subprotocols_wins() {
        assert_eq!(choose(Some("text.ircv3.net, binary.ircv3.net")), Some((TEXT, false)));
        assert_eq!(choose(Some("foo, binary.ircv3.net,text.ircv3.net")), Some((BINARY, true)));
        assert_eq!(choose(Some("foo")), None);
        assert_eq!(choose(None), None);
    }

    #[test]
    fn fragments_and_controls_decode_the_same_in_any_pieces() {
        let mut input = frame(0x81, b"NICK a", [1, 2, 3, 4]);
        input.extend(frame(0x01, b"PRIVMSG #x :he", [9, 8, 7, 6]));
        input.extend(frame(0x89, b"hi", [5, 5, 5, 5]));
        input.extend(frame(0x80, b"llo", [0, 0, 0, 0]));
        input.extend(frame(0x82, &[b'x'; 300], [3, 1, 4, 1]));
        input.extend(frame(0x88, &1000u16.to_be_bytes(), [7, 7, 7, 7]));
        input.extend(frame(0x81, b"after close", [1, 1, 1, 1]));
        let want = [&b"NICK a\nPRIVMSG #x :hello\n"[..], &[b'x'; 300], b"\n"].concat();
        for step in [1, 2, 3, 7, 100, input.len()] {
            let (out, ctl) = run(&input, step);
            assert_eq!(out.unwrap(), want, "step {step}");
            assert_eq!(ctl, ["Ping([104, 105])", "Close(Some(1000))"]);
        }
    }

    #[test]
    fn protocol_violations_are_refused() {
        let cases: [(Vec<u8>, &str); 6] = [
            (vec![0x81, 0x02, b'h', b'i'], "unmasked frame"),
            (frame(0xC1, b"x", [1, 2, 3, 4]), "reserved bits set"),
            (frame(0x80, b"x", [1, 2, 3, 4]), "continuation without a message"),
            ([frame(0x01, b"x", [0; 4]), frame(0x81, b"y", [0; 4])].concat(), "new message inside a fragmented one"),
            (frame(0x09, b"x", [1, 2, 3, 4]), "control frame fragmented or over 125 bytes"),
            (frame(0x83, b"x", [1, 2, 3, 4]), "unknown opcode"),
        ];
        for (input, why) in cases {
            assert_eq!(run(&input, 1).0, Err(violation(why)));
        }
        // The lines before a violation in the same read still count.
        let mut input = frame(0x81, b"PING a", [1, 2, 3, 4]);
        input.extend([0x81, 0x01, b'x']);
        let mut dec = Decoder::default();
        let mut buf = [&[0][..], &input].concat();
        assert_eq!(dec.decode(&mut buf, |_| {}), Ok(7));
        assert_eq!(&buf[..7], b"PING a\n");
        assert_eq!(dec.broken, Some(violation("unmasked frame")));
        assert_eq!(dec.decode(&mut [0, 1], |_| {}), Err(violation("unmasked frame")));
    }

    #[test]
    fn queued_lines_become_one_frame_each() {
        let mut out = Vec::new();
        encode_lines(&mut out, data_frame(false), "PING :a\r\n\r\nNOTICE x :\u{e9}\nlast");
        let mut want = Vec::new();
        for line in ["PING :a", "NOTICE x :\u{e9}", "last"] {
            encode(&mut want, OP_TEXT, line.as_bytes());
        }
        assert_eq!(out, want);
    }

    /// The writer's cursor finds every frame boundary, and only those,
    /// whatever pieces the socket takes the bytes in.
    #[test]
    fn the_cursor_follows_frames_written_in_any_pieces() {
        let lens = [0, 1, 125, 126, 300, 0xffff, 0x10000, 5];
        let (mut out, mut ends) = (Vec::new(), Vec::new());
        for len in lens {
            encode(&mut out, OP_BINARY, &vec![b'x'; len]);
            ends.push(out.len());
        }
        for step in [1, 2, 3, 7, 1000, out.len()] {
            let mut at = Cursor::default();
            let mut seen = Vec::new();
            for (i, piece) in out.chunks(step).enumerate() {
                at.advance(piece);
                if at.at_boundary() {
                    seen.push((i * step + piece.len()).min(out.len()));
                }
            }
            let want: Vec<usize> = ends.iter().copied().filter(|e| e % step == 0 || *e == out.len()).collect();
            assert_eq!(seen, want, "step {step}");
        }
    }

    #[test]
    fn frames_are_encoded_with_the_shortest_length() {
        let mut out = Vec::new();
        encode(&mut out, OP_TEXT, b"hi");
        assert_eq!(out, [0x81, 2, b'h', b'i']);
        out.clear();
        encode(&mut out, OP_BINARY, &[0; 200]);
        assert_eq!(&out[..4], [0x82, 126, 0, 200]);
    }
}
