//! The client connection (the code under the GUI) against real servers:
//! lanchat's own, and InspIRCd from Debian, started by hand on loopback.

mod common;

use std::sync::mpsc;
use std::time::Instant;

use common::{DEADLINE, Inspircd, Server};
use lanchat::canvas::Stroke;
use lanchat::client::{self, ConnState, Event, Settings};

/// One client connection and the events it reports.
struct Peer {
    handle: client::Handle,
    events: mpsc::Receiver<Event>,
}

impl Peer {
    fn connect(server: &str, nick: &str) -> Peer {
        let (tx, events) = mpsc::channel();
        let handle = client::spawn(move |ev| {
            let _ = tx.send(ev);
        });
        handle.send(client::Command::Connect(Settings {
            server: server.into(),
            nick: nick.into(),
            channel: "#lobby".into(),
            password: None,
            tls: false,
            pin: None,
        }));
        Peer { handle, events }
    }

    fn expect(&self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let end = Instant::now() + DEADLINE;
        loop {
            match self.events.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(ev) if pred(&ev) => return ev,
                Ok(_) => {}
                Err(_) => panic!("no event: {what}"),
            }
        }
    }

    fn expect_users(&self, want: &[&str]) {
        self.expect(&format!("users {want:?}"), |ev| match ev {
            Event::Users { nicks, .. } => {
                let mut n: Vec<&str> = nicks.iter().map(|n| n.trim_start_matches('@')).collect();
                n.sort_unstable();
                n == want
            }
            _ => false,
        });
    }
}

fn stroke(id: u32) -> Stroke {
    let mut points = heapless::Vec::new();
    for i in 0..10u16 {
        points.push((100 + i * 10, 200 + i * 5)).unwrap();
    }
    Stroke { id, color: 0x3366ff, width: 4, points }
}

/// Chat, private messages, presence and the canvas between two clients.
fn scenario(server: &str) {
    let ann = Peer::connect(server, "ann");
    ann.expect("connected", |ev| matches!(ev, Event::State(ConnState::Connected)));
    ann.expect_users(&["ann"]);
    let ben = Peer::connect(server, "ben");
    ben.expect_users(&["ann", "ben"]);
    ann.expect_users(&["ann", "ben"]);

    ann.handle.send(client::Command::Say { target: "#lobby".into(), text: "hello ben :)".into() });
    ben.expect("channel message", |ev| {
        matches!(ev, Event::Message { target, from, text, history: false, .. }
            if target == "#lobby" && from == "ann" && text == "hello ben :)")
    });
    ben.handle.send(client::Command::Say { target: "ann".into(), text: "psst".into() });
    ann.expect("private message", |ev| {
        matches!(ev, Event::Message { target, from, text, .. } if target == "ben" && from == "ben" && text == "psst")
    });

    ann.handle.send(client::Command::Stroke { channel: "#lobby".into(), stroke: stroke(7) });
    let got = ben.expect("stroke", |ev| matches!(ev, Event::Stroke { .. }));
    match got {
        Event::Stroke { channel, from, stroke: s } => {
            assert_eq!((channel.as_str(), from.as_str()), ("#lobby", "ann"));
            assert_eq!(s, stroke(7));
        }
        _ => unreachable!(),
    }
    // Undo (lanchat adds how many segments went) and clear, by the operator.
    ann.handle.send(client::Command::Undo { channel: "#lobby".into(), id: 7 });
    ben.expect("undo", |ev| matches!(ev, Event::Undo { by, id: 7, .. } if by == "ann"));
    ann.handle.send(client::Command::Clear { channel: "#lobby".into() });
    ben.expect("clear", |ev| matches!(ev, Event::CanvasCleared { by, .. } if by == "ann"));

    // A taken nick is not a dead end.
    let other = Peer::connect(server, "ann");
    other.expect(
        "nick taken",
        |ev| matches!(ev, Event::NickTaken { wanted, suggestion } if wanted == "ann" && suggestion == "ann_"),
    );
    other.expect("registered as the suggestion", |ev| matches!(ev, Event::Nick(n) if n == "ann_"));
    ann.expect_users(&["ann", "ann_", "ben"]);
    ben.handle.send(client::Command::Nick("benjamin".into()));
    ann.expect_users(&["ann", "ann_", "benjamin"]);
    ben.handle.send(client::Command::Quit);
    ann.expect_users(&["ann", "ann_"]);
}

#[test]
fn against_lanchat() {
    let s = Server::start(&[]);
    scenario(&s.addr());
}

#[test]
fn against_inspircd() {
    let ircd = Inspircd::start();
    scenario(&format!("127.0.0.1:{}", ircd.port));
}
