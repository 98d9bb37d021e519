//! Shared files on disk: `files/<id>/<name>` in the data directory, each
//! written to `files/.tmp/` first and renamed into place once synced, so
//! a kill -9 or a lost connection never leaves half a file to be served.
//! The total is bounded (`--files-max`): the oldest files go first to make
//! room for a new one. The HTTP side is in `web/files.rs`, the token an
//! IRC connection uploads with in `commands/files.rs`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use log::{info, warn};

use crate::files::{sanitize_name, valid_id};
use crate::sys::{hex, random_bytes};

/// Uploads running at once, and from one address; more get 503.
pub const MAX_UPLOADS: usize = 8;
const MAX_UPLOADS_PER_IP: usize = 2;
/// Downloads being sent at once, and to one address; more get 503.
pub const MAX_DOWNLOADS: usize = 32;
const MAX_DOWNLOADS_PER_IP: usize = 4;

/// Why an upload cannot start.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Larger than one file or all files may be.
    TooLarge(String),
    /// The disk said no.
    Disk(String),
}

/// The files kept, and the room reserved for uploads running.
struct Kept {
    /// The files, oldest first: (modified, id, size). A few thousand at
    /// most, so a list; the order they were added in breaks the ties of a
    /// file system whose clock ticks only every few milliseconds.
    by_age: Vec<(SystemTime, String, u64)>,
    total: u64,
    reserved: u64,
}

pub struct Store {
    dir: PathBuf,
    /// Largest file taken (`--file-max`).
    pub file_max: u64,
    /// All files together (`--files-max`).
    pub files_max: u64,
    /// The web port the links name.
    pub web_port: u16,
    kept: Mutex<Kept>,
    /// Transfers running: uploads and downloads, in all and per address.
    running: Mutex<HashMap<IpAddr, [usize; 2]>>,
    totals: Mutex<[usize; 2]>,
}

/// An upload or a download counted against its limits until dropped.
pub struct Slot {
    store: Arc<Store>,
    ip: IpAddr,
    /// 0: an upload, 1: a download.
    kind: usize,
}

impl Slot {
    fn take(store: &Arc<Store>, ip: IpAddr, kind: usize) -> Option<Slot> {
        let ([max, max_per_ip], mut totals) =
            ([[MAX_UPLOADS, MAX_UPLOADS_PER_IP], [MAX_DOWNLOADS, MAX_DOWNLOADS_PER_IP]][kind], store.totals());
        let mut running = store.running.lock().unwrap_or_else(|e| e.into_inner());
        let mine = running.entry(ip).or_default();
        if totals[kind] >= max || mine[kind] >= max_per_ip {
            if *mine == [0, 0] {
                running.remove(&ip);
            }
            return None;
        }
        mine[kind] += 1;
        totals[kind] += 1;
        Some(Slot { store: store.clone(), ip, kind })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.store.totals()[self.kind] -= 1;
        let mut running = self.store.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = running.get_mut(&self.ip) {
            mine[self.kind] -= 1;
            if *mine == [0, 0] {
                running.remove(&self.ip);
            }
        }
    }
}

/// Whether an error means the disk (or the quota) is full.
pub fn disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28 | 122)) // ENOSPC, EDQUOT
}

impl Store {
    /// Opens `files/` in the data directory: what an interrupted upload
    /// left is removed, the rest counted (and trimmed to `files_max`).
    pub fn open(data_dir: &Path, file_max: u64, files_max: u64, web_port: u16) -> io::Result<Store> {
        let dir = data_dir.join("files");
        let tmp = dir.join(".tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        let mut kept = Kept { by_age: Vec::new(), total: 0, reserved: 0 };
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let id = entry.file_name().to_string_lossy().into_owned();
            if !valid_id(&id) {
                continue;
            }
            match only_file(&entry.path()) {
                Some((_, meta)) => {
                    let at = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    kept.total += meta.len();
                    kept.by_age.push((at, id, meta.len()));
                }
                // A rename that never happened: nothing to serve.
                None => drop(remove(&entry.path())),
            }
        }
        kept.by_age.sort();
        let store = Store {
            dir,
            file_max,
            files_max,
            web_port,
            kept: Mutex::new(kept),
            running: Mutex::default(),
            totals: Mutex::default(),
        };
        let (count, total) = {
            let mut k = store.kept();
            let before = k.by_age.len();
            store.evict(&mut k, 0);
            if k.by_age.len() < before {
                let gone = before - k.by_age.len();
                warn!("removed the {gone} oldest shared files: all of them did not fit in --files-max {files_max}");
            }
            (k.by_age.len(), k.total)
        };
        info!("shared files in {} ({count} files, {total} bytes)", store.dir.display());
        Ok(store)
    }

    fn totals(&self) -> std::sync::MutexGuard<'_, [usize; 2]> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the oldest files until `room` more bytes fit beside the
    /// uploads running.
    fn evict(&self, k: &mut Kept, room: u64) {
        while k.total + k.reserved + room > self.files_max {
            if k.by_age.is_empty() {
                return;
            }
            let (_, id, size) = k.by_age.remove(0);
            k.total -= size;
            // A download of it under way keeps reading: the file is unlinked, not cut.
            if let Err(e) = remove(&self.dir.join(&id)) {
                warn!("cannot remove the shared file {id}: {e}");
            }
            info!("removed the shared file {id} ({size} bytes) to make room");
        }
    }

    /// Starts an upload of `len` bytes: room reserved, a temporary file open.
    pub fn begin(self: &Arc<Self>, len: u64, slot: Slot) -> Result<Upload, Refusal> {
        let max = self.file_max.min(self.files_max);
        if len > max {
            let human = crate::files::human_size;
            return Err(Refusal::TooLarge(format!(
                "The file is {}; this server takes up to {}",
                human(len),
                human(max)
            )));
        }
        {
            // Room is made when the file is whole: an upload that fails costs no other file.
            let mut k = self.kept();
            if k.reserved + len > self.files_max {
                return Err(Refusal::TooLarge("The uploads running leave no room for this file now".into()));
            }
            k.reserved += len;
        }
        // From here on, Upload's drop gives the reservation back.
        let store = self.clone();
        let mut upload = Upload { store, id: String::new(), tmp: PathBuf::new(), file: None, len, _slot: slot };
        let id = random_bytes::<16>().map_err(|e| Refusal::Disk(format!("no random id: {e}")))?;
        upload.id = hex(&id);
        upload.tmp = self.dir.join(".tmp").join(&upload.id);
        let file = File::create(&upload.tmp).map_err(|e| Refusal::Disk(e.to_string()))?;
        upload.file = Some(file);
        Ok(upload)
    }

    /// An upload slot for `ip`, if one is free.
    pub fn upload_slot(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        Slot::take(self, ip, 0)
    }

    /// A download slot for `ip`, if one is free.
    pub fn download_slot(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        Slot::take(self, ip, 1)
    }

    /// The file of `id`: open, with its name and length.
    pub fn open_file(&self, id: &str) -> Option<(File, String, u64)> {
        if !valid_id(id) {
            return None;
        }
        let (path, meta) = only_file(&self.dir.join(id))?;
        let name = path.file_name()?.to_string_lossy().into_owned();
        Some((File::open(&path).ok()?, name, meta.len()))
    }
}

/// Removes a file's directory and what is in it (its one file).
fn remove(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        fs::remove_file(entry?.path())?;
    }
    fs::remove_dir(dir)
}

/// The one regular file in a file's directory.
fn only_file(dir: &Path) -> Option<(PathBuf, fs::Metadata)> {
    let entry = fs::read_dir(dir).ok()?.filter_map(Result::ok).next()?;
    let meta = entry.metadata().ok().filter(fs::Metadata::is_file)?;
    Some((entry.path(), meta))
}

/// An upload being written. Dropped before [`Upload::finish`], it leaves
/// nothing behind.
pub struct Upload {
    store: Arc<Store>,
    pub id: String,
    tmp: PathBuf,
    file: Option<File>,
    /// The bytes announced.
    pub len: u64,
    _slot: Slot,
}

impl Upload {
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(data),
            None => Err(io::Error::other("the upload is over")),
        }
    }

    /// Syncs the file and puts it in place as `files/<id>/<name>`; the
    /// name it is kept under.
    pub fn finish(mut self, name: &str) -> io::Result<String> {
        let file = self.file.take().ok_or_else(|| io::Error::other("the upload is over"))?;
        file.sync_all()?;
        drop(file);
        let name = sanitize_name(name).unwrap_or_else(|| "file".into());
        let dir = self.store.dir.join(&self.id);
        fs::create_dir(&dir)?;
        // Synced down the path, so a power cut cannot lose a file already announced.
        let placed = fs::rename(&self.tmp, dir.join(&name))
            .and_then(|()| File::open(&dir)?.sync_all())
            .and_then(|()| File::open(&self.store.dir)?.sync_all());
        if let Err(e) = placed {
            let _ = remove(&dir);
            return Err(e);
        }
        let at = fs::metadata(dir.join(&name)).and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now());
        let mut k = self.store.kept();
        k.reserved -= self.len;
        self.store.evict(&mut k, self.len);
        k.total += self.len;
        k.by_age.push((at, self.id.clone(), self.len));
        self.len = 0;
        Ok(name)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.len > 0 || self.file.is_some() {
            self.store.kept().reserved -= self.len;
            self.file = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lanchat-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn files_are_kept_whole_and_the_oldest_make_room() {
        let d = dir("kept");
        let store = Arc::new(Store::open(&d, 100, 250, 8080).unwrap());
        let mut ids = Vec::new();
        for i in 0..3u8 {
            let mut up = store.begin(100, slot(&store)).unwrap();
            up.write(&[i; 100]).unwrap();
            ids.push(up.id.clone());
            assert_eq!(up.finish("../a b.txt").unwrap(), "a b.txt");
        }
        // 300 bytes do not fit in 250: the first went.
        assert!(store.open_file(&ids[0]).is_none());
        let (_, name, len) = store.open_file(&ids[2]).unwrap();
        assert_eq!((name.as_str(), len), ("a b.txt", 100));
        assert!(matches!(store.begin(101, slot(&store)), Err(Refusal::TooLarge(_))));
        // An upload dropped half-way leaves nothing, and gives its room back.
        let mut up = store.begin(100, slot(&store)).unwrap();
        up.write(b"half").unwrap();
        drop(up);
        assert_eq!(fs::read_dir(d.join("files/.tmp")).unwrap().count(), 0);
        assert_eq!(store.kept().reserved, 0);
        // A restart finds the same files; a directory left without its file is removed.
        fs::create_dir(d.join("files").join("0".repeat(32))).unwrap();
        fs::write(d.join("files/.tmp/leftover"), b"x").unwrap();
        drop(store);
        let store = Arc::new(Store::open(&d, 100, 250, 8080).unwrap());
        assert!(store.open_file(&ids[1]).is_some() && store.open_file(&ids[2]).is_some());
        assert!(!d.join("files").join("0".repeat(32)).exists());
        assert_eq!(fs::read_dir(d.join("files/.tmp")).unwrap().count(), 0);
        assert_eq!(store.kept().total, 200);
        let _ = fs::remove_dir_all(&d);
    }

    fn slot(store: &Arc<Store>) -> Slot {
        store.upload_slot(IpAddr::from([127, 0, 0, 1])).unwrap()
    }

    #[test]
    fn transfers_at_once_are_bounded_in_all_and_per_address() {
        let d = dir("busy");
        let store = Arc::new(Store::open(&d, 10, 1000, 8080).unwrap());
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        let two: Vec<_> = (0..2).map(|_| store.upload_slot(ip(1)).unwrap()).collect();
        assert!(store.upload_slot(ip(1)).is_none(), "two per address");
        assert!(store.download_slot(ip(1)).is_some(), "downloads count apart");
        let more: Vec<_> = (2..8).map(|n| store.upload_slot(ip(n)).unwrap()).collect();
        assert!(store.upload_slot(ip(9)).is_none(), "eight in all");
        drop((two, more));
        assert!(store.upload_slot(ip(1)).is_some());
        assert!(store.running.lock().unwrap().is_empty() && store.totals()[0] == 0);
        let downloads: Vec<_> = (0..4).map(|_| store.download_slot(ip(1)).unwrap()).collect();
        assert!(store.download_slot(ip(1)).is_none(), "four per address");
        drop(downloads);
        let _ = fs::remove_dir_all(&d);
    }
}
