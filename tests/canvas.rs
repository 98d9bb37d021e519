//! The shared canvas as the room's memory, against the real server binary
//! and the real line-mode client (`--save-canvas`) on loopback: a joiner
//! after many segments saves exactly the picture a watcher saves, across
//! folds, undos, the eraser, an empty room, restarts and kill -9; undo and
//! clear permissions; and what a joiner receives stays bounded.

mod common;

use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use common::{Client, DEADLINE, Server, temp_dir};
use lanchat::canvas::picture::Picture;
use lanchat::canvas::raster::Raster;
use lanchat::canvas::{Stroke, png, snapshot};

/// Joined with message-tags: every client here sees the canvas.
fn joined(addr: &str, nick: &str, chan: &str) -> Client {
    common::joined_caps(addr, nick, chan, &["message-tags"])
}

/// Draws like a class would: strokes of several 6-point segments in a few
/// colours and widths, the eraser now and then, and undoes its last stroke
/// every so often. Keeps the picture everyone must end up with.
struct Scribbler {
    rng: u64,
    picture: Picture,
    at: (i32, i32),
    segments: usize,
}

const COLORS: [u32; 7] = [0x000000, 0xe02020, 0x2060e0, 0x20a040, 0xf0c000, 0x8040c0, 0xffffff];
const WIDTHS: [u8; 6] = [2, 4, 6, 10, 16, 24];

impl Scribbler {
    fn new(seed: u64) -> Scribbler {
        Scribbler { rng: seed | 1, picture: Picture::new(), at: (800, 500), segments: 0 }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    /// About `n` segments as TAGMSG lines to `chan`.
    fn draw(&mut self, n: usize, chan: &str) -> String {
        let mut out = String::new();
        let end = self.segments + n;
        while self.segments < end {
            let id = self.below(u64::from(u32::MAX)) as u32;
            let color = COLORS[self.below(COLORS.len() as u64) as usize];
            let width = WIDTHS[self.below(WIDTHS.len() as u64) as usize];
            self.at = (self.below(1600) as i32, self.below(1000) as i32);
            for _ in 0..4 {
                let mut s = Stroke { id, color, width, points: Default::default() };
                s.points.push((self.at.0 as u16, self.at.1 as u16)).unwrap();
                for _ in 0..5 {
                    let dx = self.below(41) as i32 - 20;
                    let dy = self.below(41) as i32 - 20;
                    self.at = ((self.at.0 + dx).clamp(0, 1599), (self.at.1 + dy).clamp(0, 999));
                    s.points.push((self.at.0 as u16, self.at.1 as u16)).unwrap();
                }
                out.push_str(&format!("@+lanchat/stroke={} TAGMSG {chan}\r\n", s.encode()));
                self.picture.add(s);
                self.segments += 1;
            }
            if self.below(20) == 0 {
                out.push_str(&format!("@+lanchat/undo={id} TAGMSG {chan}\r\n"));
                assert!(self.picture.undo(id, None));
            }
        }
        out
    }
}

/// The line-mode client with `--save-canvas`, its stdin held open.
struct Saver {
    child: Child,
    stdin: Option<ChildStdin>,
    path: std::path::PathBuf,
}

impl Saver {
    fn start(addr: &str, nick: &str, chan: &str) -> Saver {
        let path = temp_dir("save").join(format!("{nick}.png"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
            .args(["--client", "--no-gui", "--server", addr, "--nick", nick, "--channel", chan, "--save-canvas"])
            .arg(&path)
            .env("HOME", temp_dir("home"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        Saver { child, stdin, path }
    }

    /// Ends its input; it saves once its replay is in, and quits.
    fn finish(mut self) -> Raster {
        drop(self.stdin.take());
        let (tx, rx) = mpsc::channel();
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx.recv_timeout(DEADLINE).expect("the saver to quit").unwrap();
        assert!(status.success(), "the saver failed: {status}");
        png::decode(&std::fs::read(&self.path).unwrap()).unwrap()
    }
}

fn differing_pixels(a: &Raster, b: &Raster) -> usize {
    assert_eq!((a.w, a.h), (b.w, b.h));
    a.px.chunks_exact(3).zip(b.px.chunks_exact(3)).filter(|(x, y)| x != y).count()
}

fn send_segments(c: &mut Client, s: &mut Scribbler, n: usize, chan: &str) {
    let mut left = n;
    while left > 0 {
        let k = left.min(500);
        c.send_raw(s.draw(k, chan).as_bytes());
        left -= k;
        c.sync();
    }
}

#[test]
fn a_joiner_after_many_segments_saves_exactly_what_a_watcher_saves() {
    let s = Server::start(&["--flood-rate", "0"]);
    let mut drawer = joined(&s.addr(), "drawer", "#art");
    let watcher = Saver::start(&s.addr(), "watcher", "#art");
    drawer.expect_has("watcher!");
    let mut sc = Scribbler::new(7);
    send_segments(&mut drawer, &mut sc, 4000, "#art");
    // A joiner that comes while the drawing goes on.
    let joiner = Saver::start(&s.addr(), "joiner", "#art");
    drawer.send_raw(sc.draw(500, "#art").as_bytes());
    drawer.expect_has("joiner!");
    send_segments(&mut drawer, &mut sc, 1000, "#art");
    let journal = std::fs::read_to_string(s.data_dir.join("canvas.journal")).unwrap();
    assert!(journal.contains(" f #art "), "nothing was folded");
    let (w, j) = (watcher.finish(), joiner.finish());
    assert!(w.ink() > 100_000, "{} pixels of ink", w.ink());
    assert_eq!(differing_pixels(&w, &j), 0);
    assert_eq!(differing_pixels(&w, sc.picture.raster()), 0);
    // A newcomer now, from the snapshot and the strokes since alone.
    let late = Saver::start(&s.addr(), "late", "#art");
    assert_eq!(differing_pixels(&late.finish(), &w), 0);
}

#[test]
fn the_canvas_survives_an_empty_room_a_restart_and_kill9() {
    let dir = temp_dir("canvas-restart");
    let mut s = Server::start_in(&dir, &["--flood-rate", "0"]);
    let mut sc = Scribbler::new(11);
    let mut drawer = joined(&s.addr(), "drawer", "#art");
    send_segments(&mut drawer, &mut sc, 3000, "#art");
    drawer.send("QUIT");
    drawer.expect_closed();
    // The room is empty: the canvas stays.
    let saved = Saver::start(&s.addr(), "first", "#art").finish();
    assert_eq!(differing_pixels(&saved, sc.picture.raster()), 0);
    // kill -9 right after the last stroke was relayed: nothing is lost.
    let mut drawer = joined(&s.addr(), "drawer", "#art");
    send_segments(&mut drawer, &mut sc, 500, "#art");
    s.restart();
    let saved = Saver::start(&s.addr(), "second", "#art").finish();
    assert_eq!(differing_pixels(&saved, sc.picture.raster()), 0);
    assert!(saved.ink() > 10_000);
    // And again after a clean second start (a restart of the restart).
    s.restart();
    let saved = Saver::start(&s.addr(), "third", "#art").finish();
    assert_eq!(differing_pixels(&saved, sc.picture.raster()), 0);
}

#[test]
fn undo_and_clear_follow_who_may() {
    let s = Server::start(&[]);
    let mut op = joined(&s.addr(), "op", "#art");
    let mut bob = joined(&s.addr(), "bob", "#art");
    let mut cy = joined(&s.addr(), "cy", "#art");
    bob.send("@+lanchat/stroke=5,ff0000,3,10,10,20,20 TAGMSG #art");
    bob.send("@+lanchat/stroke=5,ff0000,3,20,20,30,30 TAGMSG #art");
    op.send("@+lanchat/stroke=6,00ff00,3,10,10,20,20 TAGMSG #art");
    cy.expect_has("stroke=6,");
    // Another's stroke: only an operator may take it back.
    bob.send("@+lanchat/undo=6 TAGMSG #art");
    bob.expect_has(" 482 bob #art :You're not channel operator");
    // A stroke ID someone else holds is refused.
    bob.send("@+lanchat/stroke=6,0000ff,3,1,1 TAGMSG #art");
    bob.expect_has(" 400 bob TAGMSG :Invalid canvas stroke: stroke ID 6 belongs to another nick; pick a new ID");
    // Your own: relayed with the number of segments removed.
    bob.send("@+lanchat/undo=5 TAGMSG #art");
    assert!(cy.expect_has("lanchat/undo").starts_with("@+lanchat/undo=5,2;msgid="));
    bob.send("@+lanchat/undo=5 TAGMSG #art");
    bob.expect_has(" 400 bob TAGMSG :Cannot undo stroke 5: it is not kept");
    bob.send("@+lanchat/undo=x TAGMSG #art");
    bob.expect_has(" 400 bob TAGMSG :Cannot undo stroke x: not a stroke ID");
    op.send("@+lanchat/undo=6 TAGMSG #art");
    assert!(cy.expect_has("lanchat/undo=6").starts_with("@+lanchat/undo=6,1;msgid="));
    // Clear: operators only.
    cy.send("@+lanchat/clear TAGMSG #art");
    cy.expect_has(" 482 cy #art :You're not channel operator");
    op.send("@+lanchat/clear TAGMSG #art");
    assert!(bob.expect_has("lanchat/clear").starts_with("@+lanchat/clear;msgid="));
    assert!(cy.sync().iter().all(|l| !l.contains("lanchat/undo=6") && !l.contains("stroke=6,0000ff")));
    // Snapshots are the server's alone: one a member sends is not relayed.
    bob.send("@+lanchat/snapshot=1/1,AAAA TAGMSG #art");
    bob.sync();
    assert!(cy.sync().iter().all(|l| !l.contains("lanchat/snapshot")));
}

/// What a raw client gets for a JOIN: the bytes of its canvas lines (up to
/// the PONG of a PING sent with the JOIN), the time they took, and the picture.
fn join_and_measure(addr: &str, nick: &str, chan: &str) -> (usize, f64, Raster) {
    let mut c = Client::register_caps(addr, nick, &["message-tags"]);
    let started = Instant::now();
    c.send(&format!("JOIN {chan}"));
    c.send("PING :measured");
    let end = Instant::now() + DEADLINE;
    let mut lines = Vec::new();
    loop {
        let l = c.read_line(end).expect("the replay");
        if l.contains(" PONG ") && l.ends_with("measured") {
            break;
        }
        lines.push(l);
    }
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let (mut bytes, mut picture, mut gather) = (0, Picture::new(), snapshot::Gather::default());
    for l in lines {
        let Some(tags) = l.strip_prefix('@').and_then(|l| l.split(' ').next()) else { continue };
        bytes += l.len() + 2;
        if let Some(v) = tags.strip_prefix("+lanchat/snapshot=") {
            if let Some(png) = gather.piece(v) {
                picture.snapshot(&png.unwrap()).unwrap();
            }
        } else if let Some(v) = tags.strip_prefix("+lanchat/stroke=") {
            picture.add(Stroke::decode(v).unwrap());
        }
    }
    (bytes, ms, picture.raster().clone())
}

#[test]
fn what_a_joiner_receives_is_bounded_whatever_the_history() {
    let s = Server::start(&["--flood-rate", "0"]);
    let mut drawer = joined(&s.addr(), "drawer", "#art");
    let mut sc = Scribbler::new(3);
    let mut sizes = Vec::new();
    for n in [1000, 3000, 4000] {
        send_segments(&mut drawer, &mut sc, n, "#art");
        let (bytes, ms, picture) = join_and_measure(&s.addr(), &format!("j{}", sc.segments), "#art");
        assert_eq!(differing_pixels(&picture, sc.picture.raster()), 0);
        sizes.push((sc.segments, bytes, ms));
        assert!(bytes <= 512 << 10, "{bytes} bytes after {} segments", sc.segments);
        assert!(ms < 1000.0, "{ms} ms after {} segments", sc.segments);
    }
    eprintln!("(segments, bytes, ms) for joiners: {sizes:?}");
}
