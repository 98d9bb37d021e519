//! Draws on a lanchat server's canvas like a class would, then measures
//! what a joiner receives: `cargo run --release --example canvas_load --
//! 127.0.0.1:6667 1000,100000,1000000 [--watchers N] [--pid PID]`. Run the
//! server with `--flood-rate 0` and on loopback only. Prints, after each
//! total of segments, the bytes and milliseconds of a joiner's canvas replay
//! (JOIN to the PONG of a PING sent with it), and one JSON line at the end.
//! `--watchers N`: that many clients in the channel take every stroke
//! relayed; `--pid`: the server's, for its CPU time per segment drawn.
//! Scenario 10 of `make bench` runs it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Instant;

#[path = "loadgen.rs"]
mod loadgen;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn connect(addr: &str, nick: &str) -> (TcpStream, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "CAP REQ :message-tags\r\nCAP END\r\nNICK {nick}\r\nUSER {nick} 0 * :load\r\n").unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    while !line.contains(" 376 ") && !line.contains(" 422 ") {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed while registering");
    }
    (s, r)
}

/// Sends PING and reads up to its PONG; returns the bytes of tagged lines on the way.
fn sync(s: &mut TcpStream, r: &mut BufReader<TcpStream>, token: &str) -> usize {
    write!(s, "PING :{token}\r\n").unwrap();
    let (mut bytes, mut line) = (0, String::new());
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "closed");
        if line.contains(" PONG ") && line.trim_end().ends_with(token) {
            return bytes;
        }
        if line.starts_with('@') {
            bytes += line.len();
        }
    }
}

/// `canvas_load --codec N`: the time to paint N scribbled segments and to
/// encode and decode the picture as PNG (what a fold costs), and its size.
fn codec(n: usize) {
    use lanchat::canvas::{Stroke, png, raster::Raster};
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut r = Raster::blank();
    let t = Instant::now();
    for _ in 0..n {
        let mut s = Stroke {
            id: 1,
            color: [0, 0xe02020, 0x2060e0, 0x20a040, 0xffffff][rng.below(5) as usize],
            width: [2, 6, 16][rng.below(3) as usize],
            points: Default::default(),
        };
        let mut at = (rng.below(1600) as i64, rng.below(1000) as i64);
        for _ in 0..6 {
            let _ = s.points.push((at.0 as u16, at.1 as u16));
            at = ((at.0 + rng.below(41) as i64 - 20).clamp(0, 1599), (at.1 + rng.below(41) as i64 - 20).clamp(0, 999));
        }
        r.paint(&s);
    }
    let painted = t.elapsed();
    let t = Instant::now();
    let p = png::encode(&r);
    let encoded = t.elapsed();
    let t = Instant::now();
    let back = png::decode(&p).unwrap();
    let decoded = t.elapsed();
    assert!(back == r);
    println!(
        "{n} segments: painted in {painted:?}, PNG {} bytes encoded in {encoded:?}, decoded in {decoded:?}",
        p.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--codec") {
        for n in [1000, 100_000] {
            codec(n);
        }
        return;
    }
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)?.parse::<usize>().ok());
    let (watchers, pid) = (flag("--watchers").unwrap_or(0), flag("--pid").map(|p| p.to_string()));
    let addr = args.get(1).map_or("127.0.0.1:6667", String::as_str);
    let totals: Vec<usize> =
        args.get(2).map_or("1000,100000,1000000", String::as_str).split(',').map(|n| n.parse().unwrap()).collect();
    let (mut d, mut dr) = connect(addr, "drawer");
    write!(d, "JOIN #load\r\n").unwrap();
    sync(&mut d, &mut dr, "joined");
    let watching: Vec<_> = (0..watchers).map(|i| watch(addr, i)).collect();
    let cpu = || pid.as_deref().map_or(f64::NAN, loadgen::cpu_s);
    let mut json = String::new();
    let colors = [0x000000, 0xe02020, 0x2060e0, 0x20a040, 0xf0c000, 0x8040c0, 0xffffff];
    let widths = [2, 4, 6, 10, 16, 24];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut sent = 0usize;
    for (k, total) in totals.iter().enumerate() {
        let started = Instant::now();
        let (cpu0, from) = (cpu(), sent);
        while sent < *total {
            let mut blob = String::new();
            for _ in 0..250 {
                let id = rng.below(u64::from(u32::MAX));
                let color = colors[rng.below(7) as usize];
                let width = widths[rng.below(6) as usize];
                let mut at = (rng.below(1600) as i64, rng.below(1000) as i64);
                for _ in 0..4 {
                    let mut v = format!("{id},{color:06x},{width},{},{}", at.0, at.1);
                    for _ in 0..5 {
                        at = (
                            (at.0 + rng.below(41) as i64 - 20).clamp(0, 1599),
                            (at.1 + rng.below(41) as i64 - 20).clamp(0, 999),
                        );
                        v.push_str(&format!(",{},{}", at.0, at.1));
                    }
                    blob.push_str(&format!("@+lanchat/stroke={v} TAGMSG #load\r\n"));
                    sent += 1;
                }
            }
            d.write_all(blob.as_bytes()).unwrap();
            sync(&mut d, &mut dr, "sent");
        }
        let drew = started.elapsed().as_secs_f64();
        let cpu_s = cpu() - cpu0;
        let per_us = cpu_s * 1e6 / (sent - from).max(1) as f64;
        let (mut j, mut jr) = connect(addr, &format!("joiner{k}"));
        let t = Instant::now();
        write!(j, "JOIN #load\r\n").unwrap();
        let bytes = sync(&mut j, &mut jr, "replayed");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "after {sent} segments (drawn in {drew:.1} s, server CPU {per_us:.1} µs a segment): a joiner got {bytes} bytes of canvas in {ms:.1} ms"
        );
        write!(j, "QUIT\r\n").unwrap();
        json = format!(
            "{{\"segments\":{sent},\"watchers\":{watchers},\"draw_s\":{drew:.2},\"server_cpu_s\":{cpu_s:.2},\"cpu_us_per_segment\":{per_us:.2},\"joiner_bytes\":{bytes},\"joiner_ms\":{ms:.2}"
        );
    }
    // Every watcher must have had every segment relayed.
    write!(d, "PRIVMSG #load :end\r\n").unwrap();
    let got: Vec<usize> = watching.into_iter().map(|w| w.join().unwrap()).collect();
    let relayed = got.iter().sum::<usize>();
    assert!(got.iter().all(|&n| n == sent), "watchers got {got:?} of {sent} segments each");
    println!("{json},\"relayed\":{relayed}}}");
}

/// A client in the channel that takes every stroke relayed until `end`; returns how many.
fn watch(addr: &str, i: usize) -> std::thread::JoinHandle<usize> {
    let (mut s, mut r) = connect(addr, &format!("watcher{i}"));
    write!(s, "JOIN #load\r\n").unwrap();
    sync(&mut s, &mut r, "joined");
    std::thread::spawn(move || {
        let (mut n, mut line) = (0, String::new());
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return n;
            }
            if line.contains(" TAGMSG #load") && line.contains("+lanchat/stroke=") {
                n += 1;
            } else if line.contains(" PRIVMSG #load :end") {
                return n;
            } else if line.starts_with("PING ") {
                let _ = s.write_all(line.replacen("PING", "PONG", 1).as_bytes());
            }
        }
    })
}
