//! LAN discovery against real servers. Every query goes to 127.0.0.1: nothing
//! here broadcasts or leaves loopback.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use common::{Client, Server};
use lanchat::discovery;

fn discover_cli(targets: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(["--client", "--discover", "--discover-addr", targets])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn two_servers_on_loopback_are_both_found() {
    let a = Server::start(&["--name", "kitchen-pi"]);
    let b = Server::start(&["--name", "lab-pi"]);
    let _user = Client::register(&b.addr(), "someone");
    let targets = format!("{},{}", a.discovery_addr().unwrap(), b.discovery_addr().unwrap());
    let out = discover_cli(&targets);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with(&format!("kitchen-pi\t127.0.0.1:{}\tversion ", a.port)), "{out}");
    assert!(lines[0].ends_with("\t0 users"), "{out}");
    assert!(lines[1].starts_with(&format!("lab-pi\t127.0.0.1:{}\t", b.port)), "{out}");
    assert!(lines[1].ends_with("\t1 user"), "{out}");
}

#[test]
fn a_server_with_no_discovery_is_not_found() {
    // A free UDP port, then a server told to use it but not to answer.
    let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Server::start(&["--discovery-port", &port.to_string(), "--no-discovery"]);
    assert_eq!(s.discovery_addr(), None);
    let out = discover_cli(&format!("127.0.0.1:{port}"));
    assert_eq!(out.trim(), "no servers answered");
}

#[test]
fn garbage_and_short_queries_get_no_answer_and_the_server_keeps_serving() {
    let s = Server::start(&[]);
    let target = s.discovery_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(common::DEADLINE)).unwrap();
    // Junk, an oversized datagram, and a valid query too short to answer without amplifying.
    sock.send_to(&[0xff; 200], &target).unwrap();
    sock.send_to(&vec![b'A'; 4000], &target).unwrap();
    sock.send_to(b"LANCHAT-DISCOVER/1 0000000000000001", &target).unwrap();
    // Then a real query: its answer must be the first datagram back.
    sock.send_to(&discovery::query(2), &target).unwrap();
    let mut buf = [0u8; 1024];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    let found = discovery::parse_reply(&buf[..n], 2, from).expect("the first answer is to the real query");
    assert_eq!(found.addr.port(), s.port);
    assert!(n <= discovery::QUERY_LEN);
    let _c = Client::register(&s.addr(), "still-served");
}

#[test]
fn the_library_query_finds_a_server() {
    let s = Server::start(&["--name", "pi"]);
    let found = discovery::discover(&[s.discovery_addr().unwrap()], Duration::from_secs(1)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "pi");
    assert_eq!(found[0].addr.to_string(), s.addr());
}
