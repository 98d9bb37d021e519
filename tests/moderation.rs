//! Channel moderation and server operators, end to end: a real server
//! process on loopback and real TCP clients.

mod common;

use common::{Client, Server, joined, joined_caps};

/// Lines received up to a sync barrier that contain `needle`.
fn seen(c: &mut Client, needle: &str) -> Vec<String> {
    c.sync().into_iter().filter(|l| l.contains(needle)).collect()
}

#[test]
fn kick_needs_an_operator_and_a_member() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#k");
    let mut b = joined(&s.addr(), "bob", "#k");
    let mut c = Client::register(&s.addr(), "carol");
    b.send("KICK #k alice");
    b.expect_has(" 482 bob #k :You're not channel operator");
    c.send("KICK #k bob");
    c.expect_has(" 442 carol #k :You're not on that channel");
    a.send("KICK #nowhere bob");
    a.expect_has(" 403 alice #nowhere ");
    a.send("KICK #k ghost");
    a.expect_has(" 401 alice ghost ");
    a.send("KICK #k carol");
    a.expect_has(" 441 alice carol #k :They aren't on that channel");
    a.send("KICK #k");
    a.expect_has(" 461 alice KICK ");
    a.send("KICK #k bob :spamming");
    assert_eq!(b.expect_has(" KICK "), ":alice!alice@127.0.0.1 KICK #k bob :spamming");
    assert_eq!(a.expect_has(" KICK "), ":alice!alice@127.0.0.1 KICK #k bob :spamming");
    // Bob is out: he cannot speak there any more (+n), and NAMES lacks him.
    b.send("PRIVMSG #k :hello?");
    b.expect_has(" 404 bob #k ");
    a.send("NAMES #k");
    assert_eq!(a.expect_has(" 353 "), ":lanchat 353 alice = #k :@alice");
    // Without a reason, the kicker's nick is the reason.
    b.send("JOIN #k");
    b.expect_has(" 366 ");
    a.send("KICK #k bob");
    assert!(b.expect_has(" KICK ").ends_with("KICK #k bob :alice"));
}

#[test]
fn bans_with_masks_exceptions_and_lists() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#b");
    let mut b = joined(&s.addr(), "bob", "#b");
    let mut c = Client::register(&s.addr(), "carol");
    // A bare nick means nick!*@*; the MODE line shows the full mask.
    a.send("MODE #b +b carol");
    assert_eq!(b.expect_has(" MODE "), ":alice!alice@127.0.0.1 MODE #b +b carol!*@*");
    c.send("JOIN #b");
    c.expect_has(" 474 carol #b :Cannot join channel (+b)");
    // A banned member still there cannot speak.
    a.send("MODE #b +b b*!*@127.0.0.?");
    a.expect_has("MODE #b +b b*!*@127.0.0.?");
    b.send("PRIVMSG #b :can I talk?");
    b.expect_has(" 404 bob #b :Cannot send to channel (+b)");
    // An exception lets him through again.
    a.send("MODE #b +e bob!*@*");
    b.expect_has("MODE #b +e bob!*@*");
    b.send("PRIVMSG #b :now?");
    a.expect_has("PRIVMSG #b :now?");
    // The lists, with setter and time.
    b.send("MODE #b +b");
    let first = b.expect_has(" 367 ");
    assert!(first.starts_with(":lanchat 367 bob #b carol!*@* alice!alice@127.0.0.1 "), "{first}");
    b.expect_has(" 367 bob #b b*!*@127.0.0.? ");
    b.expect_has(" 368 bob #b :End of channel ban list");
    b.send("MODE #b e");
    b.expect_has(" 348 bob #b bob!*@* alice!alice@127.0.0.1 ");
    b.expect_has(" 349 bob #b :End of channel exception list");
    // Removing: only operators; then carol can join.
    b.send("MODE #b -b carol");
    b.expect_has(" 482 bob #b ");
    a.send("MODE #b -b carol!*@*");
    b.expect_has("MODE #b -b carol!*@*");
    c.send("JOIN #b");
    c.expect_has(" 366 carol #b ");
    // A bad mask is refused with a clear error.
    a.send("MODE #b +b :a b");
    a.expect_has(" 696 alice #b b ab :Invalid mask");
}

#[test]
fn voice_moderation_and_multi_prefix() {
    let s = Server::start(&[]);
    let mut a = joined_caps(&s.addr(), "alice", "#m", &["multi-prefix"]);
    let mut b = joined(&s.addr(), "bob", "#m");
    let mut c = joined(&s.addr(), "carol", "#m");
    a.send("MODE #m +mv bob");
    assert_eq!(c.expect_has(" MODE "), ":alice!alice@127.0.0.1 MODE #m +mv bob");
    c.send("PRIVMSG #m :let me speak");
    c.expect_has(" 404 carol #m :Cannot send to channel (+m)");
    b.send("PRIVMSG #m :I have a voice");
    c.expect_has("PRIVMSG #m :I have a voice");
    a.send("PRIVMSG #m :ops always speak");
    c.expect_has("PRIVMSG #m :ops always speak");
    assert!(seen(&mut a, "let me speak").is_empty());
    // NAMES: highest prefix only, or all of them with multi-prefix.
    a.send("MODE #m +v alice");
    a.expect_has("MODE #m +v alice");
    c.send("NAMES #m");
    assert_eq!(c.expect_has(" 353 "), ":lanchat 353 carol = #m :@alice +bob carol");
    a.send("NAMES #m");
    assert_eq!(a.expect_has(" 353 "), ":lanchat 353 alice = #m :@+alice +bob carol");
    a.send("WHO #m");
    assert!(a.expect_has(" 352 ").ends_with(" alice H@+ :0 Test alice"));
    assert!(a.expect_has(" 352 ").ends_with(" bob H+ :0 Test bob"));
    // 324 shows the modes; -v takes the voice back.
    a.send("MODE #m");
    a.expect_has(" 324 alice #m +mnt");
    a.send("MODE #m -v bob");
    b.expect_has("MODE #m -v bob");
    b.send("PRIVMSG #m :still?");
    b.expect_has(" 404 bob #m ");
    // Voice is for members only.
    a.send("MODE #m +v nobody");
    a.expect_has(" 401 alice nobody ");
}

#[test]
fn moderated_and_draw_locked_channels_keep_strokes_from_the_unvoiced() {
    let s = Server::start(&[]);
    let tags = ["message-tags"];
    let mut a = joined_caps(&s.addr(), "alice", "#draw", &tags);
    let mut b = joined_caps(&s.addr(), "bob", "#draw", &tags);
    let stroke = "@+lanchat/stroke=1,ff0000,3,10,10,20,20 TAGMSG #draw";
    a.send("MODE #draw +d");
    b.expect_has("MODE #draw +d");
    b.send(stroke);
    b.expect_has(" 404 bob #draw :Cannot draw in channel (+d): only voiced users and operators may");
    b.send("@+lanchat/clear TAGMSG #draw");
    b.expect_has(" 404 bob #draw :Cannot draw in channel (+d)");
    // Talking and typing are fine under +d.
    b.send("@+typing=active TAGMSG #draw");
    a.expect_has("+typing=active");
    b.send("PRIVMSG #draw :may I draw?");
    a.expect_has("may I draw?");
    assert!(seen(&mut a, "stroke").is_empty(), "a refused stroke was relayed");
    a.send(stroke);
    b.expect_has("+lanchat/stroke=1,ff0000,3,10,10,20,20");
    // +m: neither strokes nor words from bob; a typing notice is dropped quietly.
    a.send("MODE #draw -d+m");
    b.expect_has("MODE #draw -d+m");
    b.send(stroke);
    b.expect_has(" 404 bob #draw :Cannot draw in channel (+m)");
    b.send("@+typing=active TAGMSG #draw");
    assert!(seen(&mut b, " 404 ").is_empty());
    assert!(seen(&mut a, "TAGMSG").is_empty());
    a.send("MODE #draw +v bob");
    b.expect_has("MODE #draw +v bob");
    // (A stroke ID of bob's own: alice holds 1.)
    b.send("@+lanchat/stroke=2,00ff00,3,10,10,20,20 TAGMSG #draw");
    assert!(a.expect_has("TAGMSG").starts_with("@+lanchat/stroke=2,"));
    // A late joiner's replay holds only the relayed strokes.
    let mut c = Client::register_caps(&s.addr(), "carol", &tags);
    c.send("JOIN #draw");
    c.expect_has(" 366 ");
    let strokes = seen(&mut c, "+lanchat/stroke");
    assert_eq!(strokes.len(), 2, "{strokes:?}");
}

#[test]
fn invite_only_with_invite_notify() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#i");
    let mut b = joined_caps(&s.addr(), "bob", "#i", &["invite-notify"]);
    let mut c = Client::register(&s.addr(), "carol");
    a.send("MODE #i +i");
    b.expect_has("MODE #i +i");
    c.send("JOIN #i");
    c.expect_has(" 473 carol #i :Cannot join channel (+i)");
    b.send("INVITE carol #i");
    b.expect_has(" 482 bob #i ");
    c.send("INVITE alice #i");
    c.expect_has(" 442 carol #i ");
    a.send("INVITE ghost #i");
    a.expect_has(" 401 alice ghost ");
    a.send("INVITE bob #i");
    a.expect_has(" 443 alice bob #i :is already on channel");
    a.send("INVITE carol #nowhere");
    a.expect_has(" 403 alice #nowhere ");
    a.send("INVITE carol #i");
    a.expect_has(" 341 alice carol #i");
    assert_eq!(c.expect_has(" INVITE "), ":alice!alice@127.0.0.1 INVITE carol #i");
    // invite-notify: bob hears of it.
    assert_eq!(b.expect_has(" INVITE "), ":alice!alice@127.0.0.1 INVITE carol #i");
    c.send("JOIN #i");
    c.expect_has(" 366 carol #i ");
    // The invitation is used up by the join.
    c.send("PART #i");
    c.expect_has(" PART ");
    c.send("JOIN #i");
    c.expect_has(" 473 carol #i ");
}

#[test]
fn keys_and_limits_with_per_target_errors() {
    let s = Server::start(&[]);
    let mut a = Client::register(&s.addr(), "alice");
    a.send("JOIN #a,#b,#c");
    a.expect_has(" 366 alice #c ");
    a.send("MODE #a +k apple");
    a.expect_has("MODE #a +k apple");
    a.send("MODE #b +kl banana 2");
    a.expect_has("MODE #b +kl banana 2");
    a.send("MODE #c +l 1");
    a.expect_has("MODE #c +l 1");
    a.send("MODE #a +k :bad key");
    a.expect_has(" 525 alice #a :Key is not well-formed");
    a.send("MODE #a +l zero");
    a.expect_has(" 696 alice #a l zero ");
    a.send("MODE #a +l");
    a.expect_has(" 461 alice MODE ");
    let mut b = Client::register(&s.addr(), "bob");
    // One list, each target with its own answer: wrong key, right key, full, bad name, new.
    b.send("JOIN #a,#b,#c,nochan,#d wrong,banana");
    b.expect_has(" 475 bob #a :Cannot join channel (+k)");
    b.expect_has(" JOIN #b");
    b.expect_has(" 366 bob #b ");
    b.expect_has(" 471 bob #c :Cannot join channel (+l)");
    b.expect_has(" 476 bob nochan ");
    b.expect_has(" JOIN #d");
    // #b is now full too; members see the key, outsiders do not.
    let mut c = Client::register(&s.addr(), "carol");
    c.send("JOIN #b banana");
    c.expect_has(" 471 carol #b ");
    b.send("MODE #b");
    b.expect_has(" 324 bob #b +ntkl banana 2");
    c.send("MODE #b");
    c.expect_has(" 324 carol #b +ntkl * 2");
    c.expect_has(" 329 carol #b ");
    // -k and -l lift them.
    a.send("MODE #b -kl *");
    a.expect_has("MODE #b -kl *");
    c.send("JOIN #b");
    c.expect_has(" 366 carol #b ");
}

#[test]
fn secret_channels_hide_from_outsiders() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#s");
    a.send("JOIN #open");
    a.expect_has(" 366 alice #open ");
    a.send("MODE #s +s");
    a.expect_has("MODE #s +s");
    let mut b = Client::register(&s.addr(), "bob");
    b.send("LIST");
    let list: Vec<String> = b.sync().into_iter().filter(|l| l.contains(" 322 ")).collect();
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0].contains(" #open "));
    b.send("NAMES #s");
    assert!(b.expect(|l| l.contains(" 353 ") || l.contains(" 366 ")).contains(" 366 bob #s "));
    b.send("WHOIS alice");
    b.expect_has(" 319 bob alice :@#open");
    b.send("WHO #s");
    assert!(b.expect(|l| l.contains(" 352 ") || l.contains(" 315 ")).contains(" 315 "));
    // Its topic and modes are no one else's business either: no such channel.
    b.send("TOPIC #s");
    b.expect_has(" 403 bob #s :No such channel");
    b.send("MODE #s");
    b.expect_has(" 403 bob #s :No such channel");
    b.send("MODE #s b");
    b.expect_has(" 403 bob #s :No such channel");
    // Members see it all, with the secret symbol in NAMES.
    a.send("NAMES #s");
    assert_eq!(a.expect_has(" 353 "), ":lanchat 353 alice @ #s :@alice");
    a.send("LIST");
    assert_eq!(seen(&mut a, " 322 ").len(), 2);
}

#[test]
fn mode_lines_with_several_modes_and_parameters() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#x");
    let mut b = joined(&s.addr(), "bob", "#x");
    let _c = joined(&s.addr(), "carol", "#x");
    a.send("MODE #x +ovmk-t bob carol secret");
    assert_eq!(b.expect_has(" MODE "), ":alice!alice@127.0.0.1 MODE #x +ovmk-t bob carol secret");
    // Changes that change nothing are not announced; unknown letters get 472.
    a.send("MODE #x +m-t+qz");
    a.expect_has(" 472 alice q ");
    a.expect_has(" 472 alice z ");
    assert!(seen(&mut b, " MODE ").is_empty());
    // A missing parameter: 461 for that mode, the rest applies.
    a.send("MODE #x +i+o");
    a.expect_has(" 461 alice MODE ");
    assert_eq!(b.expect_has(" MODE "), ":alice!alice@127.0.0.1 MODE #x +i");
    a.send("MODE #x");
    a.expect_has(" 324 alice #x +imnk secret");
}

#[test]
fn the_longest_present_member_becomes_operator_when_the_last_one_leaves() {
    let s = Server::start(&["--name", "pi.lan"]);
    let mut a = joined(&s.addr(), "alice", "#o");
    let mut b = joined(&s.addr(), "bob", "#o");
    let mut c = joined(&s.addr(), "carol", "#o");
    a.send("PART #o");
    assert_eq!(b.expect_has(" MODE "), ":pi.lan MODE #o +o bob");
    assert_eq!(c.expect_has(" MODE "), ":pi.lan MODE #o +o bob");
    b.send("TOPIC #o :bob runs this now");
    c.expect_has(" TOPIC #o :bob runs this now");
    // An operator giving up the last op hands it on to the next in line.
    b.send("MODE #o -o bob");
    assert_eq!(c.expect_has(" MODE "), ":bob!bob@127.0.0.1 MODE #o -o bob");
    assert_eq!(c.expect_has(" MODE "), ":pi.lan MODE #o +o carol");
    // Quitting counts too.
    c.send("QUIT :bye");
    b.expect_has(":pi.lan MODE #o +o carol");
    b.expect_has(" QUIT :Quit: bye");
    assert_eq!(b.expect_has(" MODE "), ":pi.lan MODE #o +o bob");
    // With another operator left, nothing happens.
    a.send("JOIN #o");
    a.expect_has(" 366 ");
    b.send("MODE #o +o alice");
    a.expect_has("MODE #o +o alice");
    b.send("PART #o");
    assert!(seen(&mut a, " MODE ").is_empty());
}

#[test]
fn server_operators_oper_kill_wallops_and_override() {
    let dir = common::temp_dir("opers");
    std::fs::write(dir.join("opers"), "# operators\nteacher:chalk\n").unwrap();
    let s = Server::start_in(&dir, &["--oper", "root:toor"]);
    let mut a = joined(&s.addr(), "alice", "#class");
    let mut t = Client::register(&s.addr(), "teach");
    t.send("KILL alice :no");
    t.expect_has(" 481 teach :Permission Denied- You're not an IRC operator");
    t.send("WALLOPS :hi");
    t.expect_has(" 481 teach ");
    t.send("OPER nobody chalk");
    t.expect_has(" 491 teach :No O-lines for your host");
    t.send("OPER teacher wrong");
    t.expect_has(" 464 teach :Password incorrect");
    t.send("OPER teacher chalk");
    t.expect_has(" 381 teach :You are now an IRC operator");
    t.expect_has(":teach MODE teach :+o");
    t.send("MODE teach");
    t.expect_has(" 221 teach +o");
    // The --oper one works as well.
    let mut r = Client::register(&s.addr(), "rooty");
    r.send("OPER root toor");
    r.expect_has(" 381 rooty ");
    // WHO shows `*`, WHOIS 313, LUSERS 252.
    a.send("WHO teach");
    assert!(a.expect_has(" 352 ").contains(" teach H* :0 "));
    a.send("WHOIS teach");
    a.expect_has(" 313 alice teach :is an IRC operator");
    a.send("LUSERS");
    a.expect_has(" 252 alice 2 :operator(s) online");
    // Override: a server operator runs any channel without being its operator.
    a.send("MODE #class +i");
    a.expect_has("MODE #class +i");
    t.send("JOIN #class");
    t.expect_has(" 366 teach #class ");
    t.send("MODE #class +o teach");
    assert_eq!(a.expect_has(" MODE "), ":teach!teach@127.0.0.1 MODE #class +o teach");
    r.send("KICK #class alice :class is over");
    a.expect_has(" KICK #class alice :class is over");
    // WALLOPS reaches +w clients only.
    a.send("MODE alice +w");
    a.expect_has(":alice MODE alice :+w");
    t.send("WALLOPS :fire drill at 3");
    assert_eq!(a.expect_has(" WALLOPS "), ":teach!teach@127.0.0.1 WALLOPS :fire drill at 3");
    assert!(seen(&mut r, "WALLOPS").is_empty());
    // KILL disconnects, and everyone sharing a channel sees why.
    let mut b = joined(&s.addr(), "bob", "#k");
    let mut w = joined(&s.addr(), "witness", "#k");
    t.send("KILL bob :spam");
    let lines = b.expect_closed();
    assert!(lines.iter().any(|l| l.contains(" KILL bob :teach (spam)")), "{lines:?}");
    assert!(w.expect_has(" QUIT ").ends_with("QUIT :Killed (teach (spam))"));
    t.send("KILL ghost");
    t.expect_has(" 401 teach ghost ");
    // Dropping +o: no more privileges.
    t.send("MODE teach -o");
    t.expect_has(":teach MODE teach :-o");
    t.send("KILL witness");
    t.expect_has(" 481 teach ");
}

#[test]
fn who_masks_whox_whowas_lusers_and_topic_on_join() {
    let s = Server::start(&[]);
    let mut a = joined(&s.addr(), "alice", "#w");
    let mut b = Client::register(&s.addr(), "bobby");
    // No 331 on joining a channel without a topic; TOPIC itself says 331.
    b.send("JOIN #w");
    let lines = b.sync();
    assert!(lines.iter().any(|l| l.contains(" 366 bobby #w ")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains(" 331 ")), "{lines:?}");
    b.send("TOPIC #w");
    b.expect_has(" 331 bobby #w :No topic is set");
    // WHO with a mask: nicks and hosts.
    a.send("WHO bob*");
    assert!(a.expect(|l| l.contains(" 352 ") || l.contains(" 315 ")).contains(" bobby H :0 Test bobby"));
    a.send("WHO *.0.0.1");
    let rows = seen(&mut a, " 352 ");
    assert_eq!(rows.len(), 2, "{rows:?}");
    b.send("AWAY :out");
    b.expect_has(" 306 ");
    a.send("WHO *");
    let rows = seen(&mut a, " 352 ");
    assert!(rows.iter().any(|r| r.contains(" bobby G :0 ")), "{rows:?}");
    // WHOX: the asked fields in WHOX order, the token first.
    a.send("WHO #w %tnfcuhar,42");
    assert_eq!(a.expect_has(" 354 "), ":lanchat 354 alice 42 #w alice 127.0.0.1 alice H@ 0 :Test alice");
    a.expect_has(" 354 alice 42 #w bobby 127.0.0.1 bobby G 0 :Test bobby");
    a.expect_has(" 315 alice #w ");
    // An invisible client outside our channels is not listed.
    let mut i = Client::register(&s.addr(), "ghostly");
    i.send("MODE ghostly +i");
    i.expect_has("MODE ghostly :+i");
    a.send("WHO ghost*");
    assert!(seen(&mut a, " 352 ").is_empty());
    // LUSERS counts the invisible, and 265/266.
    a.send("LUSERS");
    a.expect_has(" 251 alice :There are 2 users and 1 invisible on 1 servers");
    a.expect_has(" 265 alice 3 3 :Current local users 3, max 3");
    a.expect_has(" 266 alice 3 3 :Current global users 3, max 3");
    // WHOWAS: departed and renamed nicks; 406 for unknown ones.
    i.send("QUIT");
    i.expect_closed();
    b.send("NICK robert");
    b.expect_has(" NICK robert");
    a.send("WHOWAS ghostly");
    a.expect_has(" 314 alice ghostly ghostly 127.0.0.1 * :Test ghostly");
    // The departure time as people read it: `:Wed Dec 02 02:18:02 2026`.
    let when = a.expect_has(" 312 alice ghostly lanchat :");
    let when = when.rsplit(" :").next().unwrap();
    assert!(when.len() == 24 && when.as_bytes()[3] == b' ' && when[11..].contains(':'), "{when}");
    a.expect_has(" 369 alice ghostly :End of WHOWAS");
    a.send("WHOWAS bobby");
    a.expect_has(" 314 alice bobby bobby ");
    a.send("WHOWAS nobody");
    a.expect_has(" 406 alice nobody :There was no such nickname");
    a.expect_has(" 369 alice nobody ");
    // 333 names the setter in full.
    a.send("TOPIC #w :hello");
    a.expect_has(" TOPIC #w :hello");
    robert_sees_topic(&s.addr());
}

fn robert_sees_topic(addr: &str) {
    let mut c = Client::register(addr, "carl");
    c.send("JOIN #w");
    c.expect_has(" 332 carl #w :hello");
    c.expect_has(" 333 carl #w alice!alice@127.0.0.1 ");
}

#[test]
fn long_kick_reasons_and_wallops_are_cut_to_fit_a_line() {
    let s = Server::start(&["--oper", "op:pw"]);
    let mut a = joined(&s.addr(), "alice", "#long");
    let mut b = joined(&s.addr(), "bob", "#long");
    let reason = "é".repeat(200);
    a.send(&format!("KICK #long bob :{reason}"));
    let kick = b.expect_has(" KICK ");
    assert!(kick.len() <= 510, "{} bytes", kick.len());
    assert!(kick.ends_with(&"é".repeat(127)), "{kick}");
    a.send("OPER op pw");
    a.expect_has(" 381 ");
    a.send("MODE alice +w");
    a.send(&format!("WALLOPS :{}", "w".repeat(450)));
    assert!(a.expect_has(" WALLOPS ").len() <= 510);
}

#[test]
fn user_needs_a_realname_and_latin1_in_it_does_not_hang_registration() {
    let s = Server::start(&[]);
    let mut c = Client::connect(&s.addr());
    c.send("NICK rene");
    c.send("USER rene 0 * :");
    c.expect_has(" 461 rene USER :Not enough parameters");
    // "René" in Latin-1: replaced, warned about, and registration goes on.
    c.send_raw(b"USER rene 0 * :Ren\xe9\r\n");
    assert_eq!(c.expect_has(" WARN "), ":lanchat WARN USER INVALID_UTF8 :Invalid UTF-8 in USER was replaced");
    c.expect_has(" 001 rene ");
    c.send("WHOIS rene");
    c.expect_has(" 311 rene rene rene 127.0.0.1 * :Ren\u{fffd}");
    // Anything else that is not UTF-8 is dropped with a FAIL naming the command.
    c.send_raw(b"PRIVMSG rene :\xff\r\n");
    c.expect_has(":lanchat FAIL PRIVMSG INVALID_UTF8 :Input is not valid UTF-8; it was dropped");
}

#[test]
fn monitor_tells_when_nicks_come_and_go() {
    let s = Server::start(&[]);
    let mut w = Client::register(&s.addr(), "watcher");
    let _a = Client::register(&s.addr(), "alice");
    w.send("MONITOR + alice,bob,9bad");
    w.expect_has(" 730 watcher :alice!alice@127.0.0.1");
    w.expect_has(" 731 watcher :bob");
    // bob arrives, renames, leaves: each time the watcher hears of it.
    let mut b = Client::register(&s.addr(), "bob");
    w.expect_has(" 730 watcher :bob!bob@127.0.0.1");
    b.send("NICK robert");
    b.expect_has(" NICK robert");
    w.expect_has(" 731 watcher :bob");
    b.send("NICK bob");
    w.expect_has(" 730 watcher :bob!bob@127.0.0.1");
    b.send("QUIT");
    b.expect_closed();
    w.expect_has(" 731 watcher :bob");
    w.send("MONITOR L");
    w.expect_has(" 732 watcher :alice,bob");
    w.expect_has(" 733 watcher :End of MONITOR list");
    w.send("MONITOR - alice");
    w.send("MONITOR S");
    let lines = w.sync();
    assert!(lines.iter().any(|l| l.ends_with(" 731 watcher :bob")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("alice")), "{lines:?}");
    w.send("MONITOR C");
    let _b = Client::register(&s.addr(), "bob");
    assert!(seen(&mut w, " 730 ").is_empty());
    // The list is bounded.
    let many: Vec<String> = (0..101).map(|i| format!("n{i}")).collect();
    w.send(&format!("MONITOR + {}", many.join(",")));
    w.expect_has(" 734 watcher 100 n100 :Monitor list is full");
}
