//! What each fuzz target checks, shared with `tests/fuzz_corpus.rs` (which
//! includes this file) so the seed corpus replays as ordinary tests.
//!
//! Each function takes arbitrary bytes, must never panic, and asserts the
//! invariants its code promises (round trips, bounds).

use lanchat::canvas::Stroke;
use lanchat::line::{self, MAX_PARAMS, Message};
use lanchat::server::canvas_store::Canvases;
use lanchat::server::commands::{self, Conn, Cx, Flow};
use lanchat::server::history::{self, Journal};
use lanchat::server::outbox::Outbox;
use lanchat::server::runtime::Runtime;
use lanchat::server::state::Shared;

/// The line parser: never panics; what it parses formats back to the same message.
pub fn line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The server splits input at CR and LF before parsing, and refuses NUL.
    for raw in text.split(['\r', '\n']).filter(|l| !l.contains('\0')) {
        let Ok(m) = Message::parse(raw) else { continue };
        assert!(!m.command.is_empty() && !m.command.contains(' '));
        assert!(m.params.len() <= MAX_PARAMS);
        let _ = m.source_nick();
        if m.params.len() > 1 {
            for p in &m.params[..m.params.len() - 1] {
                assert!(!p.is_empty() && !p.contains(' ') && !p.starts_with(':'), "{raw:?}: {p:?}");
            }
        }
        // A command that starts with '@' only parses as one after tags.
        if m.command.starts_with('@') {
            continue;
        }
        let tags: Vec<(&str, String)> = m.tags().map(|(k, v)| (k, line::unescape_tag_value(v).into_owned())).collect();
        let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut out = String::new();
        line::write_message(&mut out, &pairs, m.source, m.command, &m.params);
        let again = Message::parse(&out).unwrap_or_else(|e| panic!("{raw:?} -> {out:?}: {e}"));
        assert_eq!(
            (again.source, again.command, &again.params[..]),
            (m.source, m.command, &m.params[..]),
            "{raw:?} -> {out:?}"
        );
        let again_tags: Vec<(&str, String)> =
            again.tags().map(|(k, v)| (k, line::unescape_tag_value(v).into_owned())).collect();
        assert_eq!(again_tags, tags, "{raw:?} -> {out:?}");
    }
}

/// The tag parser and escaper: escaping round-trips any value; unescaping is total.
pub fn tags(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut escaped = String::new();
    line::escape_tag_value(&text, &mut escaped);
    assert!(!escaped.contains([';', ' ', '\r', '\n']), "{escaped:?}");
    assert_eq!(line::unescape_tag_value(&escaped), text);
    let once = line::unescape_tag_value(&text).into_owned();
    let mut re = String::new();
    line::escape_tag_value(&once, &mut re);
    assert_eq!(line::unescape_tag_value(&re), once);
    // As a tag section: every tag is found, the last duplicate wins.
    let section: String = text.chars().filter(|c| !matches!(c, ' ' | '\r' | '\n' | '\0')).collect();
    let raw = format!("@{section} TAGMSG #x");
    if let Ok(m) = Message::parse(&raw) {
        for (k, v) in m.tags() {
            assert!(!k.contains(';') && !v.contains(';'));
            let last = m.tag(k).unwrap();
            let _ = line::unescape_tag_value(last);
        }
    }
}

/// The canvas stroke decoder: never panics; a decoded stroke encodes and decodes to itself.
pub fn canvas(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for value in [text.as_ref(), &line::unescape_tag_value(&text)] {
        if let Ok(s) = Stroke::decode(value) {
            assert!(!s.points.is_empty() && s.width >= 1 && s.width <= lanchat::canvas::MAX_BRUSH);
            assert!(s.color <= 0xff_ffff);
            assert!(s.points.iter().all(|&(x, y)| x < lanchat::canvas::WIDTH && y < lanchat::canvas::HEIGHT));
            let enc = s.encode();
            assert!(enc.len() < lanchat::line::MAX_CLIENT_TAGS);
            assert_eq!(Stroke::decode(&enc).as_ref(), Ok(&s), "{value:?} -> {enc:?}");
        }
        // Snapshot pieces and the PNG in them: an error, never a panic.
        let mut gather = lanchat::canvas::snapshot::Gather::default();
        if let Some(Ok(png)) = gather.piece(value) {
            let _ = lanchat::canvas::png::decode(&png);
        }
    }
    let _ = lanchat::canvas::png::decode(data);
}

/// The journal reader: a record never panics the parser; a journal file of
/// any content opens, keeps at most `keep` lines a channel, and compaction
/// loses and duplicates nothing.
///
/// With the first byte odd, each following line is a record body that gets
/// a valid CRC, so the fuzzer reaches past the checksum.
pub fn journal(data: &[u8]) {
    for record in data.split(|&b| b == b'\n') {
        if let Some((_, channel, _, line)) = history::parse_record(record) {
            assert!(!channel.is_empty() && !channel.contains(' '));
            assert!(!line.is_empty() && !line.contains(['\r', '\n', '\0']));
        }
    }
    let Some((&mode, rest)) = data.split_first() else { return };
    let file = if mode & 1 == 1 {
        let mut out = Vec::new();
        for body in rest.split(|&b| b == b'\n') {
            out.extend_from_slice(format!("{:08x} ", lanchat::server::journal::crc32(body)).as_bytes());
            out.extend_from_slice(body);
            out.push(b'\n');
        }
        out
    } else {
        rest.to_vec()
    };
    let dir = scratch_dir();
    let path = dir.join("history.journal");
    std::fs::write(&path, &file).unwrap();
    let _ = std::fs::remove_file(dir.join("history.journal.tmp"));
    let keep = 1000;
    let j = Journal::open(&dir, keep, u64::MAX).expect("open");
    let channels = keyed(&j, &file);
    drop(j);
    // Over its size limit: compacted at open. Nothing lost, nothing added.
    let j = Journal::open(&dir, keep, 0).expect("open and compact");
    assert_eq!(keyed(&j, &file), channels, "compaction changed the history");
    drop(j);
    let j = Journal::open(&dir, keep, u64::MAX).expect("reopen");
    assert_eq!(keyed(&j, &file), channels, "the compacted journal reads back differently");
}

/// A channel's entries: time, msgid, line.
type Entries = Vec<(u64, u64, String)>;

/// Every channel key the journal knows with its entries, sorted.
fn keyed(j: &Journal, file: &[u8]) -> Vec<(String, Entries)> {
    let mut keys: Vec<String> = file
        .split(|&b| b == b'\n')
        .filter_map(history::parse_record)
        .map(|(_, c, _, _)| c.to_ascii_lowercase())
        .collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            // msgids included: a compaction keeps them too.
            let entries: Entries = j.recent(&k).map(|e| (e.time_ms, e.id, e.line.to_string())).collect();
            assert!(entries.len() <= 1000);
            (k, entries)
        })
        .filter(|(_, e)| !e.is_empty())
        .collect()
}

fn scratch_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static DIR: std::path::PathBuf = {
            let d = std::env::temp_dir().join(format!(
                "lanchat-fuzz-journal-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&d).unwrap();
            d
        };
    }
    DIR.with(|d| d.clone())
}

/// The command layer, which every transport (plain TCP, TLS) feeds once the
/// bytes are lines: arbitrary lines from three clients at once, in any
/// state of registration, never panic and leave the server's state
/// consistent (every index in step) after each one. A line's first byte
/// picks the client that sends it.
pub fn commands(data: &[u8]) {
    let config = lanchat::server::Config {
        data_dir: scratch_dir(),
        flood_rate: 0.0,
        max_channels: 5,
        ..lanchat::server::Config::default()
    };
    let history = Journal::open(&config.data_dir, 5, 1 << 20).expect("open");
    let canvas =
        Canvases::open(&config.data_dir, "lanchat", 1 << 16, 1 << 20, std::time::Duration::ZERO).expect("open");
    let shared = Shared::new(config, None, None, history, canvas, None, Runtime::default());
    let ip = std::net::IpAddr::from([127, 0, 0, 1]);
    let connect = |id: u64| {
        let out = Outbox::detached(1 << 16);
        shared.lock().connect(id, ip, out.clone(), &shared.config, 0).expect("connect");
        Conn::new(id, out, std::net::SocketAddr::new(ip, 1000 + id as u16), &shared)
    };
    let mut conns: Vec<Conn> = (1..=3).map(connect).collect();
    let mut next_id = 4;
    for line in data.split(|&b| b == b'\n' || b == b'\r') {
        let Some((&who, line)) = line.split_first() else { continue };
        if line.is_empty() {
            continue;
        }
        let slot = usize::from(who) % conns.len();
        let mut st = shared.lock();
        let mut cx = Cx { st: &mut st, conn: &mut conns[slot], shared: &shared };
        let flow = commands::dispatch(&mut cx, line);
        commands::flush_burst(&mut cx);
        if let Flow::Quit(reason) = flow {
            let id = conns[slot].id;
            st.disconnect(id, &reason);
            drop(st);
            conns[slot] = connect(next_id);
            next_id += 1;
            st = shared.lock();
        }
        if let Err(e) = st.check_invariants() {
            panic!("after {:?}: {e}", String::from_utf8_lossy(line));
        }
    }
    let mut st = shared.lock();
    for c in &conns {
        st.disconnect(c.id, "end");
    }
    st.check_invariants().expect("after everyone left");
    assert_eq!(st.client_count(), 0);
    assert_eq!(st.channel_count(), 0);
}

/// The HTTP request head parser: never panics, stays within its bounds, and
/// a complete head parses the same on its own.
pub fn http(data: &[u8]) {
    use lanchat::server::web::http::{MAX_HEAD, parse};
    let Ok(Some((req, len))) = parse(data) else { return };
    assert!(len <= data.len() && len <= MAX_HEAD);
    assert!(req.path.starts_with('/') && !req.path.contains([' ', '?']));
    let (again, len2) = parse(&data[..len]).unwrap().unwrap();
    assert_eq!((again.method, again.path, len2), (req.method, req.path, len));
    // An upload's name: whatever the query holds, a safe name or none.
    if let Some(name) = req.param("name").and_then(|n| lanchat::files::sanitize_name(&n)) {
        assert!(!name.is_empty() && name.len() <= lanchat::files::MAX_NAME);
        assert!(!name.contains(['/', '\\']) && !name.starts_with('.') && !name.chars().any(char::is_control));
    }
}

/// The WebSocket frame decoder: never panics, never yields more than it
/// was given, and decodes the same whatever pieces the bytes come in (the
/// first byte picks where to cut).
pub fn websocket(data: &[u8]) {
    use lanchat::server::web::websocket::Decoder;
    let Some((&cut, data)) = data.split_first() else { return };
    let decode = |pieces: &[&[u8]]| {
        let mut dec = Decoder::default();
        let (mut out, mut controls) = (Vec::new(), Vec::new());
        for piece in pieces {
            let mut buf = [&[0][..], piece].concat();
            if let Ok(w) = dec.decode(&mut buf, |c| controls.push(format!("{c:?}"))) {
                assert!(w <= piece.len() + 1);
                out.extend_from_slice(&buf[..w]);
            }
        }
        (out, controls, dec.broken, dec.closed)
    };
    let whole = decode(&[data]);
    let at = usize::from(cut).min(data.len());
    let split = decode(&[&data[..at], &data[at..]]);
    assert_eq!(whole, split);
    assert!(whole.0.len() <= data.len());
}
