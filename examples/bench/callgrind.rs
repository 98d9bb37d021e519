//! `bench --callgrind`: the server's instructions per delivery, counted by
//! valgrind's callgrind (deterministic, whatever else the machine is doing,
//! unlike a timing), for the plain, TLS and WebSocket paths (issue 18).
//!
//! Each path runs scenario 2 (1,000 clients in one channel, 5 senders x 200
//! messages of 100 bytes) with the server under callgrind. loadgen zeroes
//! the counters once every client has joined and dumps them once the last
//! message has arrived (`callgrind_control`), so what is counted is the
//! messages alone: reading, fanning out, framing or encrypting, writing.
//! Batching depends on timing (valgrind runs the server's threads one at a
//! time, the generator runs beside it), so rounds differ a little: the
//! mean and the spread are given.

use std::path::Path;

use super::{Server, field, loadgen, mean, start_for};

/// One run: (instructions while the messages were relayed, deliveries).
fn counted(lanchat: &Path, lg: &Path, name: &str, args: &[&str]) -> (f64, f64) {
    let out = std::env::temp_dir().join(format!("lanchat-callgrind-{}-{name}", std::process::id()));
    let wrap = ["valgrind".into(), "--tool=callgrind".into(), format!("--callgrind-out-file={}", out.display())];
    let mut server: Server = start_for(name, "lanchat", lanchat, &wrap);
    let pid = server.child.id();
    let (zero, dump) = (format!("callgrind_control -z {pid}"), format!("callgrind_control -d {pid}"));
    let mut args = args.to_vec();
    // Everything runs many times slower under valgrind: a phase may take minutes.
    args.extend(["--timeout", "600", "--before-send", &zero, "--after-send", &dump]);
    let json = loadgen(lg, &server, &format!("{name}-callgrind"), &args);
    server.terminate();
    // The dump is the first numbered file; the one at exit (the rest) is not wanted.
    let dumped = out.with_file_name(format!("{}.1", out.file_name().unwrap_or_default().to_string_lossy()));
    let report = std::fs::read_to_string(&dumped).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&dumped);
    let ir = report.lines().find_map(|l| l.strip_prefix("totals: ")).and_then(|v| v.trim().parse().ok());
    let ir = ir.unwrap_or_else(|| panic!("no callgrind dump in {} (is valgrind installed?)", dumped.display()));
    assert!(field(&json, "lost") == 0.0 && field(&json, "errors") == 0.0, "run failed: {json}");
    (ir, field(&json, "received"))
}

/// Runs each of `scenarios` (name, what, loadgen args) `rounds` times and prints the figures.
pub fn run(lanchat: &Path, lg: &Path, rounds: usize, scenarios: &[(String, String, Vec<&str>)]) {
    let mut table = Vec::new();
    for round in 0..rounds {
        for (i, (name, what, args)) in scenarios.iter().enumerate() {
            eprintln!("--- round {} scenario {name} under callgrind", round + 1);
            let (ir, got) = counted(lanchat, lg, name, args);
            let cost = ir / got;
            println!(
                "JSON {{\"scenario\":\"{name}\",\"server\":\"lanchat\",\"callgrind\":true,\"ir\":{ir},\"deliveries\":{got},\"ir_per_delivery\":{cost:.1}}}"
            );
            if round == 0 {
                table.push((name, what, Vec::new()));
            }
            table[i].2.push(cost);
        }
    }
    println!();
    println!("Server instructions per delivery while the messages are relayed (callgrind, {rounds} rounds):");
    println!("{:<4} {:<48} {:>8} {:>8} {:>8}", "sc", "path", "mean", "min", "max");
    for (name, what, per) in &table {
        let (lo, hi) = per.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        println!("{name:<4} {what:<48} {:>8.0} {lo:>8.0} {hi:>8.0}", mean(per));
    }
}
