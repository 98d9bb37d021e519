//! Replays the fuzz seed corpus (fuzz/seeds/TARGET/*) through the same checks
//! the fuzz targets run, so `cargo test` covers them without a fuzzer.
//! Crashes the fuzzer finds are added to the seeds once fixed.

#[path = "../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let res = std::panic::catch_unwind(|| check(&data));
        assert!(res.is_ok(), "seed {} fails the {target} check", path.display());
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
}

#[test]
fn line_seeds() {
    replay("line", checks::line);
}

#[test]
fn tags_seeds() {
    replay("tags", checks::tags);
}

#[test]
fn canvas_seeds() {
    replay("canvas", checks::canvas);
}

#[test]
fn journal_seeds() {
    replay("journal", checks::journal);
}

#[test]
fn commands_seeds() {
    replay("commands", checks::commands);
}

#[test]
fn http_seeds() {
    replay("http", checks::http);
}

#[test]
fn websocket_seeds() {
    replay("websocket", checks::websocket);
}
