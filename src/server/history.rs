//! Channel history: an append-only journal on disk, and the last lines of
//! each channel in memory for replay on JOIN.
//!
//! The journal is one text file, `history.journal`, a record per line:
//!
//! ```text
//! CRC32HEX UNIX_MS CHANNEL @msgid=ID :nick!user@host PRIVMSG #channel :text
//! ```
//!
//! `ID` is the message's `msgid` in hex, so a replay or CHATHISTORY carries
//! the id the live message had. Journals written before msgids have no
//! `@msgid=` part: their records get ids at load, from their time and order
//! (the same ids at every start), and keep them once a compaction rewrites
//! them.
//!
//! The CRC covers everything after the first space. A record is written with
//! one `write` call before the message is relayed, so a message anyone has
//! seen is in the page cache and survives a kill -9; an fsync each second
//! bounds what a power cut can take. At start-up, a torn or corrupt record
//! is dropped (and a torn tail cut off), never replayed.
//!
//! When the file grows past its limit it is compacted: rewritten, through a
//! temporary file and a rename, with only the lines each channel keeps. The
//! slow part (writing and fsyncing the new file) runs on the disk thread
//! without the state lock; see [`Journal::begin_compaction`]. The file's
//! handling, shared with the canvas store, is in [`super::journal`].

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::journal::{self, JournalFile, Kind, Target, Written};
use super::names::fold;

const FILE_NAME: &str = "history.journal";
const TMP_NAME: &str = "history.journal.tmp";
static KIND: Kind =
    Kind { file: FILE_NAME, tmp: TMP_NAME, log: "history", meanwhile: "relaying goes on, lines are kept in memory" };

/// Most channels whose history is kept; a new one beyond this pushes out
/// the channel that has been quiet longest, so memory and the compacted
/// journal stay bounded however many channels come and go.
pub const MAX_CHANNELS: usize = 1000;

/// One line of a channel's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When the server relayed it.
    pub time_ms: u64,
    /// Its msgid (see [`Journal::next_id`]).
    pub id: u64,
    /// The relayed line without tags or CR LF: `:src PRIVMSG #chan :text`.
    pub line: Arc<str>,
}

/// The journal and the in-memory tail of every channel.
pub struct Journal {
    file: JournalFile,
    keep: usize,
    channels: HashMap<String, VecDeque<Entry>>,
    max_channels: usize,
    /// The last msgid given out or read.
    last_id: u64,
}

/// A record's parts: time, channel, msgid (None in old records), line.
pub type Record<'a> = (u64, &'a str, Option<u64>, &'a str);

/// Splits one journal record; `None` when torn or corrupt.
pub fn parse_record(record: &[u8]) -> Option<Record<'_>> {
    let body = journal::checked(record)?;
    let (time, rest) = body.split_once(' ')?;
    let (channel, line) = rest.split_once(' ')?;
    let (id, line) = match line.strip_prefix("@msgid=") {
        Some(rest) => {
            let (id, line) = rest.split_once(' ')?;
            (Some(u64::from_str_radix(id, 16).ok()?), line)
        }
        None => (None, line),
    };
    if channel.is_empty() || line.is_empty() || line.contains(['\r', '\n', '\0']) {
        return None;
    }
    Some((time.parse().ok()?, channel, id, line))
}

fn format_record(out: &mut Vec<u8>, time_ms: u64, channel: &str, id: u64, line: &str) {
    journal::record(out, &format!("{time_ms} {channel} @msgid={id:x} {line}"));
}

/// What a compaction writes, taken under the lock; written without it.
pub struct Snapshot {
    records: Vec<(u64, String, u64, Arc<str>)>,
    target: Target,
}

impl Snapshot {
    /// Writes and fsyncs the temporary file. The slow part: call it without the lock.
    pub fn write(self) -> io::Result<Written> {
        let mut data = Vec::with_capacity(self.records.len() * 96);
        for (time_ms, key, id, line) in &self.records {
            format_record(&mut data, *time_ms, key, *id, line);
        }
        self.target.write(&data)
    }
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and loads the last `keep`
    /// lines of each channel. `max` is the file size that triggers compaction.
    pub fn open(dir: &Path, keep: usize, max: u64) -> io::Result<Journal> {
        Journal::open_with(dir, keep, max, Duration::ZERO)
    }

    /// [`Journal::open`], with each fsync made `fsync_delay` slower (a test hook).
    pub fn open_with(dir: &Path, keep: usize, max: u64, fsync_delay: Duration) -> io::Result<Journal> {
        let (file, read) = JournalFile::read(dir, &KIND, max, fsync_delay)?;
        let mut j = Journal { file, keep, channels: HashMap::new(), max_channels: MAX_CHANNELS, last_id: 0 };
        let mut dropped = 0;
        for record in read.records() {
            match parse_record(record) {
                Some((time_ms, channel, id, line)) => {
                    let id = match id {
                        Some(id) => {
                            j.last_id = j.last_id.max(id);
                            id
                        }
                        None => j.next_id(time_ms),
                    };
                    j.remember(channel, time_ms, id, line.into())
                }
                None => dropped += 1,
            }
        }
        if j.file.start(read, dropped) && j.file.oversized() {
            // Nobody is connected yet: compact in line.
            j.compact_now();
        }
        Ok(j)
    }

    /// Number of channels with history.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The kept lines of a channel, oldest first (`key` is the casefolded name).
    pub fn recent(&self, key: &str) -> impl Iterator<Item = &Entry> {
        self.channels.get(key).into_iter().flatten()
    }

    /// A new msgid: the time in milliseconds times 1024, plus one for each
    /// earlier message of the same millisecond, so ids grow with time and
    /// are unique across restarts (the last one is read back from the journal).
    pub fn next_id(&mut self, time_ms: u64) -> u64 {
        self.last_id = self.last_id.saturating_add(1).max(time_ms << 10);
        self.last_id
    }

    fn remember(&mut self, channel: &str, time_ms: u64, id: u64, line: Arc<str>) {
        if self.keep == 0 {
            return;
        }
        let key = fold(channel);
        if !self.channels.contains_key(&key) && self.channels.len() >= self.max_channels {
            let quietest = self
                .channels
                .iter()
                .min_by_key(|(_, ring)| ring.back().map_or(0, |e| e.time_ms))
                .map(|(k, _)| k.clone());
            if let Some(k) = quietest {
                self.channels.remove(&k);
            }
        }
        let ring = self.channels.entry(key).or_default();
        if ring.len() == self.keep {
            ring.pop_front();
        }
        ring.push_back(Entry { time_ms, id, line });
    }

    /// Appends one line of `channel`; a disk error is logged once and the
    /// line is still kept in memory (and written by the next compaction).
    pub fn append(&mut self, channel: &str, time_ms: u64, id: u64, line: &Arc<str>) {
        self.remember(channel, time_ms, id, line.clone());
        let mut rec = Vec::with_capacity(line.len() + 64);
        format_record(&mut rec, time_ms, channel, id, line);
        self.file.append(&rec);
    }

    /// Whether the disk thread should compact now (see [`JournalFile::wants_compaction`]).
    pub fn wants_compaction(&self) -> bool {
        self.file.wants_compaction()
    }

    /// Step one of a compaction, under the lock: what the new file holds.
    /// Cheap (the lines are shared, not copied); from here until
    /// [`Journal::finish_compaction`], appends are also kept for the new file.
    pub fn begin_compaction(&mut self) -> Snapshot {
        // The ring's key is the channel the records were read or written
        // under; the line's own words need not name it.
        let mut records = Vec::with_capacity(self.channels.values().map(VecDeque::len).sum());
        for (key, ring) in &self.channels {
            records.extend(ring.iter().map(|e| (e.time_ms, key.clone(), e.id, e.line.clone())));
        }
        Snapshot { records, target: self.file.begin_compaction() }
    }

    /// See [`JournalFile::take_tail`].
    pub fn take_tail(&mut self, over: usize) -> Option<Vec<u8>> {
        self.file.take_tail(over)
    }

    /// See [`JournalFile::finish_compaction`].
    pub fn finish_compaction(
        &mut self,
        written: io::Result<Written>,
    ) -> Option<(std::fs::File, Option<std::fs::File>)> {
        self.file.finish_compaction(written)
    }

    /// All three steps at once, for when nobody else is waiting (start-up, tests).
    pub fn compact_now(&mut self) {
        let written = self.begin_compaction().write();
        if let Some((dir, _old)) = self.finish_compaction(written) {
            let _ = journal::sync(&dir, self.file.fsync_delay());
        }
    }

    /// A handle to fsync outside the lock, when there are unsynced writes.
    pub fn take_dirty(&mut self) -> Option<std::fs::File> {
        self.file.take_dirty()
    }

    /// The test hook's fsync delay, for [`journal::sync`] of the handles given out.
    pub fn fsync_delay(&self) -> Duration {
        self.file.fsync_delay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::journal::crc32;
    use std::fs::OpenOptions;
    use std::io::Write;

    #[test]
    fn history_is_kept_for_a_bounded_number_of_channels() {
        let dir = std::env::temp_dir().join(format!("lanchat-journal-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut j = Journal::open(&dir, 5, 1 << 20).unwrap();
        j.max_channels = 3;
        for (i, c) in ["#a", "#b", "#c"].iter().enumerate() {
            j.append(c, i as u64, i as u64, &Arc::from(format!(":n!u@h PRIVMSG {c} :x")));
        }
        j.append("#a", 10, 10, &Arc::from(":n!u@h PRIVMSG #a :again"));
        // A fourth channel pushes out the quietest one, #b.
        j.append("#d", 11, 11, &Arc::from(":n!u@h PRIVMSG #d :new"));
        assert_eq!(j.channel_count(), 3);
        assert_eq!(j.recent("#b").count(), 0);
        assert_eq!(j.recent("#a").count(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_round_trip_and_corruption_is_refused() {
        let mut rec = Vec::new();
        format_record(&mut rec, 42, "#a", 0x2a7, ":n!u@h PRIVMSG #a :hi there");
        let rec = &rec[..rec.len() - 1];
        assert_eq!(parse_record(rec), Some((42, "#a", Some(0x2a7), ":n!u@h PRIVMSG #a :hi there")));
        let mut bad = rec.to_vec();
        *bad.last_mut().unwrap() = b'X';
        assert_eq!(parse_record(&bad), None);
        assert_eq!(parse_record(b""), None);
        assert_eq!(parse_record(b"zzzzzzzz 1 #a x"), None);
        let body = b"1 #a @msgid=1f ";
        let rec = [format!("{:08x} ", crc32(body)).as_bytes(), body].concat();
        assert_eq!(parse_record(&rec), None, "a msgid and no line");
    }

    #[test]
    fn survives_a_torn_tail_and_compacts() {
        let dir = std::env::temp_dir().join(format!("lanchat-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let mut j = Journal::open(&dir, 3, 1 << 20).unwrap();
            for i in 0..5 {
                j.append("#A", i, i, &Arc::from(format!(":n!u@h PRIVMSG #A :line {i}")));
            }
        }
        // A torn record, as a kill -9 in the middle of a write would leave.
        let mut f = OpenOptions::new().append(true).open(dir.join(FILE_NAME)).unwrap();
        f.write_all(b"0badc0de 9 #A :n!u@h PRIV").unwrap();
        drop(f);
        let j = Journal::open(&dir, 3, 1 << 20).unwrap();
        let lines: Vec<_> = j.recent("#a").map(|e| e.line.to_string()).collect();
        assert_eq!(lines, [":n!u@h PRIVMSG #A :line 2", ":n!u@h PRIVMSG #A :line 3", ":n!u@h PRIVMSG #A :line 4"]);
        drop(j);
        // Over the size limit: compaction keeps exactly the kept lines.
        let j = Journal::open(&dir, 2, 10).unwrap();
        assert_eq!(j.recent("#a").count(), 2);
        let size = std::fs::metadata(dir.join(FILE_NAME)).unwrap().len();
        assert!(size < 200, "compacted journal is {size} bytes");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// What is appended while a compaction writes its file (on the disk
    /// thread, without the lock) is in the new file too, and the file keeps
    /// growing where it should afterwards.
    #[test]
    fn appends_during_a_compaction_are_kept() {
        let dir = std::env::temp_dir().join(format!("lanchat-journal-during-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let line = |i: u64| Arc::from(format!(":n!u@h PRIVMSG #a :line {i}"));
        let mut j = Journal::open(&dir, 10, 1 << 20).unwrap();
        for i in 0..5 {
            j.append("#a", i, i, &line(i));
        }
        let snapshot = j.begin_compaction();
        assert!(!j.wants_compaction(), "one compaction at a time");
        j.append("#a", 5, 5, &line(5));
        let mut written = snapshot.write();
        assert!(j.take_tail(1 << 20).is_none(), "small tails wait for the swap");
        let tail = j.take_tail(0).unwrap();
        written.as_mut().unwrap().append(&tail).unwrap();
        j.append("#a", 6, 6, &line(6));
        assert!(j.finish_compaction(written).is_some());
        j.append("#a", 7, 7, &line(7));
        drop(j);
        let j = Journal::open(&dir, 10, 1 << 20).unwrap();
        let times: Vec<u64> = j.recent("#a").map(|e| e.time_ms).collect();
        assert_eq!(times, (0..8).collect::<Vec<_>>());
        assert!(!dir.join(TMP_NAME).exists());
        let ids: Vec<u64> = j.recent("#a").map(|e| e.id).collect();
        assert_eq!(ids, (0..8).collect::<Vec<_>>(), "msgids survive a compaction");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A journal from before msgids is read, its records get the same ids
    /// at every start, and new ids come after them.
    #[test]
    fn old_records_without_msgids_get_stable_ids() {
        let dir = std::env::temp_dir().join(format!("lanchat-journal-old-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut data = String::new();
        for (t, text) in [(5u64, "a"), (5, "b"), (7, "c")] {
            let body = format!("{t} #a :n!u@h PRIVMSG #a :{text}");
            data += &format!("{:08x} {body}\n", crc32(body.as_bytes()));
        }
        std::fs::write(dir.join(FILE_NAME), data).unwrap();
        let ids = || -> Vec<u64> { Journal::open(&dir, 10, 1 << 20).unwrap().recent("#a").map(|e| e.id).collect() };
        let first = ids();
        assert_eq!(first, [5 << 10, (5 << 10) + 1, 7 << 10]);
        assert_eq!(ids(), first);
        let mut j = Journal::open(&dir, 10, 1 << 20).unwrap();
        assert_eq!(j.next_id(6), (7 << 10) + 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
