//! The line-mode client (`lanchat --client --no-gui`) against the real server.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use common::{Client, DEADLINE, Server};

fn expect_out(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    collect_until(rx, needle).pop().unwrap()
}

/// Every printed line up to and including the first that contains `needle`.
fn collect_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let end = Instant::now() + DEADLINE;
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(l) => {
                let done = l.contains(needle);
                lines.push(l);
                if done {
                    return lines;
                }
            }
            Err(_) => panic!("the client never printed {needle:?}; it printed {lines:?}"),
        }
    }
}

/// Starts the line-mode client; returns it, its stdin, and its printed lines.
fn start_cli(addr: &str, nick: &str) -> (Child, ChildStdin, mpsc::Receiver<String>) {
    start_cli_with(addr, nick, &[])
}

/// [`start_cli`] with more flags.
fn start_cli_with(addr: &str, nick: &str, extra: &[&str]) -> (Child, ChildStdin, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(["--client", "--no-gui", "--server", addr, "--nick", nick, "--channel", "#lobby"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stdin = child.stdin.take().unwrap();
    (child, stdin, rx)
}

#[test]
fn chats_from_stdin_and_prints_what_arrives() {
    let s = Server::start(&[]);
    let mut bob = Client::register(&s.addr(), "bob");
    bob.send("JOIN #lobby");
    bob.expect_has(" 366 ");
    let (mut child, mut stdin, rx) = start_cli(&s.addr(), "cli");
    bob.expect_has("cli!cli@127.0.0.1 JOIN #lobby");
    expect_out(&rx, "users in #lobby: @bob cli");
    writeln!(stdin, "hello from the terminal").unwrap();
    assert!(bob.expect_has("PRIVMSG").ends_with("PRIVMSG #lobby :hello from the terminal"));
    bob.send("PRIVMSG #lobby :hi cli");
    let line = expect_out(&rx, "<bob> hi cli");
    assert!(line.starts_with('[') && line[1..6].contains(':') && line.ends_with("] <bob> hi cli"), "{line}");
    writeln!(stdin, "/msg bob just for you").unwrap();
    assert!(bob.expect_has("PRIVMSG").ends_with("PRIVMSG bob :just for you"));
    bob.send("PRIVMSG cli :private reply");
    expect_out(&rx, "[bob] <bob> private reply");
    writeln!(stdin, "/me waves").unwrap();
    assert!(bob.expect_has("PRIVMSG").ends_with(":\u{1}ACTION waves\u{1}"));
    bob.send("NICK robert");
    expect_out(&rx, "bob is now known as robert");
    writeln!(stdin, "/quit").unwrap();
    bob.expect_has("cli!cli@127.0.0.1 QUIT");
    assert!(child.wait().unwrap().success());
}

#[test]
fn piped_lines_are_delivered_before_quitting_at_end_of_input() {
    let s = Server::start(&[]);
    let mut bob = Client::register(&s.addr(), "bob");
    bob.send("JOIN #lobby");
    bob.expect_has(" 366 ");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(["--client", "--no-gui", "--server", &s.addr(), "--nick", "bob", "--channel", "#lobby"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The nick is taken: the client registers as a suggestion instead.
    child.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
    bob.expect_has("bob_!bob@127.0.0.1 JOIN #lobby");
    assert!(bob.expect_has("PRIVMSG").ends_with(":one"));
    assert!(bob.expect_has("PRIVMSG").ends_with(":two"));
    bob.expect_has("bob_!bob@127.0.0.1 QUIT");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nick bob is taken; trying bob_"));
}

#[test]
fn reconnects_and_shows_only_the_history_it_missed() {
    let mut s = Server::start(&[]);
    let mut bob = Client::register(&s.addr(), "bob");
    bob.send("JOIN #lobby");
    bob.expect_has(" 366 ");
    let (mut child, mut stdin, rx) = start_cli(&s.addr(), "cli");
    bob.expect_has("cli!cli@127.0.0.1 JOIN");
    bob.send("PRIVMSG #lobby :before the outage");
    expect_out(&rx, "<bob> before the outage");
    s.restart_same_port();
    let mut printed = collect_until(&rx, "reconnecting in");
    // Typed while the server is away: sent after reconnecting, not lost.
    writeln!(stdin, "typed while away").unwrap();
    let mut carol = Client::register(&s.addr(), "carol");
    carol.send("JOIN #lobby");
    carol.expect_has(" 366 ");
    carol.send("PRIVMSG #lobby :while you were away");
    printed.extend(collect_until(&rx, "while you were away"));
    // Live, or in carol's join replay if cli was quicker than carol.
    assert!(carol.expect_has("typed while away").starts_with(":cli!cli@127.0.0.1 PRIVMSG #lobby :"));
    printed.extend(rx.try_iter());
    writeln!(stdin, "/quit").unwrap();
    assert!(child.wait().unwrap().success());
    printed.extend(rx.try_iter());
    // The replay on rejoin held both lines; the one already shown is not repeated.
    assert!(printed.iter().all(|l| !l.contains("before the outage")), "{printed:?}");
    assert_eq!(printed.iter().filter(|l| l.contains("while you were away")).count(), 1, "{printed:?}");
}

#[test]
fn an_invalid_nick_is_reported_and_replaced_once() {
    let s = Server::start(&[]);
    let (mut child, mut stdin, rx) = start_cli(&s.addr(), "1bad");
    let printed = collect_until(&rx, "-!- connected");
    let said =
        printed.iter().filter(|l| l.contains("refused the nick 1bad (Erroneous nickname); trying guest")).count();
    assert_eq!(said, 1, "{printed:?}");
    assert!(printed.iter().any(|l| l.starts_with("-!- you are now guest")), "{printed:?}");
    writeln!(stdin, "/quit").unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn lines_never_delivered_are_reported_and_fail_the_exit_status() {
    let mut s = Server::start(&[]);
    let (child, mut stdin, rx) = start_cli(&s.addr(), "cli");
    expect_out(&rx, "-!- connected");
    s.kill9();
    expect_out(&rx, "reconnecting in");
    // Typed while the server is gone for good, then the end of the input.
    writeln!(stdin, "into the void").unwrap();
    writeln!(stdin, "/msg bob nor this").unwrap();
    drop(stdin);
    let printed = collect_until(&rx, "not sent to bob");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{printed:?}");
    let report = printed.iter().position(|l| l.contains("not sent to #lobby") && l.ends_with(": into the void"));
    assert!(report.is_some(), "{printed:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 line(s) not delivered") && stderr.contains("to bob: nor this"), "{stderr}");
}

#[test]
fn a_password_with_a_space_is_sent_whole() {
    let s = Server::start(&["--password", "open sesame"]);
    let (mut child, mut stdin, rx) = start_cli_with(&s.addr(), "ali", &["--password", "open sesame"]);
    expect_out(&rx, "-!- connected");
    writeln!(stdin, "/quit").unwrap();
    assert!(child.wait().unwrap().success());
}
