//! The server, end to end: a real process on loopback and real TCP clients.
//! Tests whose names start with `core_` also run against the ARM builds
//! under qemu-user (`make test-cross`).

mod common;

use common::{Client, Server, joined};

#[test]
fn core_registration_and_welcome_burst() {
    let s = Server::start(&["--name", "pi.lan"]);
    let mut c = Client::connect(&s.addr());
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice Liddell");
    let welcome = c.expect_has(" 001 ");
    assert!(welcome.starts_with(":pi.lan 001 alice :Welcome"), "{welcome}");
    assert!(welcome.ends_with("alice!alice@127.0.0.1"), "{welcome}");
    c.expect_has(" 002 alice ");
    c.expect_has(" 003 alice ");
    c.expect_has(" 004 alice pi.lan ");
    let mut isupport = c.expect_has(" 005 ");
    loop {
        let l = c.expect(|_| true);
        if l.contains(" 422 alice :MOTD File is missing") {
            break;
        }
        if l.contains(" 005 ") {
            isupport.push_str(&l);
        }
    }
    for token in [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        "NICKLEN=30",
        "PREFIX=(ov)@+",
        "NETWORK=pi.lan",
        "CHANMODES=be,k,l,dimnst",
        "MODES=6",
        "MAXLIST=be:64",
        "EXCEPTS=e",
        " WHOX ",
    ] {
        assert!(isupport.contains(token), "{token} missing in {isupport}");
    }
    // PING is answered with the token.
    c.send("PING :are-you-there");
    assert_eq!(c.expect_has(" PONG "), ":pi.lan PONG pi.lan are-you-there");
}

#[test]
fn motd_from_file_and_unknown_command() {
    let dir = common::temp_dir("motd");
    let motd = dir.join("motd.txt");
    std::fs::write(&motd, "Welcome to the lab\nBe nice\n").unwrap();
    let s = Server::start(&["--motd", motd.to_str().unwrap()]);
    let mut c = Client::connect(&s.addr());
    c.send("NICK bob");
    c.send("USER bob 0 * :Bob");
    c.expect_has(" 375 bob ");
    assert!(c.expect_has(" 372 ").ends_with(":- Welcome to the lab"));
    c.expect_has(" 376 bob ");
    c.send("FROBNICATE x");
    assert!(c.expect_has(" 421 ").contains("bob FROBNICATE :Unknown command"));
}

#[test]
fn commands_before_registration_are_refused() {
    let s = Server::start(&[]);
    let mut c = Client::connect(&s.addr());
    c.send("JOIN #x");
    c.expect_has(" 451 * :You have not registered");
    c.send("PRIVMSG #x :hi");
    c.expect_has(" 451 ");
}

#[test]
fn nick_collision_is_case_insensitive() {
    let s = Server::start(&[]);
    let _a = Client::register(&s.addr(), "Alice");
    let mut b = Client::connect(&s.addr());
    b.send("NICK aLiCe");
    b.expect_has(" 433 * aLiCe :Nickname is already in use");
    b.send("NICK 123");
    b.expect_has(" 432 * 123 :Erroneous nickname");
    b.send("NICK");
    b.expect_has(" 431 ");
    b.send("NICK alice2");
    b.send("USER a 0 * :x");
    b.expect_has(" 001 alice2 ");
}

#[test]
fn core_channel_chat_among_three() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#lobby");
    let mut b = joined(&s.addr(), "bob", "#lobby");
    let mut c = joined(&s.addr(), "carol", "#Lobby");
    a.send("PRIVMSG #lobby :hello everyone");
    assert_eq!(b.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG #lobby :hello everyone");
    assert_eq!(c.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG #lobby :hello everyone");
    c.send("NOTICE #LOBBY :a notice");
    assert!(a.expect_has("NOTICE").ends_with("NOTICE #lobby :a notice"));
    assert!(b.expect_has("NOTICE").ends_with("NOTICE #lobby :a notice"));
    // Without echo-message, the sender does not get its own line back.
    assert!(a.sync().iter().all(|l| !l.contains("hello everyone")));
}

#[test]
fn core_private_message_reaches_only_the_addressee() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#lobby");
    let mut b = joined(&s.addr(), "bob", "#lobby");
    let mut c = joined(&s.addr(), "carol", "#lobby");
    let mut d = joined(&s.addr(), "dave", "#lobby");
    a.send("PRIVMSG BOB :just between us");
    assert_eq!(b.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG bob :just between us");
    for other in [&mut a, &mut c, &mut d] {
        let seen = other.sync();
        assert!(seen.iter().all(|l| !l.contains("between us")), "{} saw it: {seen:?}", other.nick);
    }
    a.send("PRIVMSG nobody :hello?");
    a.expect_has(" 401 alice nobody :No such nick/channel");
    a.send("PRIVMSG bob");
    a.expect_has(" 412 alice :No text to send");
    a.send("PRIVMSG");
    a.expect_has(" 411 alice ");
}

#[test]
fn presence_is_pushed_on_join_part_quit_and_nick() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#lobby");
    let mut b = joined(&s.addr(), "bob", "#lobby");
    assert_eq!(a.expect_has("JOIN"), ":bob!bob@127.0.0.1 JOIN #lobby");
    let names = {
        b.send("NAMES #lobby");
        b.expect_has(" 353 ")
    };
    assert!(names.ends_with(":@alice bob"), "{names}");
    b.send("NICK robert");
    assert_eq!(a.expect_has(" NICK "), ":bob!bob@127.0.0.1 NICK robert");
    assert_eq!(b.expect_has(" NICK "), ":bob!bob@127.0.0.1 NICK robert");
    b.send("PART #lobby :bye");
    assert_eq!(a.expect_has(" PART "), ":robert!bob@127.0.0.1 PART #lobby :bye");
    b.send("JOIN #lobby");
    a.expect_has(" JOIN ");
    b.send("QUIT :gone home");
    assert_eq!(a.expect_has(" QUIT "), ":robert!bob@127.0.0.1 QUIT :Quit: gone home");
    assert!(b.expect_closed().iter().any(|l| l.starts_with("ERROR :Closing Link")));
    // A client that just vanishes is reported too.
    let c = joined(&s.addr(), "carol", "#lobby");
    a.expect_has("carol!carol@127.0.0.1 JOIN");
    drop(c);
    assert!(a.expect_has(" QUIT ").starts_with(":carol!carol@127.0.0.1 QUIT :"));
}

#[test]
fn echo_message_server_time_and_client_tags() {
    let s = Server::start(&[]);
    let mut a = Client::register_caps(&s.addr(), "alice", &["echo-message", "server-time", "message-tags"]);
    a.send("JOIN #t");
    a.expect_has(" 366 ");
    let mut b = Client::register_caps(&s.addr(), "bob", &["message-tags"]);
    b.send("JOIN #t");
    b.expect_has(" 366 ");
    let mut c = joined(&s.addr(), "carol", "#t");
    a.send("@+draft/react=x;+lanchat/k=v\\sw;msgid=forged PRIVMSG #t :tagged");
    let echo = a.expect_has("PRIVMSG");
    assert!(echo.starts_with("@time="), "{echo}");
    assert!(echo.contains(";+draft/react=x;+lanchat/k=v\\sw;msgid="), "{echo}");
    assert!(echo.ends_with(" :alice!alice@127.0.0.1 PRIVMSG #t :tagged"), "{echo}");
    assert!(!echo.contains("forged"));
    // Our own msgid, the same for everyone, after the client's tags.
    let msgid = echo.split("msgid=").nth(1).unwrap().split(' ').next().unwrap();
    assert_eq!(
        b.expect_has("PRIVMSG"),
        format!("@+draft/react=x;+lanchat/k=v\\sw;msgid={msgid} :alice!alice@127.0.0.1 PRIVMSG #t :tagged")
    );
    assert_eq!(c.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG #t :tagged");
    // TAGMSG goes to message-tags clients only.
    a.send("@+typing=active TAGMSG #t");
    let tagmsg = b.expect_has("TAGMSG");
    assert!(tagmsg.starts_with("@+typing=active;msgid="), "{tagmsg}");
    assert!(tagmsg.ends_with(" :alice!alice@127.0.0.1 TAGMSG #t"), "{tagmsg}");
    assert!(a.expect_has("TAGMSG").contains("+typing=active"));
    assert!(c.sync().iter().all(|l| !l.contains("TAGMSG")));
    // CAP LIST shows what was negotiated; an unknown cap is NAKed whole.
    a.send("CAP LIST");
    assert!(a.expect_has(" LIST ").ends_with(":cap-notify echo-message message-tags server-time"));
    a.send("CAP REQ :batch bogus");
    a.expect_has(" NAK :batch bogus");
    // Capabilities changed after JOIN apply to what the channel relays at once.
    c.send("CAP REQ :server-time");
    c.expect_has(" ACK :server-time");
    b.send("PRIVMSG #t :later");
    assert!(c.expect_has("PRIVMSG").starts_with("@time="));
    a.send("CAP REQ :-echo-message");
    a.expect_has(" ACK :-echo-message");
    a.send("PRIVMSG #t :no echo");
    assert!(c.expect_has("PRIVMSG").ends_with(":no echo"));
    assert!(a.sync().iter().all(|l| !l.contains("no echo")));
}

#[test]
fn source_prefix_cannot_be_forged() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#x");
    let mut b = joined(&s.addr(), "bob", "#x");
    a.send(":bob!bob@127.0.0.1 PRIVMSG #x :i am bob");
    assert_eq!(b.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG #x :i am bob");
}

#[test]
fn core_history_after_restart() {
    let mut s = Server::start(&["--history", "3"]);
    {
        let mut a = joined(&s.addr(), "alice", "#log");
        for i in 1..=5 {
            a.send(&format!("PRIVMSG #log :line {i}"));
        }
        a.sync();
    }
    s.restart();
    let mut plain = Client::register(&s.addr(), "bob");
    plain.send("JOIN #log");
    plain.expect_has(" 366 ");
    for i in 3..=5 {
        let l = plain.expect_has("PRIVMSG");
        assert!(l.starts_with(":alice!alice@127.0.0.1 PRIVMSG #log :["), "{l}");
        assert!(l.ends_with(&format!("] line {i}")), "{l}");
    }
    // Clients with batch and server-time get a chathistory batch with times.
    let mut modern = Client::register_caps(&s.addr(), "carol", &["batch", "server-time"]);
    modern.send("JOIN #log");
    let start = modern.expect_has(" BATCH +");
    assert!(start.ends_with(" chathistory #log"), "{start}");
    let id = start.split(' ').nth(2).unwrap()[1..].to_string();
    for i in 3..=5 {
        let l = modern.expect_has("PRIVMSG");
        assert!(l.starts_with(&format!("@batch={id};time=")), "{l}");
        assert!(l.ends_with(&format!(":alice!alice@127.0.0.1 PRIVMSG #log :line {i}")), "{l}");
    }
    assert!(modern.expect_has(" BATCH ").ends_with(&format!("BATCH -{id}")));
}

#[test]
fn history_survives_kill_9_with_a_torn_record() {
    let mut s = Server::start(&[]);
    let mut a = Client::register_caps(&s.addr(), "alice", &["echo-message"]);
    a.send("JOIN #k");
    a.expect_has(" 366 ");
    for i in 0..50 {
        a.send(&format!("PRIVMSG #k :message {i}"));
    }
    // Every echoed message was acknowledged, so it must be in history.
    a.expect_has("PRIVMSG #k :message 49");
    s.kill9();
    // A torn write, as a kill in the middle of a record would leave.
    use std::io::Write;
    let journal = s.data_dir.join("history.journal");
    let mut f = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
    f.write_all(b"1234abcd 17000 #k :x!x@x PRIVMSG #k :torn garb").unwrap();
    drop(f);
    s.restart();
    let mut b = Client::register_caps(&s.addr(), "bob", &["batch", "server-time"]);
    b.send("JOIN #k");
    b.expect_has(" BATCH +");
    let mut got = Vec::new();
    loop {
        let l = b.expect(|l| l.contains("PRIVMSG") || l.contains(" BATCH -"));
        if l.contains(" BATCH -") {
            break;
        }
        got.push(l.rsplit(" :").next().unwrap().to_string());
    }
    let want: Vec<String> = (0..50).map(|i| format!("message {i}")).collect();
    assert_eq!(got, want);
}

#[test]
fn canvas_is_relayed_and_replayed_to_a_late_joiner() {
    let s = Server::start(&[]);
    let mut a = Client::register_caps(&s.addr(), "alice", &["message-tags"]);
    a.send("JOIN #draw");
    a.expect_has(" 366 ");
    let mut b = Client::register_caps(&s.addr(), "bob", &["message-tags"]);
    b.send("JOIN #draw");
    b.expect_has(" 366 ");
    a.send("@+lanchat/stroke=1,ff0000,3,10,10,20,20 TAGMSG #draw");
    a.send("@+lanchat/stroke=1,ff0000,3,20,20,30,40 TAGMSG #draw");
    let relayed = b.expect_has("lanchat/stroke");
    assert!(relayed.starts_with("@+lanchat/stroke=1,ff0000,3,10,10,20,20;msgid="), "{relayed}");
    assert!(relayed.contains(" :alice!"), "{relayed}");
    b.expect_has("20,20,30,40");
    // An invalid stroke is refused and not relayed.
    a.send("@+lanchat/stroke=1,ff0000,3,99999,1 TAGMSG #draw");
    a.expect_has(" 400 alice TAGMSG :Invalid canvas stroke");
    let mut late = Client::register_caps(&s.addr(), "carol", &["message-tags"]);
    late.send("JOIN #draw");
    late.expect_has(" 366 ");
    // The replay starts with the snapshot: blank while nothing was folded.
    assert!(late.expect_has("TAGMSG").starts_with("@+lanchat/snapshot=1/1,"));
    late.expect_has("+lanchat/stroke=1,ff0000,3,10,10,20,20");
    late.expect_has("+lanchat/stroke=1,ff0000,3,20,20,30,40");
    assert!(b.sync().iter().all(|l| !l.contains("99999")));
    // Only an operator clears; after a clear, a new joiner gets an empty canvas.
    b.send("@+lanchat/clear TAGMSG #draw");
    b.expect_has(" 482 bob #draw :You're not channel operator");
    a.send("@+lanchat/clear TAGMSG #draw");
    assert!(late.expect_has("TAGMSG").starts_with("@+lanchat/clear;msgid="));
    let mut later = Client::register_caps(&s.addr(), "dave", &["message-tags"]);
    later.send("JOIN #draw");
    later.expect_has(" 366 ");
    assert!(later.sync().iter().all(|l| !l.contains("lanchat/stroke")));
}

#[test]
fn flood_is_delayed_then_disconnected() {
    let s = Server::start(&["--flood-rate", "10", "--flood-burst", "5", "--flood-grace", "1"]);
    let mut a = joined(&s.addr(), "flooder", "#f");
    let mut b = joined(&s.addr(), "victim", "#f");
    let mut blob = String::new();
    for i in 0..200 {
        blob.push_str(&format!("PRIVMSG #f :spam {i}\r\n"));
    }
    a.send_raw(blob.as_bytes());
    let closing = a.expect_closed();
    assert!(closing.iter().any(|l| l.contains("ERROR :Closing Link") && l.contains("Excess Flood")), "{closing:?}");
    // Some got through (delayed, not dropped), and the victim is still served.
    b.expect_has("spam 0");
    let quit = b.expect_has(" QUIT ");
    assert!(quit.contains("Excess Flood"), "{quit}");
    b.sync();
}

#[test]
fn slow_reader_is_disconnected_and_others_keep_receiving() {
    let s = Server::start(&["--sendq", "262144", "--flood-rate", "0"]);
    let mut slow = joined(&s.addr(), "sleepy", "#busy");
    let mut a = joined(&s.addr(), "talker", "#busy");
    let mut b = joined(&s.addr(), "reader", "#busy");
    let text = "x".repeat(400);
    // Rounds of 45 KB until the sleeper's sendq and kernel buffers are full.
    let mut dropped = None;
    for round in 0..2000 {
        let mut blob = String::new();
        for i in 0..100 {
            blob.push_str(&format!("PRIVMSG #busy :{round}-{i} {text}\r\n"));
        }
        a.send_raw(blob.as_bytes());
        let marker = format!(":{round}-99 ");
        loop {
            let l = b.expect(|l| l.contains(&marker) || l.contains(" QUIT "));
            if l.contains(" QUIT ") {
                dropped = Some(l);
            } else {
                break;
            }
        }
        if dropped.is_some() {
            break;
        }
    }
    let quit = dropped.expect("the slow reader was never dropped");
    assert!(quit.starts_with(":sleepy!sleepy@127.0.0.1 QUIT :SendQ exceeded"), "{quit}");
    // The reader got every round in order and is still served.
    a.send("PRIVMSG #busy :after");
    b.expect_has("PRIVMSG #busy :after");
    // The sleeper, reading at last, gets what was already on its way, then
    // the reason it was cut off.
    let tail = slow.expect_closed();
    assert_eq!(tail.last().map(String::as_str), Some("ERROR :Closing Link: (SendQ exceeded)"));
}

#[test]
fn garbage_overlong_lines_and_invalid_utf8_get_errors() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#g");
    let mut bad = joined(&s.addr(), "mallory", "#g");
    bad.send_raw(b"PRIVMSG #g :\xff\xfe broken\r\n");
    bad.expect_has(" FAIL PRIVMSG INVALID_UTF8 :Input is not valid UTF-8");
    bad.send_raw(b"PRIVMSG #g :nul\0byte\r\n");
    bad.expect_has(" 400 mallory * :Input contains a NUL byte");
    bad.send(&format!("PRIVMSG #g :{}", "y".repeat(600)));
    bad.expect_has(" 417 mallory :Input line was too long");
    // 100 KB without a newline, then a good line: refused in bounded memory.
    bad.send_raw("z".repeat(100_000).as_bytes());
    bad.send_raw(b"\r\nPRIVMSG #g :still here\r\n");
    bad.expect_has(" 417 ");
    bad.send("@a=b");
    bad.expect_has(" 400 mallory * :Input has no command");
    bad.send(&format!("CMD{}", " p".repeat(20)));
    bad.expect_has(" 400 mallory * :Too many parameters");
    bad.send("CAP JUNK");
    bad.expect_has(" 410 mallory JUNK ");
    bad.send("JOIN #a\x07b");
    bad.expect_has(" 476 ");
    let seen = a.expect_has("PRIVMSG");
    assert_eq!(seen, ":mallory!mallory@127.0.0.1 PRIVMSG #g :still here");
    assert!(a.sync().iter().all(|l| !l.contains("broken") && !l.contains("yyyy") && !l.contains("zzzz")));
}

#[test]
fn password_is_required_when_set() {
    let s = Server::start(&["--password", "s3cret"]);
    let mut wrong = Client::connect(&s.addr());
    wrong.send("PASS nope");
    wrong.send("NICK eve");
    wrong.send("USER eve 0 * :Eve");
    let lines = wrong.expect_closed();
    assert!(lines.iter().any(|l| l.contains(" 464 ")), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("ERROR :Closing Link"), "{lines:?}");
    let mut none = Client::connect(&s.addr());
    none.send("PING x");
    none.expect_has(" 451 ");
    let mut right = Client::connect(&s.addr());
    right.send("PASS s3cret");
    right.send("NICK ann");
    right.send("USER ann 0 * :Ann");
    right.expect_has(" 001 ann ");
}

#[test]
fn queries_who_whois_list_topic_mode_away() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#q");
    let mut b = joined(&s.addr(), "bob", "#q");
    a.send("TOPIC #q :Lab meeting at 3");
    assert_eq!(b.expect_has(" TOPIC "), ":alice!alice@127.0.0.1 TOPIC #q :Lab meeting at 3");
    b.send("TOPIC #q :mine now");
    b.expect_has(" 482 bob #q :You're not channel operator");
    b.send("TOPIC #q");
    b.expect_has(" 332 bob #q :Lab meeting at 3");
    b.expect_has(" 333 bob #q alice!alice@127.0.0.1 ");
    b.send("WHO #q");
    assert!(b.expect_has(" 352 ").contains(" #q alice 127.0.0.1 "));
    b.expect_has(" 315 bob #q ");
    b.send("AWAY :lunch");
    b.expect_has(" 306 bob ");
    a.send("WHOIS bob");
    a.expect_has(" 311 alice bob bob 127.0.0.1 * :Test bob");
    a.expect_has(" 319 alice bob :#q");
    a.expect_has(" 301 alice bob :lunch");
    a.expect_has(" 318 alice bob ");
    a.send("PRIVMSG bob :you there?");
    a.expect_has(" 301 alice bob :lunch");
    a.send("WHOIS ghost");
    a.expect_has(" 401 alice ghost ");
    a.send("LIST");
    a.expect_has(" 322 alice #q 2 :Lab meeting at 3");
    a.expect_has(" 323 ");
    a.send("MODE #q");
    a.expect_has(" 324 alice #q +nt");
    a.send("MODE #q b");
    a.expect_has(" 368 alice #q ");
    a.send("MODE #q +X");
    a.expect_has(" 472 alice X ");
    b.send("MODE #q -t");
    b.expect_has(" 482 bob #q ");
    a.send("MODE #q +o bob");
    assert_eq!(b.expect_has(" MODE "), ":alice!alice@127.0.0.1 MODE #q +o bob");
    a.send("MODE alice +i");
    a.expect_has(":alice MODE alice :+i");
    a.send("MODE bob +i");
    a.expect_has(" 502 alice ");
    a.send("ISON bob ghost");
    a.expect_has(" 303 alice :bob");
    a.send("JOIN");
    a.expect_has(" 461 alice JOIN ");
    a.send("PART #nowhere");
    a.expect_has(" 403 alice #nowhere ");
}

#[test]
fn registration_and_ping_timeouts_close_dead_connections() {
    let s = Server::start(&["--register-timeout", "0.5", "--ping-timeout", "2"]);
    let mut idle = Client::connect(&s.addr());
    let lines = idle.expect_closed();
    assert!(lines.iter().any(|l| l.contains("Registration timeout")), "{lines:?}");
    let mut a = joined(&s.addr(), "alice", "#p");
    let mut mute = Client::register(&s.addr(), "mute");
    mute.send("JOIN #p");
    a.expect_has("mute!mute@127.0.0.1 JOIN");
    // The watcher answers its own PINGs while it waits (expect does).
    let watcher = std::thread::spawn(move || a.expect_has("mute!mute@127.0.0.1 QUIT"));
    // A registered client that answers nothing is pinged, then dropped.
    let end = std::time::Instant::now() + common::DEADLINE;
    let mut saw_ping = false;
    let mut error = None;
    while let Some(l) = mute.read_line(end) {
        saw_ping |= l.starts_with("PING ");
        if l.starts_with("ERROR") {
            error = Some(l);
        }
    }
    assert!(saw_ping);
    assert!(error.unwrap().contains("Ping timeout"));
    assert!(watcher.join().unwrap().ends_with("QUIT :Ping timeout: 2 seconds"));
}

#[test]
fn per_ip_limit_refuses_extra_connections() {
    let s = Server::start(&["--max-per-ip", "2"]);
    let _a = Client::register(&s.addr(), "a1");
    let _b = Client::register(&s.addr(), "a2");
    let mut c = Client::connect(&s.addr());
    let lines = c.expect_closed();
    assert!(lines.iter().any(|l| l.contains("Too many connections from your address")), "{lines:?}");
}

#[test]
fn bad_flags_exit_with_status_2() {
    let bin = env!("CARGO_BIN_EXE_lanchat");
    for args in [&["--serve", "--port", "notaport"][..], &["--frobnicate"][..], &["--serve", "--port"][..]] {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("lanchat: "), "{err}");
    }
    let help = std::process::Command::new(bin).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--bind", "--port", "--data-dir", "--name", "--motd", "--password", "--max-clients", "--history", "--log-level",
    ] {
        assert!(help.contains(flag), "{flag} not in --help");
    }
}

#[test]
fn a_message_too_long_once_prefixed_is_refused_not_truncated() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#long");
    let mut b = joined(&s.addr(), "bob", "#long");
    // 495 bytes as sent; with ":alice!alice@127.0.0.1 " in front, over 510.
    let text = "y".repeat(495 - "PRIVMSG #long :".len());
    a.send(&format!("PRIVMSG #long :{text}"));
    a.expect_has(" 417 alice :Input line was too long");
    a.send(&format!("PRIVMSG bob :{text}"));
    a.expect_has(" 417 alice ");
    assert!(b.sync().iter().all(|l| !l.contains("yyyy")));
    // An error never echoes a parameter that would read as a trailing one.
    a.send("CAP ::x");
    assert!(a.expect_has(" 410 ").ends_with(" 410 alice x :Invalid CAP command"));
}

/// Lines a client sends in one go reach each member in one push (a burst):
/// every member still sees them in the order sent, each in its own format,
/// in order with the client's other commands; with two executor threads
/// (where lines are fanned out one by one) too.
#[test]
fn lines_sent_together_arrive_in_order_in_each_format() {
    for threads in ["1", "2"] {
        let s = Server::start(&["--threads", threads]);
        let addr = s.addr();
        let mut alice = Client::register_caps(&addr, "alice", &["echo-message"]);
        alice.send("JOIN #a");
        alice.expect_has(" 366 ");
        alice.send("JOIN #b");
        alice.expect_has(" 366 ");
        let mut bob = joined(&addr, "bob", "#a");
        bob.send("JOIN #b");
        bob.expect_has(" 366 ");
        let mut carol = Client::register_caps(&addr, "carol", &["message-tags", "server-time"]);
        carol.send("JOIN #a");
        carol.expect_has(" 366 ");
        alice.sync();
        bob.sync();
        alice.send_raw(
            b"PRIVMSG #a :one\r\nPRIVMSG #a :two\r\n@+lanchat/x=1 TAGMSG #a\r\nPRIVMSG #b :three\r\n\
              PRIVMSG bob :four\r\nNOTICE #a :five\r\nTOPIC #a :six\r\nPRIVMSG #a :seven\r\nPART #a\r\n",
        );
        alice.expect_has(" PART #a");
        let from_alice = |lines: Vec<String>| -> Vec<String> {
            lines.into_iter().filter(|l| l.contains(":alice!alice@127.0.0.1 ")).collect()
        };
        let p = ":alice!alice@127.0.0.1";
        let plain: Vec<String> = [
            "PRIVMSG #a :one",
            "PRIVMSG #a :two",
            "PRIVMSG #b :three",
            "PRIVMSG bob :four",
            "NOTICE #a :five",
            "TOPIC #a :six",
            "PRIVMSG #a :seven",
            "PART #a",
        ]
        .iter()
        .map(|l| format!("{p} {l}"))
        .collect();
        assert_eq!(from_alice(bob.sync()), plain, "threads {threads}");
        let tagged = from_alice(carol.sync());
        let untagged: Vec<&str> = tagged.iter().map(|l| l.split_once(' ').map_or("", |(_, rest)| rest)).collect();
        assert!(tagged.iter().all(|l| l.starts_with("@time=")), "{tagged:?}");
        assert_eq!(
            untagged,
            [
                "PRIVMSG #a :one",
                "PRIVMSG #a :two",
                "TAGMSG #a",
                "NOTICE #a :five",
                "TOPIC #a :six",
                "PRIVMSG #a :seven",
                "PART #a"
            ]
            .iter()
            .map(|l| format!("{p} {l}"))
            .collect::<Vec<_>>(),
            "threads {threads}"
        );
        assert!(tagged[2].contains(";+lanchat/x=1;msgid="), "{}", tagged[2]);
        // Each message is in history once: a late joiner gets the three of #a's PRIVMSGs, in order.
        let mut dave = Client::register(&addr, "dave");
        dave.send("JOIN #a");
        dave.expect_has(" 366 ");
        let replay: Vec<String> = dave.sync().into_iter().filter(|l| l.contains("PRIVMSG #a")).collect();
        assert_eq!(replay.len(), 3, "{replay:?}");
        assert!(replay[0].ends_with("one") && replay[1].ends_with("two") && replay[2].ends_with("seven"), "{replay:?}");
        // A QUIT right behind a message leaves after it.
        alice.send_raw(b"PRIVMSG #b :eight\r\nQUIT :bye\r\n");
        alice.expect_closed();
        let last = from_alice(vec![bob.expect_has("PRIVMSG #b"), bob.expect_has(" QUIT ")]);
        assert_eq!(last, [format!("{p} PRIVMSG #b :eight"), format!("{p} QUIT :Quit: bye")], "threads {threads}");
    }
}

#[test]
fn away_notify_tells_neighbours_who_asked_for_it() {
    let s = Server::start(&[]);
    let mut a = Client::register_caps(&s.addr(), "alice", &["away-notify"]);
    a.send("JOIN #aw");
    a.expect_has(" 366 ");
    let mut c = joined(&s.addr(), "carol", "#aw");
    let mut b = joined(&s.addr(), "bob", "#aw");
    b.send("AWAY :lunch");
    b.expect_has(" 306 bob ");
    assert_eq!(a.expect_has(" AWAY "), ":bob!bob@127.0.0.1 AWAY :lunch");
    b.send("AWAY");
    b.expect_has(" 305 bob ");
    assert_eq!(a.expect_has(" AWAY"), ":bob!bob@127.0.0.1 AWAY");
    // Carol did not ask: she hears nothing of it, only what comes next.
    b.send("PRIVMSG #aw :back");
    let next = c.expect(|l| l.contains("bob") && !l.contains(" JOIN "));
    assert_eq!(next, ":bob!bob@127.0.0.1 PRIVMSG #aw :back");
}
