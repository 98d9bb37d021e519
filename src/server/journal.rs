//! A journal file, what the channel history and the canvas store share.
//!
//! A record is one line, `CRC32HEX BODY`, the CRC over the body; it is
//! written with one `write` call, and an fsync each second (on a handle
//! taken with [`JournalFile::take_dirty`]) bounds what a power cut can take.
//! At start-up a torn tail is cut off and the owner drops corrupt records.
//!
//! Past its limit the file is compacted: the owner writes what it keeps to a
//! temporary file that is renamed over the journal, in three steps so that
//! the slow one runs without the state lock ([`JournalFile::begin_compaction`],
//! [`Target::write`], [`JournalFile::finish_compaction`]). While the disk
//! refuses writes (full, read-only) the owner goes on in memory and a
//! compaction is tried each second: it writes what was missed. Nothing here
//! knows about the lock: the owner of the state calls the steps.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{error, info, warn};

/// What tells one journal from another.
pub struct Kind {
    /// The file in the data directory.
    pub file: &'static str,
    /// The temporary file a compaction writes.
    pub tmp: &'static str,
    /// The log lines' prefix ("history").
    pub log: &'static str,
    /// What goes on while the disk refuses writes, for the log.
    pub meanwhile: &'static str,
}

/// The open journal: its size, its compaction and its disk's health.
pub struct JournalFile {
    kind: &'static Kind,
    dir: PathBuf,
    file: Option<File>,
    size: u64,
    compact_at: u64,
    max: u64,
    /// Set while the disk refuses writes; cleared by a successful compaction.
    failing: Option<Instant>,
    dirty: bool,
    /// While a compaction is under way: the records appended since its
    /// snapshot, which the new file must get too.
    tail: Option<Vec<u8>>,
    /// Test only: extra time each fsync takes, standing in for a slow SD card.
    fsync_delay: Duration,
}

/// The file as read at start-up.
pub struct Contents {
    data: Vec<u8>,
    /// Records end in LF; anything after the last LF is a torn write.
    good_len: usize,
}

impl Contents {
    /// The whole records, without their LF.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        self.data[..self.good_len].split(|&b| b == b'\n').filter(|r| !r.is_empty())
    }
}

/// Where a compaction writes, taken under the lock.
pub struct Target {
    tmp: PathBuf,
    fsync_delay: Duration,
}

/// A compaction's new file, written and synced, not yet in place.
pub struct Written {
    file: File,
    size: u64,
}

impl Target {
    /// Writes and fsyncs the temporary file. The slow part: call it without the lock.
    pub fn write(self, data: &[u8]) -> io::Result<Written> {
        let res = (|| {
            let mut file = OpenOptions::new().create(true).write(true).truncate(true).open(&self.tmp)?;
            file.write_all(data)?;
            sync(&file, self.fsync_delay)?;
            Ok(Written { file, size: data.len() as u64 })
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        res
    }
}

impl Written {
    /// Appends records that came after the snapshot (see [`JournalFile::take_tail`]).
    pub fn append(&mut self, records: &[u8]) -> io::Result<()> {
        self.file.write_all(records)?;
        self.size += records.len() as u64;
        Ok(())
    }
}

impl JournalFile {
    /// Reads the journal in `dir` (none is an empty one). `max` is the size
    /// that triggers compaction. The owner loads the records, then calls
    /// [`JournalFile::start`]; until then appends fail.
    pub fn read(dir: &Path, kind: &'static Kind, max: u64, fsync_delay: Duration) -> io::Result<(Self, Contents)> {
        let mut data = Vec::new();
        match File::open(dir.join(kind.file)) {
            Ok(mut f) => {
                f.read_to_end(&mut data)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let good_len = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let j = JournalFile {
            kind,
            dir: dir.to_path_buf(),
            file: None,
            size: 0,
            compact_at: max,
            max,
            failing: None,
            dirty: false,
            tail: None,
            fsync_delay,
        };
        Ok((j, Contents { data, good_len }))
    }

    /// Opens the file for appending, its torn tail cut off, once the owner
    /// loaded `read` and found `dropped` records corrupt. False when the disk
    /// refuses (read-only or full): what could be read is served even so,
    /// and the journal is retried like after any other write error.
    pub fn start(&mut self, read: Contents, dropped: usize) -> bool {
        let Contents { data, good_len } = read;
        if dropped > 0 || good_len < data.len() {
            warn!("{}: dropped {dropped} corrupt record(s) and {} torn byte(s)", self.kind.log, data.len() - good_len);
        }
        self.size = good_len as u64;
        let opened =
            OpenOptions::new().create(true).append(true).open(self.dir.join(self.kind.file)).and_then(|file| {
                if good_len < data.len() {
                    file.set_len(good_len as u64)?;
                }
                Ok(file)
            });
        match opened {
            Ok(file) => {
                self.file = Some(file);
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Whether the file is past its limit.
    pub fn oversized(&self) -> bool {
        self.size > self.max
    }

    /// Appends records; a disk error is logged once and the owner keeps
    /// them in memory (the next compaction writes them).
    pub fn append(&mut self, records: &[u8]) {
        if let Some(tail) = &mut self.tail {
            tail.extend_from_slice(records);
        }
        if self.failing.is_some() {
            return;
        }
        let res = match self.file.as_mut() {
            Some(f) => f.write_all(records),
            None => Err(io::Error::other("journal not open")),
        };
        match res {
            Ok(()) => {
                self.size += records.len() as u64;
                self.dirty = true;
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: io::Error) {
        if self.failing.is_none() {
            error!(
                "{}: cannot write the journal in {}: {e}; {} until it works again",
                self.kind.log,
                self.dir.display(),
                self.kind.meanwhile
            );
        }
        self.failing = Some(Instant::now());
        // A partial record may have been written: cut it off when we can.
        if let Some(f) = &self.file {
            let _ = f.set_len(self.size);
        }
    }

    /// Whether the disk thread should compact now: the file passed its
    /// limit, or the disk failed and a second has passed since the last try
    /// (a compaction also persists what was missed).
    pub fn wants_compaction(&self) -> bool {
        if self.tail.is_some() {
            return false;
        }
        match self.failing {
            Some(since) => since.elapsed() >= Duration::from_secs(1),
            None => self.size > self.compact_at,
        }
    }

    /// Step one, under the lock, with the owner's snapshot of what it keeps:
    /// from here until [`JournalFile::finish_compaction`], appends are also
    /// kept for the new file.
    pub fn begin_compaction(&mut self) -> Target {
        self.tail = Some(Vec::new());
        Target { tmp: self.dir.join(self.kind.tmp), fsync_delay: self.fsync_delay }
    }

    /// Between steps two and three, under the lock: the records appended
    /// since the snapshot when there are more than `over` bytes of them, to
    /// be appended to the new file without the lock; step three then has
    /// little left to write while everyone waits.
    pub fn take_tail(&mut self, over: usize) -> Option<Vec<u8>> {
        let tail = self.tail.as_mut()?;
        (tail.len() > over).then(|| std::mem::take(tail))
    }

    /// Step three, under the lock: appends what came meanwhile and puts the
    /// new file in place. Returns what to do without the lock: the
    /// directory to fsync, so the rename itself survives a power cut, and the
    /// old file to close (its last descriptor: closing it frees its pages,
    /// which took milliseconds for an 8 MiB journal).
    pub fn finish_compaction(&mut self, written: io::Result<Written>) -> Option<(File, Option<File>)> {
        let tail = self.tail.take().unwrap_or_default();
        let before = self.size;
        let tmp = self.dir.join(self.kind.tmp);
        let res = written.and_then(|mut w| {
            w.append(&tail)?;
            std::fs::rename(&tmp, self.dir.join(self.kind.file))?;
            Ok(w)
        });
        match res {
            Ok(w) => {
                let old = self.file.replace(w.file);
                self.size = w.size;
                self.compact_at = self.max.max(self.size * 2);
                self.dirty = !tail.is_empty();
                if self.failing.take().is_some() {
                    info!("{}: the journal is writable again", self.kind.log);
                } else {
                    info!("{}: compacted the journal from {before} to {} bytes", self.kind.log, self.size);
                }
                File::open(&self.dir).ok().map(|dir| (dir, old))
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                self.fail(e);
                None
            }
        }
    }

    /// A handle to fsync outside the lock, when there are unsynced writes.
    pub fn take_dirty(&mut self) -> Option<File> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        self.file.as_ref().and_then(|f| f.try_clone().ok())
    }

    /// The test hook's fsync delay, for [`sync`] of the handles given out.
    pub fn fsync_delay(&self) -> Duration {
        self.fsync_delay
    }
}

/// Appends the record of `body` to `out`.
pub fn record(out: &mut Vec<u8>, body: &str) {
    let _ = writeln!(out, "{:08x} {body}", crc32(body.as_bytes()));
}

/// A record's body (without its LF); `None` when its CRC does not match.
pub fn checked(record: &[u8]) -> Option<&str> {
    let record = std::str::from_utf8(record).ok()?;
    let (crc, body) = record.split_once(' ')?;
    (crc.len() == 8 && u32::from_str_radix(crc, 16).ok()? == crc32(body.as_bytes())).then_some(body)
}

/// fsync, after the test hook's delay.
pub fn sync(f: &File, delay: Duration) -> io::Result<()> {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    f.sync_all()
}

/// CRC-32 (IEEE), a byte at a time from a 1 KiB table built at compile
/// time: every message is checksummed before it is relayed, and the bitwise
/// loop cost as much as fanning the message out to a hundred clients.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
