//! Sharing files from the window: the Send file… button and its chooser,
//! files dropped on the window, the transfers' progress bar, what the log
//! shows of a file (its size and thumbnail, fetched on worker threads, never
//! on the GUI thread), and the file menu: Download (into the Downloads
//! folder), Open in browser, Copy link.
//!
//! Uploads are the connection's ([`Command::SendFile`]); it reports them
//! as [`Event::Transfer`]. The protocol is in docs/PROTOCOL.md ("Files").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Instant, SystemTime};

use fltk::app;
use fltk::button::Button;
use fltk::dialog::{NativeFileChooser, NativeFileChooserType};
use fltk::enums::{Color, Event as FlEvent};
use fltk::group::Flex;
use fltk::menu::MenuButton;
use fltk::misc::Progress;
use fltk::prelude::*;
use fltk::window::Window;

use super::thumbs::{self, Facts};
use super::{App, Msg, usermenu};
use crate::client::{Command, ConnState, TransferState, http};
use crate::files::{Link, human_size, is_image_name, percent_decode, sanitize_name};

/// Pictures larger than this are not fetched for a thumbnail.
pub const THUMB_FETCH_MAX: u64 = 10 << 20;
/// Threads fetching sizes and thumbnails.
const FETCHERS: usize = 2;

/// What a fetcher found out about a link, for the loop.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub url: String,
    pub facts: Facts,
}

/// A transfer in the progress bar: an upload (the connection's id) or a download (ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Up(u64),
    Down(u64),
}

struct Transfer {
    name: String,
    done: u64,
    total: u64,
    /// A download: where it goes, and the conversation that asked for it.
    dest: Option<(PathBuf, String)>,
}

/// The window's file state.
pub struct Files {
    pub button: Button,
    pub bar: Progress,
    /// The column the bar is in: laid out again when it shows or hides.
    column: Flex,
    transfers: BTreeMap<Key, Transfer>,
    /// What is known of each link seen (asked once per link).
    known: HashMap<String, Facts>,
    jobs: Option<mpsc::Sender<Job>>,
    next_download: u64,
    /// How many drags came over the window (for the probe).
    pub drags: u64,
    /// How often the bar was shown (for the probe: a transfer can be over
    /// before anyone looks).
    pub bar_shown: u64,
    menu: MenuButton,
    tx: app::Sender<Msg>,
}

impl Files {
    /// The button (in the input row) and the bar (under it) are made by
    /// the caller's layout; the menu is added to `win`.
    pub fn new(win: &mut Window, tx: app::Sender<Msg>, mut button: Button, mut bar: Progress, column: Flex) -> Files {
        button.set_callback(move |_| tx.send(Msg::SendFileDialog));
        bar.set_selection_color(Color::from_hex(0x6a9fe0));
        bar.set_label_size(12);
        bar.hide();
        let menu = usermenu::popup_menu(win);
        // Files dropped on the window: it takes the drag wherever it is,
        // and the paste that follows the drop is the list of files. Its
        // handler goes first, so that its widgets see none of it: not the
        // paste (the input line would take it), nor the pointer moving
        // while the drag ends (the widget under it would get the drop,
        // which goes to the one under the pointer when it is released).
        let dragging = std::rc::Rc::new(std::cell::Cell::new(false));
        win.super_handle_first(false);
        win.handle(move |w, ev| match ev {
            FlEvent::DndEnter | FlEvent::DndDrag => {
                if !dragging.replace(true) {
                    tx.send(Msg::DragEntered);
                }
                app::set_belowmouse(w);
                true
            }
            FlEvent::DndRelease | FlEvent::DndLeave => {
                dragging.set(false);
                true
            }
            FlEvent::Enter | FlEvent::Move => dragging.get(),
            FlEvent::Push => {
                dragging.set(false);
                false
            }
            FlEvent::Paste => {
                tx.send(Msg::Dropped(app::event_text()));
                true
            }
            _ => false,
        });
        let mut f = Files {
            button,
            bar,
            column,
            transfers: BTreeMap::new(),
            known: HashMap::new(),
            jobs: None,
            next_download: 0,
            bar_shown: 0,
            drags: 0,
            menu,
            tx,
        };
        f.set_max(None);
        f
    }

    /// The loop's channel, for widgets that post to it.
    pub fn sender(&self) -> app::Sender<Msg> {
        self.tx
    }

    /// What the server said it takes: the button is greyed out when it takes none.
    pub fn set_max(&mut self, max: Option<u64>) {
        match max {
            Some(m) => {
                self.button.activate();
                self.button.set_tooltip(&format!(
                    "Send a file (up to {}) to this conversation; or drop files on the window",
                    human_size(m)
                ));
            }
            None => {
                self.button.deactivate();
                self.button.set_tooltip("This server takes no files (or is not connected)");
            }
        }
        self.button.redraw();
    }

    /// Asks a fetcher about a link, once; what is known so far. `server`
    /// is the chat server's `HOST:PORT`.
    fn ask(&mut self, link: &Link, server: &str) -> Facts {
        if let Some(facts) = self.known.get(&link.url) {
            return facts.clone();
        }
        self.known.insert(link.url.clone(), Facts::default());
        let tx = self.tx;
        let jobs = self.jobs.get_or_insert_with(|| {
            thumbs::register_decoders();
            fetchers(tx)
        });
        let _ = jobs.send(Job { url: link.url.clone(), server: host_of(server).to_owned() });
        Facts::default()
    }

    /// Shows the transfers in the bar, or hides it when there are none.
    fn refresh_bar(&mut self) {
        let (done, total) = self.transfers.values().fold((0, 0), |(d, t), x| (d + x.done, t + x.total.max(x.done)));
        let label = match self.transfers.values().collect::<Vec<_>>()[..] {
            [] => {
                if self.bar.visible() {
                    self.bar.hide();
                    self.relayout();
                }
                return;
            }
            [one] => {
                let verb = if one.dest.is_some() { "Downloading" } else { "Sending" };
                format!("{verb} {}: {} of {}", one.name, human_size(one.done), human_size(one.total.max(one.done)))
            }
            ref many => format!("{} files: {} of {}", many.len(), human_size(done), human_size(total)),
        };
        self.bar.set_maximum(total.max(1) as f64);
        self.bar.set_value(done as f64);
        self.bar.set_label(&label);
        if !self.bar.visible() {
            self.bar_shown += 1;
            self.bar.show();
            self.relayout();
        }
        self.bar.redraw();
    }

    /// Lays the column out again with the bar shown or hidden; the column
    /// has no box of its own, so what moved is cleared by the window.
    fn relayout(&mut self) {
        self.column.layout();
        if let Some(mut w) = self.column.window() {
            w.redraw();
        }
    }

    /// The bar's text and how full it is, for the probe.
    pub fn bar_state(&self) -> String {
        if !self.bar.visible() {
            return "-".to_owned();
        }
        format!("{}\t{}/{}", self.bar.label(), self.bar.value(), self.bar.maximum())
    }
}

/// A link to ask about, and the host of the chat server.
struct Job {
    url: String,
    server: String,
}

/// Starts the threads that fetch what the log shows of a file: its size
/// (HEAD), and for a picture not over [`THUMB_FETCH_MAX`] the picture,
/// decoded into a thumbnail there too. They end with the window.
fn fetchers(tx: app::Sender<Msg>) -> mpsc::Sender<Job> {
    let (jobs, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..FETCHERS {
        let rx = rx.clone();
        std::thread::spawn(move || {
            loop {
                let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(Job { url, server }) = job else { return };
                let facts = fetch(&url, &server);
                tx.send(Msg::Fetched(Box::new(Fetched { url, facts })));
            }
        });
    }
    jobs
}

/// The host of `HOST:PORT`, `[V6]:PORT` or `HOST`, without port or brackets.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match authority.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => authority,
    }
}

/// Whether a link's host is the chat server's: the same name, or an
/// address of the server's name. Only the server's name (the user's
/// choice) is ever looked up: a name in a link could be one whose lookups
/// its owner watches, or rebinds.
fn same_host(link: &str, server: &str) -> bool {
    let link = link.trim_start_matches('[').trim_end_matches(']');
    let server = server.trim_start_matches('[').trim_end_matches(']');
    link.eq_ignore_ascii_case(server)
        || link
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| (server, 0).to_socket_addrs().is_ok_and(|mut addrs| addrs.any(|a| a.ip() == ip)))
}

/// What the log shows of a link. Only links to the chat server are
/// fetched by themselves: a message must not make every window in the
/// room contact a machine of the sender's choosing (a click still can).
fn fetch(url: &str, server: &str) -> Facts {
    let mut facts = Facts::default();
    let host = url.split_once("://").map_or("", |(_, rest)| host_of(rest.split('/').next().unwrap_or("")));
    if !same_host(host, server) {
        facts.failed = Some(format!("on another server ({host}), not fetched"));
        return facts;
    }
    let image = crate::files::link(url).is_some_and(|l| is_image_name(&l.name));
    match http::head(url) {
        Ok(size) => facts.size = Some(size),
        Err(e) => facts.failed = Some(e),
    }
    match facts.size {
        Some(size) if image && size > THUMB_FETCH_MAX => {
            facts.failed = Some(format!("no preview over {}", human_size(THUMB_FETCH_MAX)));
        }
        Some(_) if image => match http::get(url, THUMB_FETCH_MAX).and_then(|b| thumbs::decode(&b)) {
            Ok(p) => facts.picture = Some(p),
            Err(e) => facts.failed = Some(e),
        },
        _ => {}
    }
    facts
}

/// The files in what a drop pastes: `file://` URIs (percent-encoded) or
/// plain paths, one a line.
pub fn dropped_paths(text: &str) -> Vec<PathBuf> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| match l.strip_prefix("file://") {
            // `file:///path` or `file://localhost/path`.
            Some(rest) => {
                let path = &rest[rest.find('/')?..];
                percent_decode(path).map(PathBuf::from)
            }
            None => l.starts_with('/').then(|| PathBuf::from(l)),
        })
        .collect()
}

/// Where downloads go: `$XDG_DOWNLOAD_DIR`, else ~/Downloads.
pub fn downloads_dir() -> PathBuf {
    match std::env::var_os("XDG_DOWNLOAD_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join("Downloads"),
    }
}

/// A path in `dir` for `name` that is not taken (on disk or in `taken`):
/// `name`, else `stem (1).ext`, `stem (2).ext`…
pub fn free_path(dir: &Path, name: &str, taken: &HashSet<PathBuf>) -> PathBuf {
    let name = sanitize_name(name).unwrap_or_else(|| "download".to_owned());
    // The extension is everything from the first dot: "a (1).tar.gz".
    let (stem, ext) = match name.char_indices().skip(1).find(|&(_, c)| c == '.') {
        Some((i, _)) => name.split_at(i),
        None => (name.as_str(), ""),
    };
    let free = |p: &PathBuf| !taken.contains(p) && std::fs::symlink_metadata(p).is_err();
    (0..)
        .map(|n| dir.join(if n == 0 { name.clone() } else { format!("{stem} ({n}){ext}") }))
        .find(free)
        .unwrap_or_else(|| dir.join(&name))
}

impl App {
    /// A message that is a file link: its name and room in the log, and
    /// what is known of it (asked for once).
    pub(super) fn show_file(&mut self, conv: usize, time: &str, from: &str, link: &Link, mention: bool) {
        let facts = self.files.ask(link, &self.view.settings.server);
        let log = &mut self.convs[conv].log;
        log.add_file(time, from, link, false, mention);
        log.update_file(&link.url, &facts);
    }

    pub(super) fn on_fetched(&mut self, f: Fetched) {
        self.files.known.insert(f.url.clone(), f.facts.clone());
        for c in &mut self.convs {
            c.log.update_file(&f.url, &f.facts);
        }
        self.dirty = true;
    }

    /// Send file…: the chooser, then each file chosen.
    pub(super) fn choose_files(&mut self) {
        let target = self.current_target();
        let mut chooser = NativeFileChooser::new(NativeFileChooserType::BrowseMultiFile);
        chooser.set_title(&format!("Send a file to {target}"));
        chooser.show();
        let paths = chooser.filenames();
        self.send_files(&target, paths);
    }

    /// Files dropped on the window go to the conversation in view; a drop
    /// of text without files goes into the input line.
    pub(super) fn dropped(&mut self, text: &str) {
        let paths = dropped_paths(text);
        if paths.is_empty() {
            let _ = self.input.insert(text.trim());
            let _ = self.input.take_focus();
            self.dirty = true;
            return;
        }
        let target = self.current_target();
        self.send_files(&target, paths);
    }

    /// Uploads each file to `target`, after the checks that can be made here.
    pub(super) fn send_files(&mut self, target: &str, paths: Vec<PathBuf>) {
        let i = self.active();
        let now = SystemTime::now();
        for path in paths {
            let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
            let why = match self.view.files {
                None if self.view.state != ConnState::Connected => Some("not connected".to_owned()),
                None => Some("this server takes no files".to_owned()),
                Some(max) => crate::files::sendable(&path, max).err(),
            };
            match why {
                Some(why) => self.system(i, now, &format!("cannot send {name}: {why}")),
                None => self.handle.send(Command::SendFile { target: target.to_owned(), path }),
            }
        }
    }

    /// An upload's progress in the bar (the view says how it ended).
    pub(super) fn on_transfer(&mut self, id: u64, name: &str, done: u64, total: u64, state: &TransferState) {
        if *state == TransferState::Running {
            let t = Transfer { name: name.to_owned(), done, total, dest: None };
            self.files.transfers.insert(Key::Up(id), t);
        } else {
            self.files.transfers.remove(&Key::Up(id));
        }
        self.files.refresh_bar();
        self.dirty = true;
    }

    /// A click on a file in a log: what to do with it.
    pub(super) fn file_menu(&mut self, url: &str, name: &str) {
        const ITEMS: [&str; 3] = ["Download", "Open in browser", "Copy link"];
        let menu = &mut self.files.menu;
        menu.clear();
        for item in ITEMS {
            menu.add_choice(item);
        }
        self.dirty = true;
        match menu.popup().and_then(|item| item.label()).as_deref() {
            Some("Download") => self.download(url, name),
            Some("Open in browser") => super::chatlog::open_link(url),
            Some("Copy link") => app::copy(url),
            _ => {}
        }
    }

    /// Saves a file into the Downloads folder on a thread of its own, with
    /// the progress in the bar; a line says where it went.
    fn download(&mut self, url: &str, name: &str) {
        let dir = downloads_dir();
        let i = self.active();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            self.system(i, SystemTime::now(), &format!("cannot download {name}: {}: {e}", dir.display()));
            return;
        }
        let taken: HashSet<PathBuf> =
            self.files.transfers.values().filter_map(|t| Some(t.dest.as_ref()?.0.clone())).collect();
        let dest = free_path(&dir, name, &taken);
        self.files.next_download += 1;
        let id = self.files.next_download;
        let conv = self.convs[i].name.clone();
        let t = Transfer { name: name.to_owned(), done: 0, total: 0, dest: Some((dest.clone(), conv)) };
        self.files.transfers.insert(Key::Down(id), t);
        self.files.refresh_bar();
        let (tx, url) = (self.files.tx, url.to_owned());
        std::thread::spawn(move || {
            // A message per step of the bar, not per chunk.
            let mut last = (Instant::now(), 0u64);
            let result = http::download(&url, &dest, &mut |done, total| {
                let step = total / 100 + 1;
                if done / step != last.1 / step && last.0.elapsed().as_millis() >= 50 {
                    last = (Instant::now(), done);
                    tx.send(Msg::DownloadProgress { id, done, total });
                }
            });
            tx.send(Msg::Downloaded { id, result: result.map(|_| ()) });
        });
    }

    pub(super) fn download_progress(&mut self, id: u64, done: u64, total: u64) {
        if let Some(t) = self.files.transfers.get_mut(&Key::Down(id)) {
            (t.done, t.total) = (done, total);
            self.files.refresh_bar();
            self.dirty = true;
        }
    }

    pub(super) fn downloaded(&mut self, id: u64, result: Result<(), String>) {
        let Some(t) = self.files.transfers.remove(&Key::Down(id)) else { return };
        self.files.refresh_bar();
        let Some((dest, conv)) = t.dest else { return };
        let text = match result {
            Ok(()) => format!("{} saved as {}", t.name, dest.display()),
            Err(e) => format!("cannot download {}: {e}", t.name),
        };
        let i = self.conv_index(&conv).unwrap_or(0);
        self.system(i, SystemTime::now(), &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_uris_and_paths_are_files() {
        let text = "file:///home/ann/My%20photo.png\r\nfile://localhost/tmp/caf%C3%A9.txt\n# a comment\n/tmp/plain path\nhttp://x/y\n";
        assert_eq!(
            dropped_paths(text),
            [PathBuf::from("/home/ann/My photo.png"), PathBuf::from("/tmp/café.txt"), PathBuf::from("/tmp/plain path")]
        );
        assert!(dropped_paths("file:///bad%zz").is_empty());
    }

    #[test]
    fn only_links_to_the_chat_server_are_fetched() {
        assert_eq!(host_of("192.168.1.5:8080"), "192.168.1.5");
        assert_eq!(host_of("[::1]:8080"), "::1");
        assert_eq!(host_of("pi"), "pi");
        assert_eq!(host_of("fe80::1"), "fe80::1");
        assert!(same_host("PI.lan", "pi.lan"));
        // The server's name is looked up, a link's never.
        assert!(same_host("127.0.0.1", "localhost"));
        assert!(!same_host("localhost", "127.0.0.1"));
        assert!(!same_host("127.0.0.2", "127.0.0.1"));
        let id = "0123456789abcdef0123456789abcdef";
        let facts = fetch(&format!("http://127.0.0.2:9/f/{id}/a.png"), "127.0.0.1");
        assert_eq!(facts.failed.as_deref(), Some("on another server (127.0.0.2), not fetched"));
    }

    #[test]
    fn a_taken_name_gets_a_number() {
        let dir = std::env::temp_dir().join(format!("lanchat-free-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let none = HashSet::new();
        assert_eq!(free_path(&dir, "a.tar.gz", &none), dir.join("a.tar.gz"));
        std::fs::write(dir.join("a.tar.gz"), "x").unwrap();
        assert_eq!(free_path(&dir, "a.tar.gz", &none), dir.join("a (1).tar.gz"));
        let taken = HashSet::from([dir.join("a (1).tar.gz")]);
        assert_eq!(free_path(&dir, "a.tar.gz", &taken), dir.join("a (2).tar.gz"));
        assert_eq!(free_path(&dir, ".hidden", &none), dir.join("hidden"));
        assert_eq!(free_path(&dir, "../../etc/passwd", &none), dir.join("passwd"));
        assert_eq!(free_path(&dir, "..", &none), dir.join("download"));
        std::fs::write(dir.join("README"), "x").unwrap();
        assert_eq!(free_path(&dir, "README", &none), dir.join("README (1)"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
