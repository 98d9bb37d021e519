//! The IRCv3 additions end to end, against a real server process on
//! loopback with real TCP clients: msgid (live, replayed, after a restart
//! and from an old journal), labeled-response, extended-join, setname,
//! cap-notify and draft/chathistory.

mod common;

use common::{Client, Server, joined_caps};

const ALL: &[&str] = &["batch", "server-time", "message-tags", "echo-message", "draft/chathistory"];

/// The value of tag `key` on a line.
fn tag(line: &str, key: &str) -> Option<String> {
    let tags = line.strip_prefix('@')?.split(' ').next()?;
    tags.split(';').find_map(|t| t.strip_prefix(key)?.strip_prefix('=')).map(String::from)
}

/// The line without its tags.
fn bare(line: &str) -> &str {
    if line.starts_with('@') { line.split_once(' ').unwrap().1 } else { line }
}

/// Reads a batch: its opening line and the lines in it (the closing one checked).
fn batch(c: &mut Client) -> (String, Vec<String>) {
    let start = c.expect_has(" BATCH +");
    let id = bare(&start).split(' ').nth(2).unwrap()[1..].to_string();
    let mut lines = Vec::new();
    loop {
        let l = c.expect(|_| true);
        if bare(&l).ends_with(&format!(" BATCH -{id}")) {
            return (start, lines);
        }
        assert_eq!(tag(&l, "batch").as_deref(), Some(id.as_str()), "line outside the batch: {l}");
        lines.push(l);
    }
}

/// The texts of PRIVMSG lines.
fn texts(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| bare(l).split(" :").nth(1).unwrap_or("").to_string()).collect()
}

#[test]
fn msgid_is_the_same_live_in_replay_after_restart_and_in_chathistory() {
    let mut s = Server::start(&[]);
    let mut a = joined_caps(&s.addr(), "alice", "#m", ALL);
    let mut b = joined_caps(&s.addr(), "bob", "#m", &["message-tags"]);
    let mut plain = joined_caps(&s.addr(), "carol", "#m", &[]);
    a.send("PRIVMSG #m :hello");
    let echo = a.expect_has("PRIVMSG");
    let id = tag(&echo, "msgid").expect("msgid on the echo");
    assert_eq!(tag(&b.expect_has("PRIVMSG"), "msgid"), Some(id.clone()));
    assert_eq!(plain.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG #m :hello");
    // NOTICE, TAGMSG and private messages get their own ids.
    a.send("NOTICE #m :note");
    let nid = tag(&b.expect_has("NOTICE"), "msgid").unwrap();
    a.send("@+typing=active TAGMSG #m");
    let tid = tag(&b.expect_has("TAGMSG"), "msgid").unwrap();
    a.send("PRIVMSG bob :psst");
    let pid = tag(&b.expect_has("psst"), "msgid").unwrap();
    let mut ids = vec![id.clone(), nid, tid, pid];
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "ids are unique: {ids:?}");
    // The JOIN replay carries the live msgid, before and after a restart.
    for round in 0..2 {
        let mut late =
            Client::register_caps(&s.addr(), &format!("late{round}"), &["batch", "server-time", "message-tags"]);
        late.send("JOIN #m");
        let (_, lines) = batch(&mut late);
        assert_eq!(tag(&lines[0], "msgid"), Some(id.clone()), "{lines:?}");
        assert!(bare(&lines[0]).ends_with("PRIVMSG #m :hello"));
        s.restart();
    }
    let mut a = joined_caps(&s.addr(), "alice", "#m", ALL);
    a.send("CHATHISTORY LATEST #m * 10");
    let (_, lines) = batch(&mut a);
    assert_eq!(tag(&lines[0], "msgid"), Some(id.clone()));
    // New ids after a restart come after the journaled ones.
    a.send("PRIVMSG #m :after");
    let later = tag(&a.expect_has(":after"), "msgid").unwrap();
    assert!(u64::from_str_radix(&later, 16).unwrap() > u64::from_str_radix(&id, 16).unwrap());
}

#[test]
fn an_old_journal_without_msgids_is_read_and_its_ids_stay() {
    let dir = common::temp_dir("ircv3-old-journal");
    // A record as lanchat wrote it before msgids: CRC, time, channel, line.
    let body = "1700000000000 #old :zed!zed@127.0.0.1 PRIVMSG #old :from before";
    let crc = lanchat::server::journal::crc32(body.as_bytes());
    std::fs::write(dir.join("history.journal"), format!("{crc:08x} {body}\n")).unwrap();
    let mut s = Server::start_in(&dir, &[]);
    let mut seen = Vec::new();
    for round in 0..2 {
        let mut c = Client::register_caps(&s.addr(), &format!("c{round}"), &["batch", "server-time", "message-tags"]);
        c.send("JOIN #old");
        let (_, lines) = batch(&mut c);
        assert!(lines[0].contains("time=2023-11-14T22:13:20.000Z"), "{lines:?}");
        assert!(bare(&lines[0]).ends_with("PRIVMSG #old :from before"));
        seen.push(tag(&lines[0], "msgid").unwrap());
        s.restart();
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn labeled_response_tags_one_line_batches_many_and_acks_none() {
    let s = Server::start(&[]);
    let caps = ["batch", "labeled-response", "echo-message", "message-tags"];
    let mut a = joined_caps(&s.addr(), "alice", "#l", &caps);
    let mut b = joined_caps(&s.addr(), "bob", "#l", &[]);
    // PRIVMSG with echo-message: the echo carries the label; others never see it.
    a.send("@label=m1 PRIVMSG #l :hi");
    let echo = a.expect_has("PRIVMSG");
    assert_eq!(tag(&echo, "label").as_deref(), Some("m1"), "{echo}");
    assert_eq!(b.expect_has("PRIVMSG"), ":alice!alice@127.0.0.1 PRIVMSG #l :hi");
    // WHOIS answers with several lines: one labeled-response batch.
    a.send("@label=w2 WHOIS bob");
    let (start, lines) = batch(&mut a);
    assert_eq!(tag(&start, "label").as_deref(), Some("w2"));
    assert!(start.ends_with(" labeled-response"), "{start}");
    assert!(bare(&lines[0]).starts_with(":lanchat 311 alice bob "), "{lines:?}");
    assert!(bare(lines.last().unwrap()).starts_with(":lanchat 318 alice bob "));
    // A command with no answer gets an ACK.
    a.send("CAP REQ :-echo-message");
    a.expect_has(" ACK :-echo-message");
    a.send("@label=q3 PRIVMSG #l :quiet");
    assert_eq!(a.expect_has(" ACK"), "@label=q3 :lanchat ACK");
    // One line (PONG), and an error numeric, are tagged as they are.
    a.send("@label=p4 PING x");
    assert_eq!(a.expect_has("PONG"), "@label=p4 :lanchat PONG lanchat x");
    a.send("@label=e5 PRIVMSG nobody :x");
    assert!(a.expect_has(" 401 ").starts_with("@label=e5 :lanchat 401 alice nobody "));
    // Without the capability, a label is ignored.
    b.send("@label=z PING y");
    assert_eq!(b.expect_has("PONG"), ":lanchat PONG lanchat y");
    // Unlabeled commands of a labeled client are answered as before.
    a.send("PING z");
    assert_eq!(a.expect_has("PONG"), ":lanchat PONG lanchat z");
}

#[test]
fn extended_join_carries_account_and_realname() {
    let s = Server::start(&[]);
    let mut a = joined_caps(&s.addr(), "alice", "#e", &["extended-join"]);
    let mut c = joined_caps(&s.addr(), "carol", "#e", &[]);
    let mut b = Client::register(&s.addr(), "bob");
    b.send("JOIN #e");
    // lanchat has no accounts: the account is always `*`.
    assert_eq!(a.expect_has(":bob!"), ":bob!bob@127.0.0.1 JOIN #e * :Test bob");
    assert_eq!(c.expect_has(":bob!"), ":bob!bob@127.0.0.1 JOIN #e");
    assert_eq!(b.expect_has(" JOIN "), ":bob!bob@127.0.0.1 JOIN #e");
}

#[test]
fn setname_reaches_channel_members_with_the_capability() {
    let s = Server::start(&[]);
    let mut a = joined_caps(&s.addr(), "alice", "#s", &["setname"]);
    let mut b = joined_caps(&s.addr(), "bob", "#s", &["setname"]);
    let mut c = joined_caps(&s.addr(), "carol", "#s", &[]);
    let mut far = Client::register_caps(&s.addr(), "dave", &["setname"]);
    b.send("SETNAME :Robert the Builder");
    let line = ":bob!bob@127.0.0.1 SETNAME :Robert the Builder";
    assert_eq!(b.expect_has(" SETNAME "), line);
    assert_eq!(a.expect_has(" SETNAME "), line);
    assert!(c.sync().iter().all(|l| !l.contains("SETNAME")));
    assert!(far.sync().iter().all(|l| !l.contains("SETNAME")));
    c.send("WHOIS bob");
    assert!(c.expect_has(" 311 ").ends_with(":Robert the Builder"));
    b.send("SETNAME :");
    assert_eq!(b.expect_has("FAIL"), ":lanchat FAIL SETNAME INVALID_REALNAME :Realname is not valid");
    b.send(&format!("SETNAME :{}", "x".repeat(101)));
    b.expect_has("FAIL SETNAME INVALID_REALNAME");
    b.send("SETNAME");
    b.expect_has(" 461 bob SETNAME ");
}

#[test]
fn cap_ls_302_implies_cap_notify_and_isupport_tells_the_history_limits() {
    let s = Server::start(&[]);
    let mut c = Client::connect(&s.addr());
    c.nick = "old".into();
    c.send("CAP LS");
    let ls = c.expect_has(" LS ");
    for cap in ["cap-notify", "draft/chathistory", "extended-join", "labeled-response", "setname"] {
        assert!(ls.split(' ').any(|w| w.trim_start_matches(':') == cap), "{cap} missing from {ls}");
    }
    assert!(!ls.contains("account-tag"), "no accounts, no account-tag: {ls}");
    c.send("CAP LIST");
    assert!(c.expect_has(" LIST ").ends_with("LIST :"));
    c.send("CAP LS 302");
    c.expect_has(" LS ");
    c.send("CAP LIST");
    assert!(c.expect_has(" LIST ").ends_with("LIST :cap-notify"));
    c.send("CAP REQ :cap-notify");
    c.expect_has(" ACK :cap-notify");
    c.send("CAP END");
    c.send("NICK old");
    c.send("USER old 0 * :Old");
    let isupport = c.expect(|l| l.contains(" 005 ") && l.contains("CHATHISTORY"));
    assert!(isupport.contains(" CHATHISTORY=100 "), "{isupport}");
    assert!(isupport.contains(" MSGREFTYPES=msgid,timestamp "), "{isupport}");
}

#[test]
fn chathistory_answers_each_subcommand_from_the_journal() {
    let s = Server::start(&[]);
    let mut a = joined_caps(&s.addr(), "alice", "#h", ALL);
    let mut ids = Vec::new();
    let mut times = Vec::new();
    for i in 0..10 {
        a.send(&format!("PRIVMSG #h :line {i}"));
        let echo = a.expect_has(&format!(":line {i}"));
        ids.push(tag(&echo, "msgid").unwrap());
        times.push(tag(&echo, "time").unwrap());
    }
    let mut ask = |q: &str| -> Vec<String> {
        a.send(&format!("CHATHISTORY {q}"));
        let (start, lines) = batch(&mut a);
        assert!(start.ends_with(" chathistory #h"), "{q}: {start}");
        texts(&lines)
    };
    let want = |r: std::ops::Range<usize>| -> Vec<String> { r.map(|i| format!("line {i}")).collect() };
    assert_eq!(ask("LATEST #h * 3"), want(7..10));
    assert_eq!(ask(&format!("LATEST #h msgid={} 10", ids[7])), want(8..10));
    assert_eq!(ask(&format!("BEFORE #h msgid={} 2", ids[5])), want(3..5));
    assert_eq!(ask(&format!("AFTER #h msgid={} 2", ids[5])), want(6..8));
    assert_eq!(ask(&format!("AROUND #h msgid={} 4", ids[5])), want(3..7));
    assert_eq!(ask(&format!("BETWEEN #h msgid={} msgid={} 10", ids[1], ids[6])), want(2..6));
    // Backwards, the limit keeps the messages nearest the first reference.
    assert_eq!(ask(&format!("BETWEEN #h msgid={} msgid={} 2", ids[6], ids[1])), want(4..6));
    assert_eq!(ask("AFTER #h timestamp=2000-01-01T00:00:00.000Z 3"), want(0..3));
    assert_eq!(ask(&format!("BEFORE #h timestamp={} 100", times[0])), Vec::<String>::new());
    assert_eq!(ask(&format!("AFTER #h timestamp={} 100", times[9])), Vec::<String>::new());
    // More than the server's limit gets what there is.
    assert_eq!(ask("LATEST #h * 1000"), want(0..10));
    // Lines carry the msgid and time they had live.
    a.send(&format!("CHATHISTORY AROUND #h msgid={} 1", ids[4]));
    let (_, lines) = batch(&mut a);
    assert_eq!((tag(&lines[0], "msgid"), tag(&lines[0], "time")), (Some(ids[4].clone()), Some(times[4].clone())));
    // A nick: private messages are not journaled, so nothing.
    let mut b = joined_caps(&s.addr(), "bob", "#quiet", &[]);
    a.send("PRIVMSG bob :private");
    b.expect_has(":private");
    a.send("CHATHISTORY LATEST bob * 10");
    let (start, lines) = batch(&mut a);
    assert!(start.ends_with(" chathistory bob"), "{start}");
    assert!(lines.is_empty());
    // TARGETS: the channels with messages in the window, with the latest time.
    a.send("JOIN #silent");
    a.expect_has(" 366 ");
    a.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10");
    let (start, lines) = batch(&mut a);
    assert!(start.ends_with(" draft/chathistory-targets"), "{start}");
    assert_eq!(
        lines.iter().map(|l| bare(l)).collect::<Vec<_>>(),
        [format!(":lanchat CHATHISTORY TARGETS #h {}", times[9])]
    );
    a.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2000-01-02T00:00:00.000Z 10");
    assert!(batch(&mut a).1.is_empty());
}

#[test]
fn chathistory_errors_follow_the_spec() {
    let s = Server::start(&[]);
    let mut a = joined_caps(&s.addr(), "alice", "#h", ALL);
    let mut b = joined_caps(&s.addr(), "bob", "#secret", &[]);
    b.send("PRIVMSG #secret :not for alice");
    for (q, want) in [
        ("FROB #h * 1", "FAIL CHATHISTORY INVALID_PARAMS FROB :"),
        ("LATEST #h", "FAIL CHATHISTORY NEED_MORE_PARAMS LATEST :"),
        ("BETWEEN #h * 1", "FAIL CHATHISTORY NEED_MORE_PARAMS BETWEEN :"),
        ("LATEST #h * 0", "FAIL CHATHISTORY INVALID_PARAMS LATEST 0 :"),
        ("LATEST #h * many", "FAIL CHATHISTORY INVALID_PARAMS LATEST many :"),
        ("BEFORE #h * 5", "FAIL CHATHISTORY INVALID_PARAMS BEFORE * :"),
        ("BEFORE #h msgid=zz 5", "FAIL CHATHISTORY INVALID_PARAMS BEFORE msgid=zz :"),
        ("AFTER #h timestamp=yesterday 5", "FAIL CHATHISTORY INVALID_PARAMS AFTER timestamp=yesterday :"),
        ("TARGETS msgid=1 msgid=2 5", "FAIL CHATHISTORY INVALID_PARAMS TARGETS :"),
        ("LATEST #secret * 5", "FAIL CHATHISTORY INVALID_TARGET LATEST #secret :"),
        ("LATEST #nowhere * 5", "FAIL CHATHISTORY INVALID_TARGET LATEST #nowhere :"),
    ] {
        a.send(&format!("CHATHISTORY {q}"));
        let l = a.expect_has("FAIL");
        assert!(l.starts_with(&format!(":lanchat {want}")), "{q}: {l}");
    }
    a.send("CHATHISTORY");
    a.expect_has(" 461 alice CHATHISTORY ");
    // An unknown msgid is no error: there is just nothing around it.
    a.send("CHATHISTORY AFTER #h msgid=1 5");
    assert!(batch(&mut a).1.is_empty());
}

#[test]
fn labeled_chathistory_nests_its_batch() {
    let s = Server::start(&[]);
    let caps = ["batch", "labeled-response", "message-tags", "server-time", "draft/chathistory"];
    let mut a = joined_caps(&s.addr(), "alice", "#n", &caps);
    a.send("PRIVMSG #n :one");
    a.send("@label=h1 CHATHISTORY LATEST #n * 5");
    let start = a.expect_has(" BATCH +");
    assert_eq!(tag(&start, "label").as_deref(), Some("h1"));
    assert!(start.ends_with(" labeled-response"), "{start}");
    let outer = bare(&start).split(' ').nth(2).unwrap()[1..].to_string();
    // Inside: the chathistory batch, opened and closed in the outer one.
    let open = a.expect(|_| true);
    assert_eq!(tag(&open, "batch").as_deref(), Some(outer.as_str()), "{open}");
    assert!(open.ends_with(" chathistory #n"), "{open}");
    let inner = bare(&open).split(' ').nth(2).unwrap()[1..].to_string();
    let line = a.expect(|_| true);
    assert_eq!(tag(&line, "batch"), Some(inner.clone()), "{line}");
    assert!(bare(&line).ends_with("PRIVMSG #n :one"));
    let close = a.expect(|_| true);
    assert_eq!(tag(&close, "batch"), Some(outer.clone()), "{close}");
    assert!(close.ends_with(&format!(" BATCH -{inner}")));
    assert!(a.expect(|_| true).ends_with(&format!(" BATCH -{outer}")));
}
