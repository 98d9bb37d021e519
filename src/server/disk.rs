//! The disk thread: compacts the journal when it asks, and fsyncs it once a
//! second when it changed; the same for the canvas journal, and it folds
//! canvases past their budget into their snapshots. It holds the state lock only to take a snapshot,
//! to swap the compacted file in and to take a handle to sync; the slow
//! parts (writing the new file, every fsync) run without it, so on an SD
//! card nobody's messages wait for the disk.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{debug, info};

use super::journal;
use super::state::Shared;

/// How often the thread looks for a compaction to do.
const TICK: Duration = Duration::from_millis(100);
/// How often unsynced writes are fsynced.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The running disk thread, and the canvas thread beside it: a fold (a
/// PNG decoded and encoded again) can take a second on a Pi Zero, and the
/// journal's fsync each second must not wait for it.
pub struct Disk {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    stop_folds: mpsc::Sender<()>,
    folds: JoinHandle<()>,
}

impl Disk {
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Disk> {
        let shared_folds = shared.clone();
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new().name("lanchat-disk".into()).spawn(move || {
            let mut synced = Instant::now();
            loop {
                let stopping = !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout));
                compact_if_asked(&shared);
                compact_canvas_if_asked(&shared);
                if stopping || synced.elapsed() >= SYNC_EVERY {
                    sync(&shared);
                    synced = Instant::now();
                }
                if stopping {
                    return;
                }
            }
        })?;
        let (stop_folds, stopped) = mpsc::channel();
        let folds = std::thread::Builder::new().name("lanchat-canvas".into()).spawn(move || {
            while matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout)) {
                fold_canvases(&shared_folds);
            }
        })?;
        Ok(Disk { stop, thread, stop_folds, folds })
    }

    /// Ends the canvas thread, then syncs what is unsynced and ends the disk thread.
    pub fn stop(self) {
        let _ = self.stop_folds.send(());
        let _ = self.folds.join();
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
        let _ = journal::sync(&dir, delay);
    }
    // What the bench's scenario 7 reads: the whole, and the part relaying waited for.
    info!(
        "history: compaction took {:.1} ms, the state lock {:.3} ms of it",
        started.elapsed().as_secs_f64() * 1e3,
        held.as_secs_f64() * 1e3
    );
}

fn sync(shared: &Shared) {
    let (files, delay) = {
        let mut st = shared.lock();
        let journal = st.journal_mut();
        let (file, delay) = (journal.take_dirty(), journal.fsync_delay());
        ([file, st.canvas_mut().take_dirty()], delay)
    };
    for f in files.into_iter().flatten() {
        let _ = journal::sync(&f, delay);
    }
}

/// Folds every canvas past its budget, each in three steps, the painting
/// and encoding without the lock.
fn fold_canvases(shared: &Shared) {
    loop {
        let started = Instant::now();
        let Some(fold) = shared.lock().canvas_mut().begin_fold() else { return };
        let folded = fold.run();
        shared.lock().canvas_mut().finish_fold(folded);
        debug!("canvas: a fold took {:.1} ms", started.elapsed().as_secs_f64() * 1e3);
    }
}

/// The canvas journal's compaction: the same three steps as the history's.
fn compact_canvas_if_asked(shared: &Shared) {
    let snapshot = {
        let mut st = shared.lock();
        let canvas = st.canvas_mut();
        if !canvas.wants_compaction() {
            return;
        }
        canvas.begin_compaction()
    };
    let written = snapshot.write();
    let (done, delay) = {
        let mut st = shared.lock();
        let canvas = st.canvas_mut();
        (canvas.finish_compaction(written), canvas.fsync_delay())
    };
    if let Some((dir, old)) = done {
        drop(old);
        let _ = journal::sync(&dir, delay);
    }
}
