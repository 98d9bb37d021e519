//! A client's outgoing queue and the task that drains it to the socket.
//!
//! A message fanned out to a channel is formatted once (an `Arc<str>` shared
//! by every recipient's turn of the fan-out), and its bytes are appended to
//! each recipient's pending buffer: the copy the socket write needs anyway,
//! made once, with no per-line queue entry or reference count. Only the
//! first push to an idle queue wakes the writer, which swaps the whole
//! buffer out under a short lock and writes it, 64 KiB per system call at
//! most. The queue is bounded in bytes (the "sendq"): a client that stops
//! reading is cut off the moment its queue is full, so it never slows anyone
//! else down.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use smol::io::{AsyncWrite, AsyncWriteExt};

use super::runtime::Runtime;
use super::sock::Raw;
use super::web::websocket;

/// One formatted line, CR LF included, shared between recipients.
pub type Line = Arc<str>;

/// Most bytes handed to one write; a stall, and the room made, are judged per chunk.
const WRITE_CHUNK: usize = 64 * 1024;

/// Buffers given up by connections that went idle, kept for the next burst.
/// Freeing a buffer and growing a new one cost more than the rest of a
/// delivery (page faults and copies, in the profile of a busy channel,
/// twice as much with musl's allocator); a shared spare list keeps that
/// saving without a buffer per idle client. One per server ([`super::runtime::Runtime`]).
#[derive(Default)]
pub struct SparePool(Mutex<Spare>);

/// Most bytes of capacity kept spare, and the largest buffer kept.
const SPARE_BYTES: usize = 4 << 20;
const SPARE_CAPACITY: usize = 128 * 1024;

#[derive(Default)]
struct Spare {
    buffers: Vec<Vec<u8>>,
    /// Their capacity in all.
    bytes: usize,
}

impl SparePool {
    fn list(&self) -> MutexGuard<'_, Spare> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer for a connection that has none.
    fn take(&self) -> Vec<u8> {
        let mut spare = self.list();
        match spare.buffers.pop() {
            Some(buf) => {
                spare.bytes -= buf.capacity();
                buf
            }
            None => Vec::with_capacity(1024),
        }
    }

    /// Keeps an idle connection's buffer for another, or frees it.
    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > SPARE_CAPACITY {
            return;
        }
        buf.clear();
        let mut spare = self.list();
        if spare.bytes + buf.capacity() <= SPARE_BYTES {
            spare.bytes += buf.capacity();
            spare.buffers.push(buf);
        }
    }
}

/// The sending side of a client's queue; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Queue>,
    limit: usize,
    /// None for a queue with no connection behind it ([`Outbox::detached`]).
    stream: Option<Raw>,
    spare: Arc<SparePool>,
    /// For a WebSocket, the first byte of a data frame: each line is queued
    /// as a frame ([`websocket::encode_lines`]), so fanning a line out costs
    /// a WebSocket client one copy, as it costs a TCP client.
    frames: Option<u8>,
}

#[derive(Default)]
struct Queue {
    /// Bytes waiting for the writer.
    pending: Vec<u8>,
    /// Bytes the writer took and has not finished writing.
    writing: usize,
    /// The writer, when it waits for bytes.
    waker: Option<Waker>,
    /// The writer wrote a chunk since the session last asked ([`Outbox::room`]).
    room_made: bool,
    /// The session, when it waits for room.
    room_waker: Option<Waker>,
    /// No more lines: the writer drains what is pending, then closes.
    closed: bool,
    /// Cut off: nothing more is written.
    dead: bool,
    overflowed: bool,
    /// While a labeled command runs: what it sends, held back to be labeled.
    held: Option<Vec<u8>>,
}

/// How the lines of a push are laid out, which a WebSocket's framing needs to know.
enum Shape<'a> {
    /// Any number of lines.
    Lines,
    /// Exactly one.
    One,
    /// A run fanned out to many: framed once for all ([`Framed`]).
    Shared(&'a mut Framed),
}

/// A run of lines fanned out to many, framed once per kind of WebSocket
/// data frame (text or binary) the first time a WebSocket client needs it:
/// every other such client then gets a copy, as a TCP client gets the lines.
#[derive(Default)]
pub struct Framed(Vec<(u8, Vec<u8>)>);

impl Framed {
    fn get(&mut self, first: u8, lines: &str) -> &[u8] {
        let at = match self.0.iter().position(|(f, _)| *f == first) {
            Some(at) => at,
            None => {
                let mut bytes = Vec::with_capacity(lines.len() + lines.len() / 16);
                websocket::encode_lines(&mut bytes, first, lines);
                self.0.push((first, bytes));
                self.0.len() - 1
            }
        };
        &self.0[at].1
    }
}

impl Inner {
    /// Appends whole lines to what the writer will write, framed if need be.
    fn append(&self, to: &mut Vec<u8>, lines: &str, shape: Shape<'_>) {
        match (self.frames, shape) {
            (None, _) => to.extend_from_slice(lines.as_bytes()),
            (Some(first), Shape::Lines) => websocket::encode_lines(to, first, lines),
            (Some(first), Shape::One) => websocket::encode_line(to, first, lines),
            (Some(first), Shape::Shared(framed)) => to.extend_from_slice(framed.get(first, lines)),
        }
    }

    /// A panic while holding this lock leaves plain bytes and flags behind,
    /// nothing half-changed that matters: a poisoned lock is used as it is.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Outbox {
    /// Creates the queue and spawns its writer task, which writes to
    /// `writer` (the socket, or the writing half of its TLS stream); `raw`
    /// is the socket itself, shut down to cut the connection off. A write
    /// that cannot finish within `stall` (the peer stopped reading) ends the
    /// connection, so a departed client never holds its socket for good.
    /// `frames`: the first byte of a WebSocket data frame, when lines go out
    /// framed (the writer is a [`websocket::Writer`]).
    pub fn start<W>(rt: &Runtime, writer: W, raw: Raw, limit: usize, stall: Duration, frames: Option<u8>) -> Outbox
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let queue = Mutex::new(Queue::default());
        let inner = Arc::new(Inner { queue, limit, stream: Some(raw), spare: rt.spare.clone(), frames });
        rt.spawn(write_loop(inner.clone(), writer, stall));
        Outbox { inner }
    }

    /// Waits until the writer has made room since the last call (true), or
    /// the connection is cut off (false). A waker in the queue, not a
    /// channel: a channel costs every connection 768 bytes.
    pub async fn room(&self) -> bool {
        std::future::poll_fn(|cx| {
            let mut q = self.inner.queue();
            if std::mem::take(&mut q.room_made) {
                Poll::Ready(true)
            } else if q.dead {
                Poll::Ready(false)
            } else {
                q.room_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// The address of our end of the connection (the one the client reached).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.inner.stream.as_ref()?.get_ref().local_addr().ok()
    }

    /// A queue with nothing draining it, for tests of the state: lines pile
    /// up until the limit, as for a client that never reads.
    pub fn detached(limit: usize) -> Outbox {
        let inner = Inner { queue: Mutex::default(), limit, stream: None, spare: Arc::default(), frames: None };
        Outbox { inner: Arc::new(inner) }
    }

    /// Queues whole lines (CR LF included; one, or a burst of them). Returns
    /// false when the connection is closing or cut off; kills the connection
    /// when its queue is full.
    pub fn push(&self, line: &str) -> bool {
        self.push_as(line, Shape::Lines)
    }

    /// [`Outbox::push`] for exactly one line, CR LF ended (a message fanned
    /// out): a WebSocket frames it without looking for more line ends.
    pub fn push_line(&self, line: &str) -> bool {
        debug_assert!(line.find('\n') == Some(line.len() - 1), "not one line: {line:?}");
        self.push_as(line, Shape::One)
    }

    /// [`Outbox::push`] for a run of lines fanned out to many, each client
    /// given the same `framed` for the same `lines`.
    pub fn push_shared(&self, lines: &str, framed: &mut Framed) -> bool {
        self.push_as(lines, Shape::Shared(framed))
    }

    fn push_as(&self, line: &str, shape: Shape<'_>) -> bool {
        let mut q = self.inner.queue();
        if q.dead || q.closed {
            return false;
        }
        let held = q.held.as_ref().map_or(0, Vec::len);
        if q.pending.len() + q.writing + held + line.len() > self.inner.limit {
            // The client stopped reading: what waits is dropped, ERROR goes
            // after the chunk being written (a client that reads again sees
            // why it was cut off), and the reading half is shut, so the
            // session ends now and everyone else is told at once.
            q.overflowed = true;
            q.pending.clear();
            self.inner.append(&mut q.pending, "ERROR :Closing Link: (SendQ exceeded)\r\n", Shape::One);
            q.closed = true;
            let waker = q.waker.take();
            drop(q);
            if let Some(stream) = &self.inner.stream {
                let _ = stream.get_ref().shutdown(std::net::Shutdown::Read);
            }
            if let Some(w) = waker {
                w.wake();
            }
            return false;
        }
        if let Some(h) = &mut q.held {
            h.extend_from_slice(line.as_bytes());
            return true;
        }
        if q.pending.capacity() == 0 {
            q.pending = self.inner.spare.take();
        }
        self.inner.append(&mut q.pending, line, shape);
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Holds back what is pushed from now on, until [`Outbox::release`]:
    /// the answer to one labeled command (labeled-response).
    pub fn hold(&self) {
        self.inner.queue().held = Some(Vec::new());
    }

    /// Ends [`Outbox::hold`], returning what was held (to be pushed labeled).
    pub fn release(&self) -> Vec<u8> {
        self.inner.queue().held.take().unwrap_or_default()
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        let q = self.inner.queue();
        q.pending.len() + q.writing
    }

    /// The sendq limit in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// True when the connection was cut off because the queue was full.
    pub fn overflowed(&self) -> bool {
        self.inner.queue().overflowed
    }

    /// True once the connection was cut off.
    pub fn is_dead(&self) -> bool {
        self.inner.queue().dead
    }

    /// Cuts the connection off at once: the socket is shut down, which ends
    /// the writer and makes the session's next read fail, so the session
    /// cleans up through its ordinary path.
    pub fn kill(&self) {
        let mut q = self.inner.queue();
        if q.dead {
            return;
        }
        q.dead = true;
        self.inner.spare.give(std::mem::take(&mut q.pending));
        let wakers = [q.waker.take(), q.room_waker.take()];
        drop(q);
        if let Some(stream) = &self.inner.stream {
            let _ = stream.get_ref().shutdown(std::net::Shutdown::Both);
        }
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    /// Writes what is queued, then closes the socket (after QUIT or ERROR).
    pub fn close(&self) {
        let mut q = self.inner.queue();
        q.closed = true;
        let waker = q.waker.take();
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Waits until there are bytes to write (true) or the queue is closed and
/// drained, or cut off (false).
async fn ready(inner: &Inner) -> bool {
    std::future::poll_fn(|cx| {
        let mut q = inner.queue();
        if q.dead {
            Poll::Ready(false)
        } else if !q.pending.is_empty() {
            Poll::Ready(true)
        } else if q.closed {
            Poll::Ready(false)
        } else {
            if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                q.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        }
    })
    .await
}

async fn write_loop<W: AsyncWrite + Unpin>(inner: Arc<Inner>, mut stream: W, stall: Duration) {
    let mut buf: Vec<u8> = Vec::new();
    while ready(&inner).await {
        // Let the task that woke us (usually a session fanning a batch of
        // lines out) run on, so more lines are waiting: one write, not many.
        smol::future::yield_now().await;
        {
            let mut q = inner.queue();
            if q.dead {
                break;
            }
            std::mem::swap(&mut q.pending, &mut buf);
            q.writing = buf.len();
        }
        let mut written = true;
        for chunk in buf.chunks(WRITE_CHUNK) {
            written = smol::future::or(async { stream.write_all(chunk).await.is_ok() }, async {
                smol::Timer::after(stall).await;
                false
            })
            .await;
            if !written {
                break;
            }
            // Room counts per chunk: a client reading a large backlog steadily
            // is neither cut off by the sendq nor kept waiting by a JOIN replay
            // until the whole backlog is out.
            let room_waker = {
                let mut q = inner.queue();
                q.writing -= chunk.len();
                q.room_made = true;
                q.room_waker.take()
            };
            if let Some(w) = room_waker {
                w.wake();
            }
        }
        // TLS holds the last record until flushed (plain TCP: nothing to do).
        if !written
            || !smol::future::or(async { stream.flush().await.is_ok() }, async {
                smol::Timer::after(stall).await;
                false
            })
            .await
        {
            break;
        }
        let idle = {
            let mut q = inner.queue();
            let idle = q.pending.is_empty();
            if idle {
                // The buffer handed over at the swap: an idle connection holds none.
                inner.spare.give(std::mem::take(&mut q.pending));
            }
            idle
        };
        if idle || buf.capacity() > 4 * WRITE_CHUNK {
            inner.spare.give(std::mem::take(&mut buf));
        } else {
            buf.clear();
        }
    }
    // A TLS stream says close_notify; then the socket goes, whatever the writer is.
    let _ = smol::future::or(async { stream.close().await.is_ok() }, async {
        smol::Timer::after(Duration::from_secs(1)).await;
        false
    })
    .await;
    let room_waker = {
        let mut q = inner.queue();
        q.dead = true;
        q.room_waker.take()
    };
    if let Some(w) = room_waker {
        w.wake();
    }
    if let Some(raw) = &inner.stream {
        let _ = raw.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::AsyncReadExt;

    /// A backlog larger than one write counts as written chunk by chunk: the
    /// first room signal comes while most of it still waits, and every byte
    /// arrives.
    #[test]
    fn room_is_made_per_chunk_of_a_large_backlog() {
        let rt = Runtime::default();
        rt.run(async {
            let listener = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut peer = async_net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
            let (stream, _) = listener.accept().await.unwrap();
            let total = 16 << 20;
            let out = Outbox::start(&rt, stream.clone(), stream.into(), 2 * total, Duration::from_secs(60), None);
            let line = "x".repeat(1022) + "\r\n";
            for _ in 0..total / line.len() {
                assert!(out.push(&line));
            }
            // The peer reads nothing yet: the socket takes a few MiB at most.
            let first = smol::future::or(out.room(), async {
                smol::Timer::after(Duration::from_secs(20)).await;
                false
            });
            assert!(first.await, "no room signal while the backlog was being written");
            let queued = out.queued();
            assert!(queued > 0 && queued < total, "queued {queued} of {total}");
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            while got < total {
                let n = peer.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed after {got} bytes");
                got += n;
            }
            assert_eq!(got, total);
        });
    }
}
