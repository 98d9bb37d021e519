//! The core fed with server transcripts: lanchat's lines as recorded from
//! `lanchat --serve` (0.1.0), and other servers' in the form they send them.

use super::*;
use crate::client::ChannelInfo;

/// A core, the clock it is fed, and what it asked for.
struct T {
    core: Core,
    at: Instant,
    wall: SystemTime,
    sent: Vec<String>,
    events: Vec<Event>,
    /// Connect, Close and Exit, in order.
    io: Vec<String>,
}

impl T {
    fn with_core(core: Core) -> T {
        let (at, wall) = (Instant::now(), clock::from_unix_ms(1_800_000_000_000));
        T { core, at, wall, sent: Vec::new(), events: Vec::new(), io: Vec::new() }
    }

    /// Connected to a server as `nick`, registration sent.
    fn start(nick: &str) -> T {
        T::start_with(Core::new(), nick)
    }

    /// [`T::start`] with this core.
    fn start_with(core: Core, nick: &str) -> T {
        let mut t = T::with_core(core);
        let (server, channel) = ("127.0.0.1:6667".into(), "#lobby".into());
        let settings = Settings { server, nick: nick.into(), channel, password: None, tls: false, pin: None };
        t.cmd(Command::Connect(settings));
        t.connected();
        t
    }

    fn now(&self) -> Now {
        Now { at: self.at, wall: self.wall }
    }

    fn take(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send(l) => self.sent.push(l),
                Action::Emit(e) => self.events.push(e),
                Action::Connect(addr) => self.io.push(format!("connect {addr}")),
                Action::ConnectTls { addr, pin } => self.io.push(format!("connect tls {addr} pin {pin:?}")),
                Action::Close => self.io.push("close".into()),
                Action::Exit => self.io.push("exit".into()),
                Action::Upload { id, url, token, path, target, max } => {
                    self.io.push(format!("upload {id} {url} {token} {} {target} {max}", path.display()))
                }
            }
        }
    }

    fn cmd(&mut self, c: Command) {
        let a = self.core.on_command(c, self.now());
        self.take(a);
    }

    fn connected(&mut self) {
        let a = self.core.on_connected(self.now());
        self.take(a);
    }

    fn lost(&mut self, why: &str) {
        let a = self.core.on_lost(why, self.now());
        self.take(a);
    }

    /// Lets `d` pass and runs the timer if it is due.
    fn wait(&mut self, d: Duration) {
        self.at += d;
        self.wall += d;
        if self.core.next_timer().is_some_and(|t| t <= self.at) {
            let a = self.core.on_timer(self.now());
            self.take(a);
        }
    }

    /// Feeds the server's lines, one per line of `transcript`.
    fn server(&mut self, transcript: &str) {
        for line in transcript.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let msg = Message::parse(line).unwrap_or_else(|e| panic!("{line}: {e:?}"));
            let a = self.core.on_line(&msg, self.now());
            self.take(a);
        }
    }

    fn sent(&mut self) -> Vec<String> {
        std::mem::take(&mut self.sent)
    }

    fn events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The last user list sent for a channel.
    fn users(&self, channel: &str) -> Vec<String> {
        let last = self.events.iter().rev().find_map(|e| match e {
            Event::Users { channel: c, nicks } if c.eq_ignore_ascii_case(channel) => Some(nicks.clone()),
            _ => None,
        });
        last.unwrap_or_else(|| panic!("no user list for {channel}: {:?}", self.events))
    }

    fn messages(&self) -> Vec<(&str, bool)> {
        let texts = self.events.iter().filter_map(|e| match e {
            Event::Message { text, history, .. } => Some((text.as_str(), *history)),
            _ => None,
        });
        texts.collect()
    }
}

/// lanchat's answer to CAP REQ and CAP END, as recorded.
fn lanchat_welcome(nick: &str) -> String {
    format!(
        ":lanchat CAP {nick} ACK :message-tags server-time echo-message batch multi-prefix
        :lanchat 001 {nick} :Welcome to the lanchat IRC network, {nick}!x@127.0.0.1
        :lanchat 002 {nick} :Your host is lanchat, running version lanchat-0.1.0
        :lanchat 004 {nick} lanchat lanchat-0.1.0 i nto o
        :lanchat 005 {nick} CASEMAPPING=ascii CHANTYPES=# NETWORK=lanchat PREFIX=(o)@ :are supported by this server
        :lanchat 422 {nick} :MOTD File is missing"
    )
}

const LANCHAT_LS: &str =
    ":lanchat CAP * LS :batch echo-message message-tags multi-prefix server-time userhost-in-names";

fn nicks_sent(sent: &[String]) -> Vec<&str> {
    sent.iter().filter_map(|l| l.strip_prefix("NICK ")).collect()
}

#[test]
fn an_erroneous_nick_falls_back_once_and_says_why() {
    let mut t = T::start("1bad");
    t.server(LANCHAT_LS);
    t.server(":lanchat 432 * 1bad :Erroneous nickname");
    let fallback = fallback_nick("1bad");
    assert!(crate::client::valid_nick(&fallback), "{fallback}");
    assert!(matches!(&t.events()[..], [
        Event::State(ConnState::Connecting),
        Event::NickInvalid { wanted, reason, fallback: Some(f) },
    ] if wanted == "1bad" && reason == "Erroneous nickname" && *f == fallback));
    assert_eq!(nicks_sent(&t.sent()), ["1bad", fallback.as_str()]);
    t.server(&lanchat_welcome(&fallback));
    assert!(t.events().iter().any(|e| matches!(e, Event::Nick(n) if *n == fallback)));
}

#[test]
fn an_erroneous_nick_never_loops() {
    let mut t = T::start("1bad");
    t.server(LANCHAT_LS);
    // A server stricter than lanchat refuses the fallback too.
    let fallback = fallback_nick("1bad");
    t.server(":irc.example.net 432 * 1bad :Erroneous Nickname");
    t.server(&format!(":irc.example.net 432 * {fallback} :Erroneous Nickname"));
    assert_eq!(nicks_sent(&t.sent), ["1bad", fallback.as_str()]);
    assert_eq!(t.sent.last().map(String::as_str), Some("QUIT :No usable nick"));
    let ev = t.events();
    let why = ev.iter().rev().nth(1);
    let why = why.map(|e| format!("{e:?}")).unwrap_or_default();
    assert!(why.contains("stopped") && why.contains(&fallback), "{ev:?}");
    assert!(matches!(ev.last(), Some(Event::State(ConnState::Disconnected))));
    assert_eq!(t.io.last().map(String::as_str), Some("close"));
    assert_eq!(t.core.next_timer(), None, "no reconnecting to the same refusal");
    // Whatever else the closing server says changes nothing.
    t.sent();
    t.server(":irc.example.net 432 * x :Erroneous Nickname");
    assert!(t.sent().is_empty() && t.events().is_empty());
}

#[test]
fn a_taken_nick_tries_a_few_variants_then_stops() {
    let mut t = T::start("bob");
    t.server(LANCHAT_LS);
    t.server(":lanchat 433 * bob :Nickname is already in use");
    let ev = t.events();
    assert!(matches!(&ev[1..], [Event::NickTaken { wanted, suggestion }] if wanted == "bob" && suggestion == "bob_"));
    for n in ["bob_", "bob_2", "bob_3", "bob_4", "bob_5", "bob_6"] {
        t.server(&format!(":lanchat 433 * {n} :Nickname is already in use"));
    }
    let sent = t.sent();
    assert_eq!(nicks_sent(&sent), ["bob", "bob_", "bob_2", "bob_3", "bob_4"]);
    assert!(matches!(t.events().last(), Some(Event::State(ConnState::Disconnected))));
}

#[test]
fn a_refused_nick_change_keeps_the_nick() {
    let mut t = T::start("bob_");
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("bob_"));
    t.events();
    t.sent();
    t.cmd(Command::Nick("9x".into()));
    t.server(":lanchat 432 bob_ 9x :Erroneous nickname");
    t.cmd(Command::Nick("bob".into()));
    t.server(":lanchat 433 bob_ bob :Nickname is already in use");
    assert_eq!(t.sent(), ["NICK 9x", "NICK bob"]);
    assert!(matches!(&t.events()[..], [
        Event::NickInvalid { wanted, fallback: None, .. },
        Event::NickTaken { suggestion, .. },
    ] if wanted == "9x" && suggestion == "bob_"));
}

#[test]
fn all_status_prefixes_leave_no_stale_users() {
    // InspIRCd with halfops, admins and owners, and multi-prefix.
    let mut t = T::start("ann");
    t.server(":irc.local CAP * LS :batch cap-notify echo-message message-tags multi-prefix server-time");
    t.server(":irc.local CAP ann ACK :message-tags server-time echo-message batch multi-prefix");
    t.server(":irc.local 001 ann :Welcome to the Localnet IRC Network ann!ann@127.0.0.1");
    t.server(":irc.local 005 ann CASEMAPPING=rfc1459 PREFIX=(qaohv)~&@%+ :ok");
    t.server(
        ":ann!ann@127.0.0.1 JOIN :#lobby
        :irc.local 353 ann = #lobby :~@boss &admin @op %half +voice ann
        :irc.local 366 ann #lobby :End of /NAMES list.",
    );
    assert_eq!(t.users("#lobby"), ["~@boss", "&admin", "@op", "%half", "+voice", "ann"]);
    t.server(
        ":half!h@127.0.0.1 NICK :halfling
        :boss!b@127.0.0.1 PART #lobby :bye
        :admin!a@127.0.0.1 QUIT :Quit: gone
        :voice!v@127.0.0.1 NICK :loud",
    );
    assert_eq!(t.users("#lobby"), ["@op", "%halfling", "+loud", "ann"]);
    t.server(
        ":halfling!h@127.0.0.1 QUIT :Quit: gone
        :loud!v@127.0.0.1 PART :#lobby",
    );
    assert_eq!(t.users("#lobby"), ["@op", "ann"]);
}

#[test]
fn prefixes_default_to_all_five_without_isupport() {
    let mut t = T::start("ann");
    t.server(
        ":old.server 001 ann :Welcome
        :old.server 353 ann = #lobby :%half ~owner ann
        :old.server 366 ann #lobby :End of /NAMES list.
        :half!h@x QUIT :bye
        :owner!o@x NICK boss",
    );
    assert_eq!(t.users("#lobby"), ["~boss", "ann"]);
    assert_eq!(bare_nick("~@boss", DEFAULT_PREFIXES), "boss");
    assert_eq!(bare_nick("[x]", DEFAULT_PREFIXES), "[x]");
}

#[test]
fn a_multi_line_cap_ls_is_answered_once_at_its_end() {
    let mut t = T::start("ann");
    t.sent();
    t.server(":irc.example.net CAP * LS * :account-notify away-notify batch chghost extended-join");
    t.server(":irc.example.net CAP * LS * :echo-message invite-notify message-tags=draft sasl=PLAIN,EXTERNAL");
    assert!(t.sent.is_empty(), "{:?}", t.sent);
    t.server(":irc.example.net CAP * LS :server-time multi-prefix");
    assert_eq!(t.sent(), ["CAP REQ :message-tags server-time echo-message batch multi-prefix away-notify"]);
    t.server(":irc.example.net CAP * ACK :message-tags server-time echo-message batch multi-prefix away-notify");
    assert_eq!(t.sent(), ["CAP END"]);
    // A server that offers nothing we want.
    let mut t = T::start("ann");
    t.sent();
    t.server(":old.server CAP * LS :sasl chghost");
    assert_eq!(t.sent(), ["CAP END"]);
}

#[test]
fn lines_typed_while_away_are_sent_after_the_welcome() {
    let mut t = T::start("cli");
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    t.cmd(Command::Join("#side".into()));
    t.sent();
    t.lost("Connection reset by peer");
    assert!(matches!(t.events().last(), Some(Event::State(ConnState::Reconnecting { attempt: 1, .. }))));
    t.cmd(Command::Say { target: "#lobby".into(), text: "typed while away".into() });
    t.cmd(Command::Action { target: "#lobby".into(), text: "waves".into() });
    assert!(t.sent.is_empty());
    // The first retry comes within 2 s (see `backoff`).
    t.wait(Duration::from_secs(2));
    assert_eq!(t.io.last().map(String::as_str), Some("connect 127.0.0.1:6667"));
    t.connected();
    t.server(LANCHAT_LS);
    assert!(t.sent().iter().all(|l| !l.starts_with("PRIVMSG")));
    t.server(&lanchat_welcome("cli"));
    assert_eq!(
        t.sent(),
        [
            "CAP END",
            "JOIN #lobby",
            "JOIN #side",
            "PRIVMSG #lobby :typed while away",
            "PRIVMSG #lobby :\u{1}ACTION waves\u{1}",
        ]
    );
    assert!(!t.events().iter().any(|e| matches!(e, Event::NotSent { .. })));
}

#[test]
fn quitting_with_lines_pending_reports_them_before_disconnected() {
    let mut t = T::start("cli");
    t.lost("cannot connect to 127.0.0.1:6667: Connection refused (os error 111)");
    t.cmd(Command::Say { target: "#lobby".into(), text: "one".into() });
    t.events();
    t.cmd(Command::Quit);
    // One more try at once, not after the backoff.
    assert_eq!(t.io.last().map(String::as_str), Some("connect 127.0.0.1:6667"));
    t.lost("cannot connect to 127.0.0.1:6667: Connection refused (os error 111)");
    let ev = t.events();
    let order: Vec<&str> = ev
        .iter()
        .map(|e| match e {
            Event::NotSent { text, .. } if text == "one" => "not sent",
            Event::State(ConnState::Disconnected) => "disconnected",
            _ => "",
        })
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(order, ["not sent", "disconnected"]);
    assert_eq!(t.io.last().map(String::as_str), Some("exit"));
    assert!(t.core.done());
}

#[test]
fn quitting_with_lines_pending_delivers_them_first() {
    let mut t = T::start("cli");
    t.cmd(Command::Say { target: "#lobby".into(), text: "one".into() });
    t.cmd(Command::Quit);
    assert!(!t.core.done());
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    let sent = t.sent();
    assert_eq!(&sent[sent.len() - 3..], ["JOIN #lobby", "PRIVMSG #lobby :one", "QUIT :Leaving"]);
    assert_eq!(t.io, ["connect 127.0.0.1:6667", "close", "exit"]);
    assert!(!t.events().iter().any(|e| matches!(e, Event::NotSent { .. })));
}

#[test]
fn disconnecting_reports_pending_lines_then_the_state() {
    let mut t = T::start("cli");
    t.cmd(Command::Say { target: "bob".into(), text: "psst".into() });
    t.events();
    t.cmd(Command::Disconnect);
    let ev = t.events();
    assert!(matches!(&ev[..], [Event::NotSent { target, .. }, Event::State(ConnState::Disconnected)]
        if target == "bob"));
    t.cmd(Command::Say { target: "bob".into(), text: "again".into() });
    assert!(matches!(&t.events()[..], [Event::NotSent { reason, .. }] if reason == "not connected"));
    assert!(!t.core.done());
}

#[test]
fn a_history_replay_shows_only_what_was_missed() {
    let mut t = T::start("cli");
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    t.server(
        "@time=2026-12-01T22:58:29.241Z :cli!x@127.0.0.1 JOIN #lobby
        :lanchat 353 cli = #lobby :@bob cli
        :lanchat 366 cli #lobby :End of /NAMES list
        :lanchat BATCH +h1 chathistory #lobby
        @batch=h1;time=2026-12-01T22:50:00.000Z :bob!x@127.0.0.1 PRIVMSG #lobby :from yesterday
        :lanchat BATCH -h1
        @time=2026-12-01T22:58:30.000Z :bob!x@127.0.0.1 PRIVMSG #lobby :before the outage",
    );
    assert_eq!(t.messages(), [("from yesterday", true), ("before the outage", false)]);
    t.events();
    t.lost("the server closed the connection");
    t.wait(Duration::from_secs(2));
    t.connected();
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    // A live private line overtakes the channel's replay, and one in the
    // channel itself: neither hides the replayed lines older than it.
    t.server(
        "@time=2026-12-01T23:10:00.000Z :bob!x@127.0.0.1 PRIVMSG cli :are you back?
        @time=2026-12-01T23:05:00.000Z :cli!x@127.0.0.1 JOIN #lobby
        @time=2026-12-01T23:09:00.000Z :carol!x@127.0.0.1 PRIVMSG #lobby :live, overtaking the replay
        :lanchat 353 cli = #lobby :@bob carol cli
        :lanchat 366 cli #lobby :End of /NAMES list
        :lanchat BATCH +h2x1 chathistory #lobby
        @batch=h2x1;time=2026-12-01T22:50:00.000Z :bob!x@127.0.0.1 PRIVMSG #lobby :from yesterday
        @batch=h2x1;time=2026-12-01T22:58:30.000Z :bob!x@127.0.0.1 PRIVMSG #lobby :before the outage
        @batch=h2x1;time=2026-12-01T22:58:30.000Z :carol!x@127.0.0.1 PRIVMSG #lobby :in the same millisecond
        @batch=h2x1;time=2026-12-01T23:01:00.000Z :carol!x@127.0.0.1 PRIVMSG #lobby :while you were away
        :lanchat BATCH -h2x1",
    );
    assert_eq!(
        t.messages(),
        [
            ("are you back?", false),
            ("live, overtaking the replay", false),
            ("in the same millisecond", true),
            ("while you were away", true),
        ]
    );
}

#[test]
fn pings_measure_the_round_trip_and_silence_means_lost() {
    let mut t = T::start("cli");
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    t.sent();
    t.events();
    t.wait(Duration::ZERO);
    let token = format!("lanchat-{}", clock::unix_ms(t.wall));
    assert_eq!(t.sent(), [format!("PING :{token}")]);
    t.at += Duration::from_millis(7);
    t.server(&format!(":lanchat PONG lanchat :{token}"));
    assert!(matches!(&t.events()[..], [Event::Rtt(d)] if *d == Duration::from_millis(7)));
    t.wait(Duration::from_secs(15));
    assert_eq!(t.sent().len(), 1, "another ping after 15 s");
    t.wait(Duration::from_secs(15));
    t.wait(Duration::from_secs(15));
    t.sent();
    t.wait(Duration::from_secs(1));
    assert_eq!(t.io.last().map(String::as_str), Some("close"));
    assert!(matches!(t.events().last(), Some(Event::State(ConnState::Reconnecting { attempt: 1, .. }))));
}

#[test]
fn nick_suggestions() {
    assert_eq!(suggest_nick("alice"), "alice_");
    assert_eq!(suggest_nick("alice_"), "alice_2");
    assert_eq!(suggest_nick("alice_2"), "alice_3");
    assert_eq!(fallback_nick("1bad"), fallback_nick("1bad"));
    assert!(fallback_nick("-").starts_with("guest"));
}

#[test]
fn splits_on_boundaries() {
    assert_eq!(split_utf8("abc", 10), ["abc"]);
    let s = "é".repeat(10);
    for p in split_utf8(&s, 5) {
        assert!(p.len() <= 5);
    }
    assert_eq!(split_utf8(&s, 5).concat(), s);
    assert_eq!(split_utf8("éé", 1), ["é", "é"], "always advances");
}

fn tls_settings(pin: Option<&str>) -> Settings {
    let (server, channel) = ("pi:6697".into(), "#lobby".into());
    Settings { server, nick: "ann".into(), channel, password: None, tls: true, pin: pin.map(String::from) }
}

const FP_A: &str = "AA:0F:73:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:8A:85";
const FP_B: &str = "BB:0F:73:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:8A:85";

#[test]
fn tls_first_use_pins_and_reconnects_accept_only_that_certificate() {
    let mut t = T::with_core(Core::new());
    t.cmd(Command::Connect(tls_settings(None)));
    assert_eq!(t.io, ["connect tls pi:6697 pin None"]);
    let a = t.core.on_connected_tls(FP_A, t.now());
    t.take(a);
    let ev = t.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Pinned { server, fingerprint } if server == "pi:6697" && fingerprint == FP_A))
    );
    assert!(ev.iter().any(|e| matches!(e, Event::System { text, .. }
        if text.starts_with(&format!("pinned the certificate of pi:6697, SHA-256 {FP_A}")))));
    assert!(ev.iter().any(|e| matches!(e, Event::Secure { fingerprint } if fingerprint == FP_A)));
    assert_eq!(nicks_sent(&t.sent()), ["ann"], "registers after the handshake");
    // Lost: the retry is pinned to what was seen first.
    t.lost("reset");
    t.wait(Duration::from_secs(31));
    assert_eq!(t.io.last().unwrap(), &format!("connect tls pi:6697 pin Some({FP_A:?})"));
    let a = t.core.on_connected_tls(FP_A, t.now());
    t.take(a);
    let ev = t.events();
    assert!(!ev.iter().any(|e| matches!(e, Event::Pinned { .. })), "the same certificate is not pinned again");
    assert!(ev.iter().any(|e| matches!(e, Event::Secure { .. })));
}

#[test]
fn a_changed_certificate_is_refused_with_how_to_accept_it_and_never_retried() {
    // Refused by the verifier, in the handshake.
    let mut t = T::with_core(Core::new());
    t.cmd(Command::Connect(tls_settings(Some(FP_A))));
    t.events();
    let a = t.core.on_cert_changed(FP_A, FP_B, t.now());
    t.take(a);
    let ev = t.events();
    let says = |e: &Event| {
        matches!(e, Event::System { text, .. }
        if text.contains("certificate of pi:6697 changed") && text.contains(&format!("--accept-fingerprint {FP_B}")))
    };
    assert!(ev.iter().any(says), "{ev:?}");
    assert!(ev.iter().any(|e| matches!(e, Event::CertChanged { seen, .. } if seen == FP_B)));
    assert!(matches!(ev.last(), Some(Event::State(ConnState::Disconnected))));
    assert_eq!(t.core.next_timer(), None, "no reconnect");
    t.wait(Duration::from_secs(60));
    assert_eq!(t.io, [format!("connect tls pi:6697 pin Some({FP_A:?})")]);
    // Caught by the core itself when the connection reports it (defence in depth).
    let mut t = T::with_core(Core::new());
    t.cmd(Command::Connect(tls_settings(Some(FP_A))));
    let a = t.core.on_connected_tls(FP_B, t.now());
    t.take(a);
    assert!(t.sent().is_empty(), "nothing is sent to an impostor");
    assert_eq!(t.io.last().map(String::as_str), Some("close"));
    let ev = t.events();
    assert!(ev.iter().any(says) && !ev.iter().any(|e| matches!(e, Event::Secure { .. })));
    assert_eq!(t.core.next_timer(), None);
}

#[test]
fn plain_settings_connect_without_tls() {
    let mut t = T::start("ann");
    assert_eq!(t.io, ["connect 127.0.0.1:6667"]);
    assert!(!t.events().iter().any(|e| matches!(e, Event::Secure { .. } | Event::Pinned { .. })));
}

/// Registered, then the server goes away: the delay the core announces.
fn delay_after_loss(seed: u64) -> Duration {
    let mut t = T::start_with(Core::with_seed(seed), "cli");
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    t.events();
    t.lost("the server closed the connection");
    match t.events().last() {
        Some(Event::State(ConnState::Reconnecting { attempt: 1, delay })) => *delay,
        other => panic!("{other:?}"),
    }
}

#[test]
fn reconnects_are_spread_by_a_seeded_jitter() {
    // The same seed, the same delay: the core draws nothing of its own.
    assert_eq!(delay_after_loss(7), delay_after_loss(7));
    // 200 clients that lost the same server at once come back over 0.5-2 s.
    let delays: Vec<Duration> = (0..200).map(delay_after_loss).collect();
    let (first, last) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    assert!(*first >= Duration::from_millis(500) && *last < Duration::from_secs(2), "{first:?} {last:?}");
    assert!(*last - *first > Duration::from_secs(1), "bunched: {first:?} to {last:?}");
    // The retry is due exactly then, not before.
    let mut t = T::start_with(Core::with_seed(3), "cli");
    t.lost("Connection refused");
    let delay = delay_after_loss(3);
    t.io.clear();
    t.wait(delay - Duration::from_millis(1));
    assert!(t.io.is_empty(), "{:?}", t.io);
    t.wait(Duration::from_millis(1));
    assert_eq!(t.io, ["connect 127.0.0.1:6667"]);
}

#[test]
fn the_backoff_window_doubles_up_to_its_cap() {
    let mut rng = SplitMix64(1);
    for (attempt, lo, hi) in [(1, 500, 2000), (2, 1000, 4000), (3, 2000, 8000), (4, 4000, 16000), (5, 7500, 30000)] {
        let drawn: Vec<u128> = (0..1000).map(|_| backoff(attempt, &mut rng).as_millis()).collect();
        assert!(drawn.iter().all(|d| (lo..hi).contains(d)), "attempt {attempt}: {drawn:?}");
        // Spread over the window, not bunched at one end.
        let (min, max) = (drawn.iter().min().unwrap(), drawn.iter().max().unwrap());
        assert!(max - min > (hi - lo) * 9 / 10, "attempt {attempt}: {min}..{max}");
    }
    for attempt in [6, 40, u32::MAX] {
        assert!((7500..30000).contains(&backoff(attempt, &mut rng).as_millis()));
    }
}

/// System lines of a conversation, in order.
fn system_lines(events: &[Event], target: &str) -> Vec<String> {
    let lines = events.iter().filter_map(|e| match e {
        Event::System { target: Some(t), text, .. } if t.eq_ignore_ascii_case(target) => Some(text.clone()),
        _ => None,
    });
    lines.collect()
}

#[test]
fn kicks_modes_and_invites_are_said_in_words_and_kept_in_the_user_list() {
    // As lanchat sends them (0.1.0 with moderation).
    let mut t = T::start("ann");
    t.server(&lanchat_welcome("ann"));
    t.sent();
    t.server(
        ":lanchat 005 ann CHANMODES=be,k,l,dimnst PREFIX=(ov)@+ :are supported by this server
        :ann!ann@127.0.0.1 JOIN #lobby
        :lanchat 353 ann = #lobby :@ann bob carl
        :lanchat 366 ann #lobby :End of /NAMES list
        :ann!ann@127.0.0.1 MODE #lobby +vmb-t bob carl!*@* 
        :ann!ann@127.0.0.1 MODE #lobby +kl secret 10
        :ann!ann@127.0.0.1 MODE #lobby +o bob",
    );
    assert_eq!(t.users("#lobby"), ["@ann", "@+bob", "carl"]);
    t.server(
        ":bob!bob@127.0.0.1 MODE #lobby -v+x bob
        :bob!bob@127.0.0.1 KICK #lobby carl :be nice
        :lanchat MODE #lobby +o bob
        :bob!bob@127.0.0.1 INVITE dora #lobby
        :bob!bob@127.0.0.1 INVITE ann #side",
    );
    assert_eq!(t.users("#lobby"), ["@ann", "@bob"]);
    let events = t.events();
    assert_eq!(
        system_lines(&events, "#lobby")[1..],
        [
            "ann gave voice to bob, made the channel moderated (only voiced users and operators speak), banned carl!*@*, let everyone set the topic",
            "ann set the channel key, limited the channel to 10 users",
            "ann gave operator status to bob",
            "bob took voice from bob, set mode +x",
            "bob kicked carl from #lobby (be nice)",
            "lanchat gave operator status to bob",
            "bob invited dora",
        ]
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::System { target: None, text, .. } if text == "bob invites you to #side (/join #side)")
    ));
    // Kicked ourselves: out of the channel, and not rejoined after a reconnect.
    t.server(":bob!bob@127.0.0.1 KICK #lobby ann");
    assert!(t.users("#lobby").is_empty());
    assert_eq!(system_lines(&t.events(), "#lobby"), ["bob kicked you from #lobby"]);
    t.cmd(Command::Raw("MODE #lobby +b x".into()));
    assert_eq!(t.sent().last().map(String::as_str), Some("MODE #lobby +b x"));
    t.events();
    t.lost("reset");
    t.wait(Duration::from_secs(60));
    t.connected();
    t.server(&lanchat_welcome("ann"));
    assert!(!t.sent().iter().any(|l| l.starts_with("JOIN")), "rejoined a channel we were kicked from");
}

#[test]
fn standard_replies_are_shown() {
    let mut t = T::start("ann");
    t.server(&lanchat_welcome("ann"));
    t.events();
    t.server(":lanchat FAIL PRIVMSG INVALID_UTF8 :Input is not valid UTF-8; it was dropped");
    let shown = t.events().into_iter().any(|e| {
        matches!(e, Event::System { target: None, text, .. } if text == "PRIVMSG: Input is not valid UTF-8; it was dropped")
    });
    assert!(shown);
}

#[test]
fn channels_away_typing_and_presence() {
    let mut t = T::start("ann");
    t.server(&lanchat_welcome("ann"));
    t.sent();
    t.cmd(Command::Join("#side".into()));
    t.server(
        ":ann!x@h JOIN #side\n:lanchat 332 ann #side :pizza friday\n:lanchat 352 ann #side x h lanchat bob G :0 Bob",
    );
    assert_eq!(t.sent(), ["JOIN #side", "WHO #side"]);
    let ev = t.events();
    assert!(ev.iter().any(|e| matches!(e, Event::Joined(c) if c == "#side")), "{ev:?}");
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Topic { channel, topic } if channel == "#side" && topic == "pizza friday"))
    );
    assert!(ev.iter().any(|e| matches!(e, Event::Away { nick, message: Some(m) } if nick == "bob" && m.is_empty())));

    t.cmd(Command::List);
    t.server(":lanchat 321 ann Channel :Users  Name\n:lanchat 322 ann #lobby 3 :\n:lanchat 322 ann #side 2 :pizza friday\n:lanchat 323 ann :End of /LIST");
    assert_eq!(t.sent(), ["LIST"]);
    let lists: Vec<Vec<ChannelInfo>> =
        t.events().into_iter().filter_map(|e| if let Event::ChannelList(l) = e { Some(l) } else { None }).collect();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0][1], ChannelInfo { name: "#side".into(), users: 2, topic: "pizza friday".into() });

    t.cmd(Command::Away(Some("lunch".into())));
    t.cmd(Command::Typing { target: "#side".into(), state: crate::client::TypingState::Active });
    t.cmd(Command::Topic { channel: "#side".into(), text: "tacos".into() });
    t.cmd(Command::Away(None));
    assert_eq!(t.sent(), ["AWAY :lunch", "@+typing=active TAGMSG #side", "TOPIC #side :tacos", "AWAY"]);

    t.server(
        ":bob!x@h AWAY :gone\n:bob!x@h AWAY\n@+typing=active :bob!x@h TAGMSG ann\n@+typing=done :ann!x@h TAGMSG #side",
    );
    t.server(":bob!x@h QUIT :bye\n:bob!x@h JOIN #side");
    let ev = t.events();
    let away: Vec<Option<&str>> = ev
        .iter()
        .filter_map(|e| if let Event::Away { message, .. } = e { Some(message.as_deref()) } else { None })
        .collect();
    assert_eq!(away, [Some("gone"), None]);
    let typing: Vec<_> = ev.iter().filter(|e| matches!(e, Event::Typing { .. })).collect();
    assert!(
        matches!(typing[..], [Event::Typing { target, from, .. }] if target == "bob" && from == "bob"),
        "a private notice is named for its sender, our own echo is skipped: {typing:?}"
    );
    let presence: Vec<bool> =
        ev.iter().filter_map(|e| if let Event::Presence { online, .. } = e { Some(*online) } else { None }).collect();
    assert_eq!(presence, [false, true]);

    t.cmd(Command::Part("#side".into()));
    t.server(":ann!x@h PART #side");
    assert!(t.events().iter().any(|e| matches!(e, Event::Parted(c) if c == "#side")));
}

#[test]
fn monitor_watches_private_peers_when_the_server_has_it() {
    let mut t = T::start("ann");
    t.cmd(Command::Watch("bob".into()));
    t.server(&lanchat_welcome("ann"));
    assert!(!t.sent().iter().any(|l| l.starts_with("MONITOR")), "lanchat 0.1.0 has no MONITOR");
    t.server(":srv 005 ann MONITOR=100 :are supported by this server");
    assert!(t.sent().contains(&"MONITOR + bob".to_string()), "asked once the server says it has it");
    t.cmd(Command::Watch("carl".into()));
    t.cmd(Command::Watch("Carl".into()));
    assert_eq!(t.sent(), ["MONITOR + carl"]);
    t.events();
    t.server(":srv 731 ann :bob\n:srv 730 ann :bob!b@h,carl!c@h");
    let presence: Vec<(String, bool)> = t
        .events()
        .into_iter()
        .filter_map(|e| if let Event::Presence { nick, online } = e { Some((nick, online)) } else { None })
        .collect();
    assert_eq!(presence, [("bob".into(), false), ("bob".into(), true), ("carl".into(), true)]);
    // After a reconnect, the watch list is asked for again.
    t.lost("test");
    t.wait(Duration::from_secs(60));
    t.connected();
    t.sent();
    t.server(&format!("{}\n:srv 005 ann MONITOR :are supported", lanchat_welcome("ann")));
    assert!(t.sent().contains(&"MONITOR + bob,carl".to_string()));
}

#[test]
fn canvas_snapshot_pieces_undo_and_sync() {
    let mut t = T::start("ann");
    // A sync asked before registration is sent after the JOIN.
    t.cmd(Command::Sync);
    t.server(&lanchat_welcome("ann"));
    let sent = t.sent();
    let join = sent.iter().position(|l| l == "JOIN #lobby").unwrap();
    let ping = sent.iter().position(|l| l == "PING :lanchat-sync").unwrap();
    assert!(join < ping, "{sent:?}");
    t.events();
    let mut pic = crate::canvas::raster::Raster::blank();
    pic.px[0] = 0;
    let png = crate::canvas::png::encode(&pic);
    let b64 = crate::canvas::snapshot::base64(&png);
    let (a, b) = b64.split_at(10);
    t.server(&format!(
        "@+lanchat/snapshot=1/2,{a} :lanchat TAGMSG #lobby\n@+lanchat/snapshot=2/2,{b} :lanchat TAGMSG #lobby"
    ));
    t.server("@+lanchat/undo=7,3 :bob!x@h TAGMSG #lobby\n:lanchat PONG lanchat :lanchat-sync");
    let ev = t.events();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Snapshot { channel, raster } if channel == "#lobby" && *raster == pic))
    );
    assert!(ev.iter().any(|e| matches!(e, Event::Undo { id: 7, count: Some(3), by, .. } if by == "bob")));
    assert!(matches!(ev.last(), Some(Event::Synced)), "{ev:?}");
    // A snapshot from a member, not the server, is ignored whole.
    let one = crate::canvas::snapshot::base64(&crate::canvas::png::encode(&crate::canvas::raster::Raster::blank()));
    t.server(&format!("@+lanchat/snapshot=1/1,{one} :mallory!m@h TAGMSG #lobby"));
    assert!(t.events().is_empty());
    // Pieces out of order are said, not shown.
    t.server("@+lanchat/snapshot=2/2,AAAA :lanchat TAGMSG #lobby");
    assert!(t.events().iter().any(|e| matches!(e, Event::System { text, .. } if text.contains("snapshot"))));
    t.cmd(Command::Undo { channel: "#lobby".into(), id: 9 });
    assert_eq!(t.sent(), ["@+lanchat/undo=9 TAGMSG #lobby"]);
}

#[test]
fn a_file_is_uploaded_with_the_connections_token_and_its_link_posted() {
    let mut t = T::start("cli");
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    // No lanchat/FILES in ISUPPORT: the server takes no files.
    t.cmd(Command::SendFile { target: "#lobby".into(), path: "/tmp/a.png".into() });
    let failed = |e: &Event| matches!(e, Event::Transfer { state: TransferState::Failed(_), .. });
    assert!(t.events().iter().any(failed));
    t.server(":lanchat 005 cli lanchat/FILES=1000 :are supported by this server");
    assert!(t.events().iter().any(|e| matches!(e, Event::Files(Some(1000)))));
    t.sent();
    t.cmd(Command::SendFile { target: "#lobby".into(), path: "/tmp/a.png".into() });
    t.cmd(Command::SendFile { target: "bob".into(), path: "/tmp/b.txt".into() });
    // One UPLOAD for both.
    assert_eq!(t.sent(), ["UPLOAD"]);
    t.server(":lanchat UPLOAD http://127.0.0.1:8080/upload 00112233445566778899aabbccddeeff");
    let tok = "00112233445566778899aabbccddeeff";
    assert_eq!(
        t.io[t.io.len() - 2..],
        [
            format!("upload 2 http://127.0.0.1:8080/upload {tok} /tmp/a.png #lobby 1000"),
            format!("upload 3 http://127.0.0.1:8080/upload {tok} /tmp/b.txt bob 1000"),
        ]
    );
    // The token is kept for the connection.
    t.cmd(Command::SendFile { target: "#lobby".into(), path: "/tmp/c".into() });
    assert!(t.sent().is_empty() && t.io.last().unwrap().starts_with("upload 4 "));
    let link = "http://127.0.0.1:8080/f/0123456789abcdef0123456789abcdef/a.png";
    let a = t.core.on_uploaded("#lobby".into(), link.into(), t.now());
    t.take(a);
    assert_eq!(t.sent(), [format!("PRIVMSG #lobby :{link}")]);
    // A refusal fails what waits; a lost connection too.
    t.lost("gone");
    t.wait(Duration::from_secs(2));
    t.connected();
    t.server(LANCHAT_LS);
    t.server(&lanchat_welcome("cli"));
    t.server(":lanchat 005 cli lanchat/FILES=1000 :are supported by this server");
    t.events();
    t.cmd(Command::SendFile { target: "#lobby".into(), path: "/tmp/d".into() });
    assert!(t.sent().contains(&"UPLOAD".to_string()));
    t.server(":lanchat FAIL UPLOAD DISABLED :File sharing is turned off on this server");
    let why = t.events().into_iter().find_map(|e| match e {
        Event::Transfer { id: 5, state: TransferState::Failed(why), .. } => Some(why),
        _ => None,
    });
    assert_eq!(why.as_deref(), Some("File sharing is turned off on this server"));
}
