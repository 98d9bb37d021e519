//! The connection actor: one thread that owns the socket and the timers and
//! feeds what happens to the [`Core`], which decides everything else.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use async_net::TcpStream;
use smol::future::{or, pending};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::core::{Action, Core, Now};
use super::{Command, Event, TransferState};
use crate::line::Message;

/// The front end's handle on the connection thread.
#[derive(Clone)]
pub struct Handle {
    tx: Sender<Command>,
}

impl Handle {
    /// Queues a command; never blocks. After the thread ended it is dropped.
    pub fn send(&self, cmd: Command) {
        let _ = self.tx.try_send(cmd);
    }
}

/// Starts the connection thread. It does nothing until [`Command::Connect`],
/// and ends after [`Command::Quit`] (or when every [`Handle`] is dropped).
pub fn spawn(on_event: impl Fn(Event) + Send + 'static) -> Handle {
    let (tx, rx) = async_channel::unbounded();
    std::thread::Builder::new()
        .name("lanchat-client".into())
        .spawn(move || smol::block_on(actor(rx, on_event)))
        .expect("cannot start the client thread");
    Handle { tx }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A server line longer than this (tags included) is an attack or a bug.
const MAX_LINE: usize = 64 * 1024;

/// A connection to the server: plain TCP or TLS.
trait Duplex: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Duplex for T {}
type Stream = Box<dyn Duplex>;

/// Why a connection could not be opened.
enum Failure {
    /// Said for the user; the core tries again later.
    Lost(String),
    /// TLS: the server showed `seen`, not the pinned certificate.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Changed { pinned: String, seen: String },
}

/// An open connection, and over TLS the fingerprint of the server's certificate.
type Opened = (Stream, Option<String>);
type Connecting = Pin<Box<dyn Future<Output = Result<Opened, Failure>>>>;

/// Opens a TCP connection, and with `tls` (the pinned fingerprint, if any) a
/// TLS handshake on it; both within [`CONNECT_TIMEOUT`].
async fn open(addr: String, tls: Option<Option<String>>) -> Result<Opened, Failure> {
    let connect = async {
        let tcp = TcpStream::connect(addr.as_str())
            .await
            .map_err(|e| Failure::Lost(format!("cannot connect to {addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match tls {
            None => Ok((Box::new(tcp) as Stream, None)),
            Some(pin) => handshake(tcp, &addr, pin).await,
        }
    };
    let timeout = async {
        smol::Timer::after(CONNECT_TIMEOUT).await;
        Err(Failure::Lost(format!("cannot connect to {addr}: timed out")))
    };
    or(connect, timeout).await
}

#[cfg(feature = "tls")]
async fn handshake(tcp: TcpStream, addr: &str, pin: Option<String>) -> Result<Opened, Failure> {
    match super::tls::handshake(tcp, addr, pin.as_deref()).await {
        Ok((stream, fp)) => Ok((Box::new(stream), Some(fp))),
        Err(super::tls::Failure::Changed { pinned, seen }) => Err(Failure::Changed { pinned, seen }),
        Err(super::tls::Failure::Other(e)) => Err(Failure::Lost(e)),
    }
}

#[cfg(not(feature = "tls"))]
async fn handshake(_: TcpStream, _: &str, _: Option<String>) -> Result<Opened, Failure> {
    Err(Failure::Lost(NO_TLS.into()))
}

/// What a build without the `tls` feature says when asked for TLS.
#[cfg(not(feature = "tls"))]
pub const NO_TLS: &str = "this build has no TLS";

/// The sockets, and what the core's actions do to them.
struct Io<'a, E: Fn(Event)> {
    emit: &'a E,
    stream: Option<Stream>,
    connecting: Option<Connecting>,
    /// Lines for `stream`, written at the next turn of the loop.
    out: Vec<u8>,
    /// Received bytes not yet split into lines.
    buf: Vec<u8>,
    /// Closed connections with their last lines (a QUIT), to write before dropping.
    closing: Vec<(Stream, Vec<u8>)>,
    /// Events that follow a close, held until its last lines are written: a
    /// front end that ends the process at Disconnected must not cut off the QUIT.
    deferred: Vec<Event>,
    /// Where the upload thread reports ([`upload`]).
    uploads: Sender<Event>,
    /// The upload thread's queue, once there is one: one file at a time,
    /// as the server takes them from one connection.
    jobs: Option<Sender<Job>>,
    exit: bool,
}

impl<'a, E: Fn(Event)> Io<'a, E> {
    fn new(emit: &'a E, uploads: Sender<Event>) -> Self {
        let (out, buf, closing, deferred) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        Io { emit, stream: None, connecting: None, out, buf, closing, deferred, uploads, jobs: None, exit: false }
    }

    /// Carries out the core's actions; true when the connection was closed
    /// or replaced, so the rest of what it sent is not for the core any more.
    fn apply(&mut self, actions: Vec<Action>) -> bool {
        let mut closed = false;
        for action in actions {
            match action {
                Action::Send(line) => {
                    // Never let a CR or LF from user text split one line into two commands.
                    self.out.extend(line.bytes().filter(|&b| b != b'\r' && b != b'\n' && b != 0));
                    self.out.extend_from_slice(b"\r\n");
                }
                Action::Emit(ev) if self.closing.is_empty() => (self.emit)(ev),
                Action::Emit(ev) => self.deferred.push(ev),
                Action::Close => closed |= self.close(),
                Action::Connect(addr) => {
                    closed |= self.close();
                    self.connecting = Some(Box::pin(open(addr, None)));
                }
                Action::ConnectTls { addr, pin } => {
                    closed |= self.close();
                    self.connecting = Some(Box::pin(open(addr, Some(pin))));
                }
                Action::Exit => {
                    closed |= self.close();
                    self.exit = true;
                }
                Action::Upload { id, url, token, path, target, max } => {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let job = Job { t: Transfer { id, target, name }, url, token, path, max };
                    if let Err(e) = self.uploader().try_send(job) {
                        let state = TransferState::Failed("cannot start the upload".into());
                        (self.emit)(e.into_inner().t.event(0, 0, state));
                    }
                }
            }
        }
        closed
    }

    /// The upload thread's queue, starting the thread on first use.
    #[inline(never)] // out of the actor's loop, where it would be inlined
    fn uploader(&mut self) -> &Sender<Job> {
        self.jobs.get_or_insert_with(|| {
            let (tx, rx) = async_channel::unbounded::<Job>();
            let report = self.uploads.clone();
            let run = move || {
                while let Ok(j) = rx.recv_blocking() {
                    upload(j.t, &j.url, &j.token, &j.path, j.max, &report);
                }
            };
            // Without the thread, the queue's receiver is gone and send() says so.
            let _ = std::thread::Builder::new().name("lanchat-upload".into()).spawn(run);
            tx
        })
    }

    fn close(&mut self) -> bool {
        self.connecting = None;
        self.buf.clear();
        let out = std::mem::take(&mut self.out);
        match self.stream.take() {
            Some(s) => {
                self.closing.push((s, out));
                true
            }
            None => false,
        }
    }
}

/// What woke the actor.
#[allow(clippy::large_enum_variant)] // lives on the stack for one wake-up
enum Wake {
    Connected(Result<Opened, Failure>),
    Read(std::io::Result<usize>),
    Cmd(Option<Command>),
    Upload(Event),
    Timer,
}

/// An upload for the upload thread.
struct Job {
    t: Transfer,
    url: String,
    token: String,
    path: std::path::PathBuf,
    max: u64,
}

/// Which upload a thread reports on.
struct Transfer {
    id: u64,
    target: String,
    name: String,
}

impl Transfer {
    fn event(&self, done: u64, total: u64, state: TransferState) -> Event {
        let (id, target, name) = (self.id, self.target.clone(), self.name.clone());
        Event::Transfer { id, target, name, done, total, state }
    }
}

/// Uploads a file on a thread of its own, reporting to the actor: progress
/// at most once per percent, then Done or Failed.
#[inline(never)]
fn upload(t: Transfer, url: &str, token: &str, path: &std::path::Path, max: u64, report: &Sender<Event>) {
    let send = |ev| {
        let _ = report.send_blocking(ev);
    };
    let size = crate::files::sendable(path, max);
    let total = size.as_ref().map_or(0, |n| *n);
    let result = match size {
        Err(why) => Err(why),
        Ok(_) => {
            let name = crate::files::sanitize_name(&t.name).unwrap_or_else(|| "file".into());
            let mut last = None;
            let mut progress = |done: u64, total: u64| {
                let percent = (done * 100).checked_div(total).unwrap_or(100);
                if last != Some(percent) {
                    last = Some(percent);
                    send(t.event(done, total, TransferState::Running));
                }
            };
            super::http::upload(url, token, path, &name, &mut progress)
        }
    };
    send(match result {
        Ok(link) => t.event(total, total, TransferState::Done(link)),
        Err(why) => t.event(0, total, TransferState::Failed(why)),
    });
}

async fn actor(rx: Receiver<Command>, emit: impl Fn(Event)) {
    let mut core = Core::with_seed(random_seed());
    let (uploads_tx, uploads) = async_channel::unbounded();
    let mut io = Io::new(&emit, uploads_tx);
    let mut chunk = [0u8; 4096];
    let mut front_gone = false;
    loop {
        for (mut s, last) in io.closing.drain(..) {
            // close() flushes (TLS buffers what is written) and sends TLS's close_notify.
            let _ = s.write_all(&last).await;
            let _ = s.close().await;
        }
        for ev in io.deferred.drain(..) {
            emit(ev);
        }
        if io.exit {
            return;
        }
        if !io.out.is_empty() {
            let out = std::mem::take(&mut io.out);
            if let Some(s) = &mut io.stream
                && let Err(e) = async {
                    s.write_all(&out).await?;
                    s.flush().await
                }
                .await
            {
                io.stream = None;
                io.apply(core.on_lost(&e.to_string(), Now::real()));
                continue;
            }
        }
        let deadline = core.next_timer();
        let net = async {
            match (&mut io.stream, &mut io.connecting) {
                (Some(s), _) => Wake::Read(s.read(&mut chunk).await),
                (None, Some(c)) => Wake::Connected(c.await),
                (None, None) => pending().await,
            }
        };
        let cmd = async { if front_gone { pending().await } else { Wake::Cmd(rx.recv().await.ok()) } };
        let cmd = or(cmd, async { Wake::Upload(uploads.recv().await.expect("the actor holds a sender")) });
        let timer = async {
            match deadline {
                Some(at) => smol::Timer::at(at).await,
                None => pending().await,
            };
            Wake::Timer
        };
        let wake = or(net, or(cmd, timer)).await;
        let now = Now::real();
        let actions = match wake {
            Wake::Connected(Ok((s, fingerprint))) => {
                io.connecting = None;
                io.stream = Some(s);
                match fingerprint {
                    Some(fp) => core.on_connected_tls(&fp, now),
                    None => core.on_connected(now),
                }
            }
            Wake::Connected(Err(Failure::Lost(e))) => {
                io.connecting = None;
                core.on_lost(&e, now)
            }
            Wake::Connected(Err(Failure::Changed { pinned, seen })) => {
                io.connecting = None;
                core.on_cert_changed(&pinned, &seen, now)
            }
            Wake::Read(Ok(0)) => {
                io.stream = None;
                core.on_lost("the server closed the connection", now)
            }
            // rustls reports a TLS peer gone without close_notify (a killed
            // server) as UnexpectedEof, with a URL: to a person it is a close.
            Wake::Read(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                io.stream = None;
                core.on_lost("the server closed the connection", now)
            }
            Wake::Read(Err(e)) => {
                io.stream = None;
                core.on_lost(&e.to_string(), now)
            }
            Wake::Read(Ok(n)) => {
                io.buf.extend_from_slice(&chunk[..n]);
                feed_lines(&mut core, &mut io, now)
            }
            Wake::Cmd(None) => {
                // Every Handle is gone: nobody will ask again.
                front_gone = true;
                core.on_command(Command::Quit, now)
            }
            Wake::Cmd(Some(cmd)) => core.on_command(cmd, now),
            Wake::Upload(ev) => {
                let posted = match &ev {
                    Event::Transfer { target, state: TransferState::Done(link), .. } => {
                        Some((target.clone(), link.clone()))
                    }
                    _ => None,
                };
                io.apply(vec![Action::Emit(ev)]);
                match posted {
                    Some((target, link)) => core.on_uploaded(target, link, now),
                    None => Vec::new(),
                }
            }
            Wake::Timer => core.on_timer(now),
        };
        io.apply(actions);
    }
}

/// A seed for the core's reconnect jitter, different for every connection
/// thread: std's hash keys are random per thread (and per map after that).
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

/// Hands each complete line in the buffer to the core, until the core
/// closes the connection; returns what it asks after the last one.
fn feed_lines<E: Fn(Event)>(core: &mut Core, io: &mut Io<'_, E>, now: Now) -> Vec<Action> {
    let mut start = 0;
    while let Some(off) = io.buf[start..].iter().position(|&b| b == b'\n') {
        let actions = {
            let text = String::from_utf8_lossy(&io.buf[start..start + off]);
            start += off + 1;
            match Message::parse(text.trim_end_matches('\r')) {
                Ok(msg) => core.on_line(&msg, now),
                Err(_) => continue,
            }
        };
        if io.apply(actions) {
            return Vec::new();
        }
    }
    io.buf.drain(..start);
    if io.buf.len() > MAX_LINE {
        io.stream = None;
        io.buf.clear();
        return core.on_lost("the server sent an endless line", now);
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crlf_in_user_text_never_splits_a_line() {
        let emit = |_: Event| {};
        let mut io = Io::new(&emit, async_channel::unbounded().0);
        io.apply(vec![Action::Send("PRIVMSG #a :x\r\nQUIT".into())]);
        assert_eq!(io.out, b"PRIVMSG #a :xQUIT\r\n");
    }
}
