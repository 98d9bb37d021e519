//! The disk thread: compacts the journal when it asks, and fsyncs it once a
//! second when it changed. It holds the state lock only to take a snapshot,
//! to swap the compacted file in and to take a handle to sync; the slow
//! parts (writing the new file, every fsync) run without it, so on an SD
//! card nobody's messages wait for the disk.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::info;

use super::history;
use super::state::Shared;

/// How often the thread looks for a compaction to do.
const TICK: Duration = Duration::from_millis(100);
/// How often unsynced writes are fsynced.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The running disk thread.
pub struct Disk {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Disk {
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Disk> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new().name("lanchat-disk".into()).spawn(move || {
            let mut synced = Instant::now();
            loop {
                let stopping = !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout));
                compact_if_asked(&shared);
                if stopping || synced.elapsed() >= SYNC_EVERY {
                    sync(&shared);
                    synced = Instant::now();
                }
                if stopping {
                    return;
                }
            }
        })?;
        Ok(Disk { stop, thread })
    }

    /// Syncs what is unsynced and ends the thread.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Records that came during a compaction are copied to the new file without
/// the lock while there are more than this; the rest during the swap.
const TAIL_UNLOCKED: usize = 16 * 1024;

/// A compaction in three steps, the middle one (the slow one) unlocked.
fn compact_if_asked(shared: &Shared) {
    let started = Instant::now();
    let mut held = Duration::ZERO;
    let snapshot = {
        let mut st = shared.lock();
        let t = Instant::now();
        let journal = st.journal_mut();
        if !journal.wants_compaction() {
            return;
        }
        let snapshot = journal.begin_compaction();
        held += t.elapsed();
        snapshot
    };
    let mut written = snapshot.write();
    while written.is_ok() {
        let tail = shared.lock().journal_mut().take_tail(TAIL_UNLOCKED);
        match tail {
            Some(records) => {
                if let Ok(w) = written.as_mut()
                    && let Err(e) = w.append(&records)
                {
                    written = Err(e);
                }
            }
            None => break,
        }
    }
    let (dir, delay) = {
        let mut st = shared.lock();
        let t = Instant::now();
        let journal = st.journal_mut();
        let done = (journal.finish_compaction(written), journal.fsync_delay());
        held += t.elapsed();
        done
    };
    if let Some((dir, old)) = dir {
        drop(old);
        let _ = history::sync(&dir, delay);
    }
    // What the bench's scenario 7 reads: the whole, and the part relaying waited for.
    info!(
        "history: compaction took {:.1} ms, the state lock {:.3} ms of it",
        started.elapsed().as_secs_f64() * 1e3,
        held.as_secs_f64() * 1e3
    );
}

fn sync(shared: &Shared) {
    let (file, delay) = {
        let mut st = shared.lock();
        let journal = st.journal_mut();
        (journal.take_dirty(), journal.fsync_delay())
    };
    if let Some(f) = file {
        let _ = history::sync(&f, delay);
    }
}
