//! The shared canvas of every channel as the server keeps it: a snapshot
//! (a PNG, compressed at rest) and the stroke segments drawn since, journaled
//! in `canvas.journal` in the data directory (docs/PROTOCOL.md, "The shared
//! canvas"). It outlives the channel's members and the server process.
//!
//! Past the budget, the oldest segments are *folded* into the snapshot:
//! decoding the PNG, painting them and encoding it again is slow, so it runs
//! on the disk thread in three steps like the journal's compaction
//! ([`Canvases::begin_fold`] under the state lock, [`Fold::run`] without it,
//! [`Canvases::finish_fold`] under it). A raster exists only during a fold.
//! An undo or clear meanwhile makes the fold's result stale: it is dropped
//! and done again.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use log::warn;

use super::journal::{self, JournalFile, Kind, Target, Written, record};
use super::names::fold as casefold;
use super::outbox::Line;
use crate::canvas::{self, SERVER_KEEPS, Stroke, png, raster::Raster, snapshot};

const FILE_NAME: &str = "canvas.journal";
static KIND: Kind =
    Kind { file: FILE_NAME, tmp: "canvas.journal.tmp", log: "canvas", meanwhile: "the canvas is kept in memory" };
/// Canvases kept at most; a new one beyond pushes out the one drawn on longest ago.
pub const MAX_CANVASES: usize = 1000;

/// One kept segment: its stroke ID and the line it was relayed as
/// (`@+lanchat/stroke=V :nick!user@host TAGMSG #chan`, CR LF included),
/// from which its owner, its journal record and its stroke are read again.
struct Kept {
    id: u32,
    line: Line,
}

impl Kept {
    /// (stroke value, `nick!user@host`) of the line.
    fn parts(&self) -> (&str, &str) {
        let rest = self.line.strip_prefix("@+lanchat/stroke=").unwrap_or("");
        let (value, rest) = rest.split_once(" :").unwrap_or(("", ""));
        (value, rest.split_once(' ').map_or("", |(p, _)| p))
    }

    fn owner(&self) -> &str {
        self.parts().1.split('!').next().unwrap_or("")
    }
}

struct Canvas {
    /// The channel's name as first drawn on.
    name: String,
    /// The snapshot's PNG; empty for a blank canvas.
    png: Arc<Vec<u8>>,
    /// The snapshot's replay lines, made when first needed.
    pieces: Option<Arc<Vec<Line>>>,
    tail: VecDeque<Kept>,
    bytes: usize,
    /// Changed by every undo and fold: a fold begun before is stale.
    version: u64,
    folding: bool,
    /// When last drawn on (a counter), for pushing out old canvases.
    touched: u64,
}

impl Canvas {
    fn new(name: &str) -> Canvas {
        Canvas {
            name: name.to_string(),
            png: Arc::default(),
            pieces: None,
            tail: VecDeque::new(),
            bytes: 0,
            version: 0,
            folding: false,
            touched: 0,
        }
    }
}

/// Why a stroke or an undo was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The stroke ID is another nick's kept stroke.
    IdTaken,
    /// No kept segment has that ID.
    NotKept,
    /// Someone else's stroke, and the asker is not an operator.
    NotYours,
}

/// The folding work taken under the lock; [`Fold::run`] does it without.
pub struct Fold {
    key: String,
    name: String,
    server: String,
    version: u64,
    png: Arc<Vec<u8>>,
    lines: Vec<Line>,
}

/// A fold's result, to put in with [`Canvases::finish_fold`].
pub struct Folded {
    key: String,
    version: u64,
    count: usize,
    png: Vec<u8>,
    b64: String,
    pieces: Vec<Line>,
}

impl Fold {
    /// Paints the segments over the snapshot and encodes it again. The slow part.
    pub fn run(self) -> Folded {
        let mut r = match png::decode(&self.png) {
            Ok(r) if r.w == usize::from(canvas::WIDTH) && r.h == usize::from(canvas::HEIGHT) => r,
            _ => Raster::blank(),
        };
        for line in &self.lines {
            let k = Kept { id: 0, line: line.clone() };
            if let Ok(s) = Stroke::decode(k.parts().0) {
                r.paint(&s);
            }
        }
        let png = png::encode(&r);
        let b64 = snapshot::base64(&png);
        let pieces = pieces_lines(&self.server, &self.name, &png);
        Folded { key: self.key, version: self.version, count: self.lines.len(), png, b64, pieces }
    }
}

fn pieces_lines(server: &str, name: &str, png: &[u8]) -> Vec<Line> {
    snapshot::pieces(png)
        .into_iter()
        .map(|p| Line::from(format!("@{}={p} :{server} TAGMSG {name}\r\n", canvas::SNAPSHOT_TAG)))
        .collect()
}

/// What a compaction of the journal writes, taken under the lock.
pub struct Snapshot {
    canvases: Vec<(String, Arc<Vec<u8>>, Vec<Line>)>,
    target: Target,
}

impl Snapshot {
    /// Writes and fsyncs the temporary file. Call it without the lock.
    pub fn write(self) -> io::Result<Written> {
        let mut data = Vec::new();
        for (name, png, lines) in &self.canvases {
            if !png.is_empty() {
                record(&mut data, &format!("f {name} 0 {}", snapshot::base64(png)));
            }
            for line in lines {
                let k = Kept { id: 0, line: line.clone() };
                let (value, prefix) = k.parts();
                record(&mut data, &format!("s {name} {prefix} {value}"));
            }
        }
        self.target.write(&data)
    }
}

/// The canvases and their journal.
pub struct Canvases {
    canvases: HashMap<String, Canvas>,
    /// Relayed bytes of kept segments a channel may have before a fold.
    budget: usize,
    /// The server's name, the source of snapshot pieces.
    server: String,
    clock: u64,
    file: JournalFile,
}

impl Canvases {
    /// Opens (or creates) `canvas.journal` in `dir` and loads every canvas.
    pub fn open(dir: &Path, server: &str, budget: usize, max: u64, fsync_delay: Duration) -> io::Result<Canvases> {
        let (file, read) = JournalFile::read(dir, &KIND, max, fsync_delay)?;
        let mut c = Canvases { canvases: HashMap::new(), budget, server: server.to_string(), clock: 0, file };
        let mut dropped = 0;
        for rec in read.records() {
            if !c.load(rec) {
                dropped += 1;
            }
        }
        c.file.start(read, dropped);
        Ok(c)
    }

    /// Applies one journal record; false when it is corrupt.
    fn load(&mut self, rec: &[u8]) -> bool {
        let Some(body) = journal::checked(rec) else { return false };
        let mut f = body.splitn(4, ' ');
        let (kind, name) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        let (a, b) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        let key = casefold(name);
        match kind {
            "s" => match Stroke::decode(b) {
                Ok(s) => {
                    let line = Line::from(format!("@{}={b} :{a} TAGMSG {name}\r\n", canvas::STROKE_TAG));
                    let c = self.entry(&key, name);
                    c.bytes += line.len();
                    c.tail.push_back(Kept { id: s.id, line });
                }
                Err(_) => return false,
            },
            "u" => match a.parse() {
                Ok(id) => {
                    self.entry(&key, name).tail.retain(|k| k.id != id);
                    self.recount(&key);
                }
                Err(_) => return false,
            },
            "c" => {
                self.canvases.remove(&key);
            }
            "f" => match (a.parse::<usize>(), snapshot::unbase64(b)) {
                (Ok(n), Ok(png)) => {
                    let c = self.entry(&key, name);
                    c.tail.drain(..n.min(c.tail.len()));
                    c.png = Arc::new(png);
                    c.pieces = None;
                    self.recount(&key);
                }
                _ => return false,
            },
            _ => return false,
        }
        true
    }

    fn recount(&mut self, key: &str) {
        if let Some(c) = self.canvases.get_mut(key) {
            c.bytes = c.tail.iter().map(|k| k.line.len()).sum();
        }
    }

    /// The canvas of `key`, made (pushing out the oldest past the limit) when new.
    fn entry(&mut self, key: &str, name: &str) -> &mut Canvas {
        self.clock += 1;
        if !self.canvases.contains_key(key) && self.canvases.len() >= MAX_CANVASES {
            let oldest = self.canvases.iter().min_by_key(|(_, c)| c.touched).map(|(k, c)| (k.clone(), c.name.clone()));
            if let Some((k, n)) = oldest {
                self.canvases.remove(&k);
                self.append(&format!("c {n}"));
            }
        }
        let clock = self.clock;
        // A new canvas's version is new too: a fold of a cleared one is stale.
        let c = self.canvases.entry(key.to_string()).or_insert_with(|| Canvas { version: clock, ..Canvas::new(name) });
        c.touched = clock;
        c
    }

    /// Number of channels with a canvas.
    pub fn count(&self) -> usize {
        self.canvases.len()
    }

    /// Keeps a segment (already checked) that `prefix` drew, as relayed in `line`.
    pub fn stroke(
        &mut self,
        key: &str,
        name: &str,
        prefix: &str,
        value: &str,
        id: u32,
        line: Line,
    ) -> Result<(), Refused> {
        let nick = prefix.split('!').next().unwrap_or("");
        if let Some(c) = self.canvases.get(key)
            && c.tail.iter().any(|k| k.id == id && casefold(k.owner()) != casefold(nick))
        {
            return Err(Refused::IdTaken);
        }
        self.append(&format!("s {name} {prefix} {value}"));
        let budget = self.budget;
        let c = self.entry(key, name);
        c.bytes += line.len();
        c.tail.push_back(Kept { id, line });
        // Drawn faster than the disk thread folds: fold here, under the
        // lock, rather than let what a joiner gets grow without bound.
        if c.bytes > budget + budget / 2 || c.tail.len() > SERVER_KEEPS + SERVER_KEEPS / 2 {
            warn!("canvas: {name} is drawn on faster than it can be folded; folding while relaying waits");
            let fold = self.fold_of(key);
            self.finish_fold(fold.run());
        }
        Ok(())
    }

    /// Takes back the kept segments of stroke `id`, for `nick` (an operator
    /// when `op`); returns how many.
    pub fn undo(&mut self, key: &str, id: u32, nick: &str, op: bool) -> Result<usize, Refused> {
        let c = self.canvases.get_mut(key).ok_or(Refused::NotKept)?;
        let owner = c.tail.iter().find(|k| k.id == id).map(|k| casefold(k.owner())).ok_or(Refused::NotKept)?;
        if !op && owner != casefold(nick) {
            return Err(Refused::NotYours);
        }
        let before = c.tail.len();
        c.tail.retain(|k| k.id != id);
        let n = before - c.tail.len();
        self.clock += 1;
        c.version = self.clock;
        let name = c.name.clone();
        self.recount(key);
        self.append(&format!("u {name} {id}"));
        Ok(n)
    }

    /// Clears a channel's canvas, snapshot and strokes.
    pub fn clear(&mut self, key: &str, name: &str) {
        if self.canvases.remove(key).is_some() {
            self.append(&format!("c {name}"));
        }
    }

    /// What a joiner gets: the snapshot's pieces, then the kept strokes.
    pub fn replay(&mut self, key: &str, name: &str) -> Vec<Line> {
        let server = &self.server;
        let Some(c) = self.canvases.get_mut(key) else { return pieces_lines(server, name, &[]) };
        let pieces = c.pieces.get_or_insert_with(|| Arc::new(pieces_lines(server, &c.name, &c.png)));
        let mut lines = Vec::with_capacity(pieces.len() + c.tail.len());
        lines.extend(pieces.iter().cloned());
        lines.extend(c.tail.iter().map(|k| k.line.clone()));
        lines
    }

    // ---- folding (see the module doc) ----

    /// Step one, under the lock: the oldest segments of a canvas past its
    /// budget, to fold until half the budget is left.
    pub fn begin_fold(&mut self) -> Option<Fold> {
        let budget = self.budget;
        let key = self
            .canvases
            .iter()
            .find(|(_, c)| !c.folding && (c.bytes > budget || c.tail.len() > SERVER_KEEPS))?
            .0
            .clone();
        Some(self.fold_of(&key))
    }

    fn fold_of(&mut self, key: &str) -> Fold {
        let budget = self.budget;
        let c = self.canvases.get_mut(key).expect("a canvas to fold");
        let (mut keep, mut kept_bytes) = (0, 0);
        for k in c.tail.iter().rev() {
            if keep >= SERVER_KEEPS / 2 || kept_bytes + k.line.len() > budget / 2 {
                break;
            }
            keep += 1;
            kept_bytes += k.line.len();
        }
        let count = c.tail.len() - keep;
        c.folding = true;
        Fold {
            key: key.to_string(),
            name: c.name.clone(),
            server: self.server.clone(),
            version: c.version,
            png: c.png.clone(),
            lines: c.tail.iter().take(count).map(|k| k.line.clone()).collect(),
        }
    }

    /// Step three, under the lock: puts a fold's result in, unless an undo
    /// or a clear came meanwhile.
    pub fn finish_fold(&mut self, f: Folded) {
        let Some(c) = self.canvases.get_mut(&f.key) else { return };
        c.folding = false;
        if c.version != f.version || c.tail.len() < f.count {
            return;
        }
        c.tail.drain(..f.count);
        self.clock += 1;
        c.version = self.clock;
        c.png = Arc::new(f.png);
        c.pieces = Some(Arc::new(f.pieces));
        let name = c.name.clone();
        self.recount(&f.key);
        self.append(&format!("f {name} {} {}", f.count, f.b64));
    }

    // ---- the journal file ----

    fn append(&mut self, body: &str) {
        let mut rec = Vec::with_capacity(body.len() + 10);
        record(&mut rec, body);
        self.file.append(&rec);
    }

    /// Whether the disk thread should compact the journal now.
    pub fn wants_compaction(&self) -> bool {
        self.file.wants_compaction()
    }

    /// Compaction step one, under the lock (the PNGs and lines are shared, not copied).
    pub fn begin_compaction(&mut self) -> Snapshot {
        let canvases = self
            .canvases
            .values()
            .map(|c| (c.name.clone(), c.png.clone(), c.tail.iter().map(|k| k.line.clone()).collect()))
            .collect();
        Snapshot { canvases, target: self.file.begin_compaction() }
    }

    /// Compaction step three (see [`JournalFile::finish_compaction`]).
    pub fn finish_compaction(&mut self, written: io::Result<Written>) -> Option<(File, Option<File>)> {
        self.file.finish_compaction(written)
    }

    /// A handle to fsync outside the lock, when there are unsynced writes.
    pub fn take_dirty(&mut self) -> Option<File> {
        self.file.take_dirty()
    }

    pub fn fsync_delay(&self) -> Duration {
        self.file.fsync_delay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;
    use std::path::PathBuf;

    fn line(prefix: &str, value: &str) -> Line {
        Line::from(format!("@+lanchat/stroke={value} :{prefix} TAGMSG #a\r\n"))
    }

    fn draw(c: &mut Canvases, prefix: &str, id: u32, x: u16) -> Result<(), Refused> {
        let value = format!("{id},ff0000,5,{x},10,{x},20");
        c.stroke("#a", "#a", prefix, &value, id, line(prefix, &value))
    }

    fn picture(c: &mut Canvases) -> Raster {
        let lines = c.replay("#a", "#a");
        let mut g = snapshot::Gather::default();
        let mut r = Raster::blank();
        for l in &lines {
            if let Some(v) = l.strip_prefix("@+lanchat/snapshot=") {
                if let Some(png) = g.piece(v.split(' ').next().unwrap()) {
                    let png = png.unwrap();
                    r = if png.is_empty() { Raster::blank() } else { png::decode(&png).unwrap() };
                }
            } else {
                let k = Kept { id: 0, line: l.clone() };
                r.paint(&Stroke::decode(k.parts().0).unwrap());
            }
        }
        r
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lanchat-canvas-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn undo_permissions_and_ids() {
        let d = dir("undo");
        let mut c = Canvases::open(&d, "srv", 1 << 20, 1 << 20, Duration::ZERO).unwrap();
        draw(&mut c, "ann!u@h", 1, 10).unwrap();
        draw(&mut c, "ann!u@h", 1, 11).unwrap();
        assert_eq!(draw(&mut c, "bob!u@h", 1, 12), Err(Refused::IdTaken));
        draw(&mut c, "bob!u@h", 2, 12).unwrap();
        assert_eq!(c.undo("#a", 1, "bob", false), Err(Refused::NotYours));
        assert_eq!(c.undo("#a", 1, "ANN", false), Ok(2));
        assert_eq!(c.undo("#a", 1, "ann", false), Err(Refused::NotKept));
        assert_eq!(c.undo("#a", 2, "cy", true), Ok(1));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Folding, undo, a restart, a torn tail and a compaction all leave the
    /// picture a joiner gets equal to all the kept strokes painted in order.
    #[test]
    fn folds_persist_and_agree_with_painting_everything() {
        let d = dir("fold");
        let mut all = Raster::blank();
        {
            let mut c = Canvases::open(&d, "srv", 2000, 1 << 20, Duration::ZERO).unwrap();
            for i in 0..100u32 {
                draw(&mut c, "ann!u@h", i, (i * 7 % 1600) as u16).unwrap();
                if let Some(f) = c.begin_fold() {
                    c.finish_fold(f.run());
                }
            }
            assert!(c.canvases["#a"].bytes <= 2000);
            assert!(!c.canvases["#a"].png.is_empty());
            // An undo of a kept stroke; a fold begun before it is dropped.
            draw(&mut c, "ann!u@h", 500, 800).unwrap();
            let f = c.begin_fold();
            assert_eq!(c.undo("#a", 500, "ann", false), Ok(1));
            if let Some(f) = f {
                c.finish_fold(f.run());
            }
            for i in 0..100u32 {
                let s = Stroke::decode(&format!("{i},ff0000,5,{x},10,{x},20", x = i * 7 % 1600)).unwrap();
                all.paint(&s);
            }
            assert!(picture(&mut c) == all);
        }
        // A torn record at the end is dropped.
        let mut f = OpenOptions::new().append(true).open(d.join(FILE_NAME)).unwrap();
        f.write_all(b"0badc0de s #a ann!u@h 9,ff").unwrap();
        drop(f);
        let mut c = Canvases::open(&d, "srv", 2000, 10, Duration::ZERO).unwrap();
        assert!(picture(&mut c) == all);
        assert!(c.wants_compaction());
        let w = c.begin_compaction().write();
        c.finish_compaction(w).unwrap();
        drop(c);
        let mut c = Canvases::open(&d, "srv", 2000, 1 << 20, Duration::ZERO).unwrap();
        assert!(picture(&mut c) == all);
        c.clear("#a", "#a");
        drop(c);
        let mut c = Canvases::open(&d, "srv", 2000, 1 << 20, Duration::ZERO).unwrap();
        assert_eq!(c.count(), 0);
        assert!(picture(&mut c) == Raster::blank());
        let _ = std::fs::remove_dir_all(&d);
    }
}
