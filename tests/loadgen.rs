//! Smoke test of the benchmark load generator (`examples/loadgen.rs`, used
//! by `make bench`): a few clients against a real server, nothing lost.

mod common;

#[path = "../examples/loadgen.rs"]
mod loadgen;

use common::Server;

#[test]
fn loadgen_delivers_everything() {
    let s = Server::start(&["--flood-rate", "0"]);
    let r = loadgen::run(loadgen::Opts {
        addr: s.addr(),
        clients: 5,
        senders: 5,
        messages: 10,
        pid: Some(s.pid()),
        timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    });
    assert_eq!(r.expected, 5 * 10 * 4, "{}", r.json());
    assert_eq!(r.lost, 0, "{}", r.json());
    assert!(r.ok(), "{}", r.json());
    assert_eq!(r.alive, 5, "{}", r.json());
    assert!(r.p50_us > 0 && r.hwm_kib > 0, "{}", r.json());
}
