//! A client's outgoing queue and the task that drains it to the socket.
//!
//! Lines are `Arc<str>`: a message fanned out to a channel is formatted once
//! and the same allocation sits in every recipient's queue. The queue is
//! bounded in bytes (the "sendq"): a client that stops reading is cut off
//! the moment its queue is full, so it never slows anyone else down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_channel::{Receiver, Sender};
use async_net::TcpStream;
use smol::io::AsyncWriteExt;

/// One formatted line, CR LF included, shared between recipients.
pub type Line = Arc<str>;

/// The sending side of a client's queue; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
    tx: Sender<Line>,
}

struct Inner {
    queued: AtomicUsize,
    limit: usize,
    dead: AtomicBool,
    overflowed: AtomicBool,
    stream: TcpStream,
}

impl Outbox {
    /// Creates the queue and spawns its writer task; returns the queue and a
    /// receiver that yields whenever the writer has made room. A write that
    /// cannot finish within `stall` (the peer stopped reading) ends the
    /// connection, so a departed client never holds its socket for good.
    pub fn start(stream: TcpStream, limit: usize, stall: Duration) -> (Outbox, Receiver<()>) {
        let (tx, rx) = async_channel::unbounded();
        let (room_tx, room_rx) = async_channel::bounded(1);
        let inner = Arc::new(Inner { queued: AtomicUsize::new(0), limit, dead: AtomicBool::new(false), overflowed: AtomicBool::new(false), stream });
        super::spawn(writer(inner.clone(), rx, room_tx, stall));
        (Outbox { inner, tx }, room_rx)
    }

    /// Queues a line for another client. Returns false, and kills the
    /// connection, when the client's queue is full.
    pub fn push(&self, line: &Line) -> bool {
        if self.is_dead() {
            return false;
        }
        let queued = self.inner.queued.fetch_add(line.len(), Ordering::AcqRel) + line.len();
        if queued > self.inner.limit {
            self.inner.overflowed.store(true, Ordering::Release);
            self.kill();
            return false;
        }
        self.tx.try_send(line.clone()).is_ok()
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.inner.queued.load(Ordering::Acquire)
    }

    /// The sendq limit in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// True when the connection was cut off because the queue was full.
    pub fn overflowed(&self) -> bool {
        self.inner.overflowed.load(Ordering::Acquire)
    }

    /// True once the connection was cut off.
    pub fn is_dead(&self) -> bool {
        self.inner.dead.load(Ordering::Acquire)
    }

    /// Cuts the connection off at once: the socket is shut down, which ends
    /// the writer and makes the session's next read fail, so the session
    /// cleans up through its ordinary path.
    pub fn kill(&self) {
        if !self.inner.dead.swap(true, Ordering::AcqRel) {
            let _ = self.inner.stream.shutdown(std::net::Shutdown::Both);
            self.tx.close();
        }
    }

    /// Writes what is queued, then closes the socket (after QUIT or ERROR).
    pub fn close(&self) {
        self.tx.close();
    }
}

async fn writer(inner: Arc<Inner>, rx: Receiver<Line>, room: Sender<()>, stall: Duration) {
    let mut stream = inner.stream.clone();
    let mut buf: Vec<u8> = Vec::new();
    while let Ok(first) = rx.recv().await {
        // Let the task that woke us (usually a session fanning a batch of
        // lines out) run on, so more lines are waiting: one write, not many.
        smol::future::yield_now().await;
        // Batch whatever else is waiting into one write.
        buf.extend_from_slice(first.as_bytes());
        while buf.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(line) => buf.extend_from_slice(line.as_bytes()),
                Err(_) => break,
            }
        }
        if inner.dead.load(Ordering::Acquire) {
            break;
        }
        let written = smol::future::or(async { stream.write_all(&buf).await.is_ok() }, async {
            smol::Timer::after(stall).await;
            false
        })
        .await;
        if !written {
            break;
        }
        inner.queued.fetch_sub(buf.len(), Ordering::AcqRel);
        let _ = room.try_send(());
        if rx.is_empty() || buf.capacity() > 16 * 1024 {
            // Idle (or oversized): free the buffer, so an idle connection holds none.
            buf = Vec::new();
        } else {
            buf.clear();
        }
    }
    let _ = stream.flush().await;
    inner.dead.store(true, Ordering::Release);
    let _ = inner.stream.shutdown(std::net::Shutdown::Both);
}
