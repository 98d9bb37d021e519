//! Measures the two figures the GUI must keep fast, in a real window (run it
//! under Xvfb: `make bench-gui`):
//!
//! * scrolling a chat log of 100,000 lines, one in 100 of them a shared
//!   picture shown as a thumbnail (`BENCH_FILES=N`: one in N, 0 for none): the
//!   slowest and the mean frame while paging through it (each frame waits
//!   until the X server has drawn it);
//! * redrawing a canvas of 10,000 strokes from scratch into its offscreen buffer
//!   and onto the window (what a resize costs), and a plain redraw (a copy).

use std::time::{Duration, Instant};

use fltk::app;
use fltk::draw::{self, Offscreen};
use fltk::prelude::*;
use fltk::window::Window;
use lanchat::canvas::{HEIGHT, Stroke, WIDTH};
use lanchat::gui::canvas::Canvas;
use lanchat::gui::chatlog::ChatLog;
use lanchat::gui::thumbs::{self, Facts};

const LINES: usize = 100_000;
const STROKES: usize = 10_000;

/// A small deterministic generator, so every run draws the same strokes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
}

/// Draws what is pending and waits until the X server has done it (reading a
/// pixel back is a round trip that follows every earlier request).
fn frame(sync: &mut Offscreen) -> Duration {
    let t = Instant::now();
    app::flush();
    let _ = draw::capture_offscreen(sync, 1, 1);
    t.elapsed()
}

/// CPU time of this thread so far (the machine may be busy with other work,
/// which inflates the wall-clock figures).
fn cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let a = app::App::default();
    let mut win = Window::new(0, 0, 1300, 640, "lanchat gui bench");
    let mut log = ChatLog::new(0, 0, 800, 640);
    let mut canvas = Canvas::new(810, 0, 480, 300);
    win.end();
    win.show();
    while !win.shown() {
        app::wait();
    }
    app::wait_for(0.1).ok();
    let mut sync = Offscreen::new(1, 1).expect("an offscreen buffer");

    // The log: append, then page from the top to the bottom.
    // Wait until the window is mapped and the log has been drawn once.
    let shown = Instant::now();
    while log.draws() == 0 && shown.elapsed() < Duration::from_secs(10) {
        log.display.redraw();
        app::wait_for(0.05).ok();
    }
    // A 400 x 300 picture, decoded once, for every file line.
    let mut picture = lanchat::canvas::raster::Raster::new(400, 300);
    for (i, px) in picture.px.chunks_exact_mut(3).enumerate() {
        px.copy_from_slice(&[(i % 400 * 255 / 400) as u8, (i / 400 * 255 / 300) as u8, 128]);
    }
    let png = lanchat::canvas::png::encode(&picture);
    let facts = Facts { size: Some(png.len() as u64), picture: Some(thumbs::decode(&png).unwrap()), failed: None };
    let every: usize = std::env::var("BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let mut files = 0;
    let t = Instant::now();
    let nicks = ["alice", "bob", "carol", "dave", "eve", "mallory"];
    for i in 0..LINES.min(std::env::var("BENCH_LINES").ok().and_then(|v| v.parse().ok()).unwrap_or(LINES)) {
        let nick = nicks[i % nicks.len()];
        if every > 0 && i % every == every / 2 {
            let url = format!("http://192.168.1.5:8080/f/{i:032x}/photo-{i}.png");
            log.add_file("12:00", nick, &lanchat::files::link(&url).unwrap(), false, false);
            log.update_file(&url, &facts);
            files += 1;
        } else if i % 17 == 0 {
            log.add_system("12:00", &format!("{nick} joined #lobby"));
        } else {
            log.add_message(
                "12:00",
                nick,
                &format!("line {i}: the quick brown fox jumps over the lazy dog 🙂"),
                false,
                false,
            );
        }
    }
    log.settle();
    let append = t.elapsed();
    frame(&mut sync);
    let rows = 35;
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    let mut frames = 0u32;
    let mut top = 1;
    let t_jump = Instant::now();
    log.display.scroll(1, 0);
    log.display.redraw();
    let jump = frame(&mut sync).max(t_jump.elapsed());
    // Down the whole log in 400 pages, then 100 pages back up, a frame each.
    let mut tops = Vec::new();
    while top < LINES as i32 {
        top += LINES as i32 / 400;
        tops.push(top);
    }
    for _ in 0..100 {
        top -= rows;
        tops.push(top);
    }
    for top in tops {
        log.display.scroll(top, 0);
        log.display.redraw();
        let d = frame(&mut sync);
        worst = worst.max(d);
        total += d;
        frames += 1;
    }
    assert!(log.draws() > u64::from(frames), "the log was not drawn: is the window mapped?");
    println!(
        "log: {LINES} lines ({files} of them pictures) appended in {:.0} ms; scrolling {frames} frames: mean {:.2} ms, worst {:.2} ms; jump to top {:.2} ms",
        ms(append),
        ms(total) / f64::from(frames),
        ms(worst),
        ms(jump)
    );

    // The canvas: 10,000 strokes of 8 points, then a full repaint.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for id in 0..STROKES as u32 {
        let mut s = Stroke {
            id,
            color: rng.next() & 0xff_ffff,
            width: (rng.next() % 12 + 1) as u8,
            points: Default::default(),
        };
        let (mut x, mut y) = ((rng.next() % u32::from(WIDTH)) as i32, (rng.next() % u32::from(HEIGHT)) as i32);
        for _ in 0..8 {
            x = (x + (rng.next() % 81) as i32 - 40).clamp(0, i32::from(WIDTH) - 1);
            y = (y + (rng.next() % 81) as i32 - 40).clamp(0, i32::from(HEIGHT) - 1);
            let _ = s.points.push((x as u16, y as u16));
        }
        canvas.add(s);
    }
    frame(&mut sync);
    let g = canvas.geometry();
    let mut full = Vec::new();
    let mut raster = Vec::new();
    let mut raster_cpu = Vec::new();
    let mut kept = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let c = cpu();
        // The picture keeps the newest segments and folds older ones into its
        // snapshot (canvas::picture), so fewer than STROKES are redrawn one by one.
        let n = canvas.state.borrow_mut().repaint_all(&g);
        assert!(n > 0 && n <= STROKES, "{n} segments repainted");
        kept = n;
        raster.push(t.elapsed());
        raster_cpu.push(cpu() - c);
        canvas.widget.redraw();
        let _ = frame(&mut sync);
        full.push(t.elapsed());
    }
    raster.sort();
    raster_cpu.sort();
    let mut copy = Vec::new();
    for _ in 0..20 {
        canvas.widget.redraw();
        copy.push(frame(&mut sync));
    }
    full.sort();
    copy.sort();
    println!(
        "canvas: {STROKES} strokes drawn ({kept} kept apart, the rest in the snapshot) repainted from scratch in {:.2} ms (median of 5, of which rasterising {:.2} ms, {:.2} ms of CPU; worst {:.2} ms); plain redraw {:.2} ms; a frame at 60 Hz is 16.7 ms",
        ms(full[full.len() / 2]),
        ms(raster[raster.len() / 2]),
        ms(raster_cpu[raster_cpu.len() / 2]),
        ms(full[full.len() - 1]),
        ms(copy[copy.len() / 2])
    );
    let _ = a;
}
