//! Shared files end to end: the real server, real IRC connections for the
//! token, real HTTP uploads and downloads on loopback, the line-mode client's
//! `/send`, and the limits (size, budget, rate, stall, kill -9, a full disk).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use common::{Client, DEADLINE, Server, Tmpfs, fill, http, http_bytes, joined, temp_dir, wait_for, web_addr};

/// The upload address and token of a registered connection.
fn token(c: &mut Client) -> (String, String) {
    c.send("UPLOAD");
    let line = c.expect(|l| l.contains(" UPLOAD "));
    let mut parts = line.rsplit(' ');
    let (tok, url) = (parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
    assert_eq!(tok.len(), 32, "{line}");
    (url, tok)
}

/// POSTs `body` as `name` with `token`; the status and the answer's body.
fn upload(web: &str, token: &str, name: &str, body: &[u8]) -> (String, String) {
    let mut req = format!(
        "POST /upload?name={name} HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    split(&http(web, &req))
}

fn split(answer: &str) -> (String, String) {
    let status = answer.split(' ').nth(1).unwrap_or("").to_string();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b).trim().to_string();
    (status, body)
}

/// GET of a link's path: the head and the bytes.
fn download(web: &str, link: &str) -> (String, Vec<u8>) {
    let path = &link[link.find("/f/").expect(link)..];
    let answer = http_bytes(web, format!("GET {path} HTTP/1.1\r\nHost: {web}\r\n\r\n").as_bytes());
    let at = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("no answer head");
    (String::from_utf8_lossy(&answer[..at]).into_owned(), answer[at + 4..].to_vec())
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum (coreutils)");
    String::from_utf8_lossy(&out.stdout).split(' ').next().unwrap().to_string()
}

fn random_file(dir: &Path, name: &str, len: usize) -> std::path::PathBuf {
    let mut data = vec![0u8; len];
    let mut x = 0x2545_f491_4f6c_dd1du64 ^ len as u64;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// The line-mode client, fed `input`, to its end; what it printed and whether it succeeded.
fn line_client(addr: &str, nick: &str, channel: &str, input: &str) -> (String, bool) {
    let args = ["--server", addr, "--nick", nick, "--channel", channel];
    let (ok, out, err) = common::line_client(&args, &temp_dir("config"), input);
    (out + &err, ok)
}

#[test]
fn a_file_sent_with_slash_send_reaches_the_room_byte_for_byte() {
    let s = Server::start(&[]);
    let (addr, web) = (s.addr(), web_addr(&s));
    let mut watcher = joined(&addr, "watcher", "#room");
    let dir = temp_dir("send");
    let file = random_file(&dir, "report 2026.bin", 3 << 20);
    let (out, ok) = line_client(&addr, "ann", "#room", &format!("/send {}\n", file.display()));
    assert!(ok, "{out}");
    assert!(out.contains("-!- sent report 2026.bin (3.0 MiB): http://127.0.0.1:"), "{out}");
    // The link arrives as an ordinary message: any IRC client shows it.
    let line = watcher.expect(|l| l.contains("PRIVMSG #room :http://"));
    let link = line.rsplit(" :").next().unwrap().to_string();
    let parsed = lanchat::files::link(&link).unwrap_or_else(|| panic!("not a file link: {link}"));
    assert_eq!(parsed.name, "report 2026.bin");
    assert!(link.starts_with(&format!("http://{web}/f/")), "{link} on {web}");
    let (head, body) = download(&web, &link);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: application/octet-stream"), "{head}");
    assert!(head.contains("Content-Disposition: attachment; filename=\"report_2026.bin\""), "{head}");
    assert!(head.contains("X-Content-Type-Options: nosniff"), "{head}");
    let copy = dir.join("copy");
    std::fs::write(&copy, body).unwrap();
    assert_eq!(sha256(&copy), sha256(&file));
    // And with our own HTTP client, as the desktop client downloads.
    let saved = dir.join("saved");
    let n = lanchat::client::http::download(&link, &saved, &mut |_, _| {}).unwrap();
    assert_eq!((n, sha256(&saved)), (3 << 20, sha256(&file)));
    assert_eq!(lanchat::client::http::head(&link).unwrap(), 3 << 20);
}

#[test]
fn pictures_are_served_inline_and_nothing_else_is() {
    let s = Server::start(&[]);
    let web = web_addr(&s);
    let mut c = joined(&s.addr(), "ann", "#room");
    let (url, tok) = token(&mut c);
    assert_eq!(url, format!("http://{web}/upload"));
    let png = lanchat::canvas::png::encode(&lanchat::canvas::raster::Raster::new(8, 8));
    let (status, link) = upload(&web, &tok, "pic.png", &png);
    assert_eq!(status, "201", "{link}");
    let (head, body) = download(&web, &link);
    assert!(head.contains("Content-Type: image/png") && head.contains("inline"), "{head}");
    assert!(head.contains("Content-Security-Policy: default-src 'none'; sandbox"), "{head}");
    assert_eq!(body, png);
    // A page named .png is still not a picture: never served as HTML, nor inline.
    let (status, link) = upload(&web, &tok, "evil.png", b"<html><script>alert(1)</script>");
    assert_eq!(status, "201", "{link}");
    let (head, _) = download(&web, &link);
    assert!(head.contains("application/octet-stream") && head.contains("attachment"), "{head}");
    // Names are made safe.
    let (status, link) = upload(&web, &tok, "..%2F..%2Fetc%2Fpasswd", b"x");
    assert_eq!(status, "201");
    assert!(link.ends_with("/passwd"), "{link}");
    let (status, text) = upload(&web, &tok, "..%2F", b"x");
    assert_eq!(status, "400", "{text}");
    // An unknown file.
    let (head, _) = download(&web, &format!("http://{web}/f/{}/x", "0".repeat(32)));
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn only_a_live_registered_connection_can_upload() {
    let s = Server::start(&[]);
    let web = web_addr(&s);
    let (status, text) = upload(&web, "", "a.txt", b"hello");
    assert_eq!(status, "401", "{text}");
    assert!(text.contains("Only people in the chat"), "{text}");
    let mut early = Client::connect(&s.addr());
    early.send("UPLOAD");
    early.expect(|l| l.contains(" 451 "));
    let mut c = joined(&s.addr(), "ann", "#room");
    let (_, tok) = token(&mut c);
    assert_eq!(token(&mut c).1, tok, "one token for the connection's life");
    assert_eq!(upload(&web, &tok, "a.txt", b"hello").0, "201");
    // Another page's script may not upload with it.
    let req = format!(
        "POST /upload?name=a.txt HTTP/1.1\r\nHost: {web}\r\nOrigin: http://evil.example\r\n\
         Authorization: Bearer {tok}\r\nContent-Length: 1\r\n\r\nx"
    );
    assert_eq!(split(&http(&web, req.as_bytes())).0, "403");
    c.send("QUIT");
    c.expect_closed();
    let (status, text) = upload(&web, &tok, "a.txt", b"hello");
    assert_eq!(status, "401", "a token dies with its connection: {text}");
}

#[test]
fn sizes_lengths_and_rates_are_bounded_with_a_reason() {
    let s = Server::start(&["--file-max", "1000"]);
    let web = web_addr(&s);
    let mut c = Client::connect(&s.addr());
    c.send("NICK ann");
    c.send("USER ann 0 * :Ann");
    c.expect(|l| l.contains(" 005 ") && l.contains("lanchat/FILES=1000"));
    let (_, tok) = token(&mut c);
    // Over the size: refused before the body, and the answer arrives though the body is sent.
    let (status, text) = upload(&web, &tok, "big.bin", &vec![7u8; 200_000]);
    assert_eq!(status, "413", "{text}");
    assert!(text.contains("this server takes files up to 1000 B"), "{text}");
    let req = format!("POST /upload?name=a HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {tok}\r\n\r\n");
    assert_eq!(split(&http(&web, req.as_bytes())).0, "411");
    assert_eq!(split(&http(&web, b"GET /upload HTTP/1.1\r\n\r\n")).0, "405");
    // Five at once, then one every six seconds.
    for i in 0..5 {
        assert_eq!(upload(&web, &tok, "a", b"x").0, "201", "upload {i}");
    }
    let answer = {
        let body = b"x";
        let req = format!(
            "POST /upload?name=a HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {tok}\r\nContent-Length: 1\r\n\r\n"
        );
        http(&web, &[req.as_bytes(), body].concat())
    };
    assert_eq!(split(&answer).0, "429", "{answer}");
    assert!(answer.contains("Retry-After: "), "{answer}");
    // Expect: 100-continue is answered before the body is sent.
    let mut c2 = joined(&s.addr(), "bob", "#room");
    let (_, tok2) = token(&mut c2);
    let mut sock = TcpStream::connect(&web).unwrap();
    sock.set_read_timeout(Some(DEADLINE)).unwrap();
    let head = format!(
        "POST /upload?name=b HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {tok2}\r\nContent-Length: 3\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).unwrap();
    let mut got = [0u8; 25];
    sock.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HTTP/1.1 100 Continue\r\n\r\n");
    sock.write_all(b"abc").unwrap();
    let mut rest = String::new();
    sock.read_to_string(&mut rest).unwrap();
    assert!(rest.starts_with("HTTP/1.1 201"), "{rest}");
}

#[test]
fn no_files_says_so_everywhere() {
    let s = Server::start(&["--no-files"]);
    let web = web_addr(&s);
    let mut c = joined(&s.addr(), "ann", "#room");
    c.send("UPLOAD");
    c.expect_has("FAIL UPLOAD DISABLED :File sharing is turned off on this server");
    let (status, _) = upload(&web, "00112233445566778899aabbccddeeff", "a", b"x");
    assert_eq!(status, "503");
    let (out, ok) = line_client(&s.addr(), "bob", "#room", "/send /etc/hostname\n");
    assert!(!ok && out.contains("could not send hostname: this server does not take files"), "{out}");
}

#[test]
fn a_stalled_upload_is_ended_and_leaves_nothing() {
    let s = Server::start(&["--file-timeout", "1"]);
    let web = web_addr(&s);
    let mut c = joined(&s.addr(), "ann", "#room");
    let (_, tok) = token(&mut c);
    let mut sock = TcpStream::connect(&web).unwrap();
    sock.set_read_timeout(Some(DEADLINE)).unwrap();
    let head = format!(
        "POST /upload?name=slow HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).unwrap();
    sock.write_all(b"only ten b").unwrap();
    let mut answer = String::new();
    sock.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("The upload stalled"), "{answer}");
    let files = s.data_dir.join("files");
    assert_eq!(std::fs::read_dir(files.join(".tmp")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(&files).unwrap().count(), 1, "only .tmp");
    // The connection may upload again at once.
    assert_eq!(upload(&web, &tok, "a", b"x").0, "201");
    // A trickle that never stalls is ended too (20,000 bytes at 16 KiB/s
    // after the 1 s of grace: 2 s; this sends 10 bytes every 300 ms).
    let mut sock = TcpStream::connect(&web).unwrap();
    sock.set_read_timeout(Some(DEADLINE)).unwrap();
    let head = format!(
        "POST /upload?name=slow HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {tok}\r\nContent-Length: 20000\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).unwrap();
    let started = std::time::Instant::now();
    let mut answer = String::new();
    while sock.write_all(b"0123456789").is_ok() && started.elapsed() < DEADLINE {
        // The client's pace, not a wait for the server: the server's answer ends the loop.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut peek = [0u8; 1];
        sock.set_nonblocking(true).unwrap();
        let ready = matches!(sock.peek(&mut peek), Ok(n) if n > 0);
        sock.set_nonblocking(false).unwrap();
        if ready {
            break;
        }
    }
    sock.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("too slow"), "{answer}");
    assert_eq!(std::fs::read_dir(files.join(".tmp")).unwrap().count(), 0);
}

#[test]
fn files_survive_a_restart_and_a_kill_mid_upload_leaves_no_half_file() {
    let mut s = Server::start(&[]);
    let web = web_addr(&s);
    let mut c = joined(&s.addr(), "ann", "#room");
    let (_, tok) = token(&mut c);
    let (status, link) = upload(&web, &tok, "kept.txt", b"kept across restarts");
    assert_eq!(status, "201");
    let mut sock = TcpStream::connect(&web).unwrap();
    let head = format!(
        "POST /upload?name=half HTTP/1.1\r\nHost: {web}\r\nAuthorization: Bearer {tok}\r\nContent-Length: 1000000\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).unwrap();
    sock.write_all(&[1u8; 300_000]).unwrap();
    let tmp = s.data_dir.join("files/.tmp");
    let size =
        || std::fs::read_dir(&tmp).ok()?.filter_map(Result::ok).map(|e| e.metadata().map_or(0, |m| m.len())).max();
    wait_for("the half upload on disk", || size().filter(|&n| n >= 300_000));
    s.kill9();
    drop(sock);
    s.restart();
    let web = web_addr(&s);
    let ids: Vec<String> = std::fs::read_dir(s.data_dir.join("files"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".tmp")
        .collect();
    assert_eq!(ids.len(), 1, "only the whole file: {ids:?}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let (head, body) = download(&web, &link);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, b"kept across restarts");
}

#[test]
fn the_oldest_files_make_room_within_the_budget() {
    let s = Server::start(&["--file-max", "1500", "--files-max", "3000"]);
    let web = web_addr(&s);
    let mut c = joined(&s.addr(), "ann", "#room");
    let (_, tok) = token(&mut c);
    let links: Vec<String> = (0..3)
        .map(|i| {
            let (status, link) = upload(&web, &tok, &format!("f{i}"), &[i as u8; 1200]);
            assert_eq!(status, "201", "{link}");
            link
        })
        .collect();
    let status = |link: &str| download(&web, link).0.split(' ').nth(1).unwrap().to_string();
    assert_eq!([status(&links[0]), status(&links[1]), status(&links[2])], ["404", "200", "200"]);
    s.expect_log("to make room");
}

#[test]
#[ignore = "needs root to mount a tmpfs; `make test` runs it"]
fn a_full_disk_refuses_the_upload_and_chat_goes_on() {
    let fs = Tmpfs::mount("1m");
    let s = Server::start_in(&fs.0, &[]);
    let web = web_addr(&s);
    let mut c = joined(&s.addr(), "ann", "#room");
    let mut other = joined(&s.addr(), "bob", "#room");
    let (_, tok) = token(&mut c);
    let filler = fill(&fs.0);
    let (status, text) = upload(&web, &tok, "big.bin", &vec![9u8; 200_000]);
    assert_eq!(status, "507", "{text}");
    assert!(text.contains("disk is full"), "{text}");
    assert_eq!(std::fs::read_dir(fs.0.join("files/.tmp")).unwrap().count(), 0, "no half file");
    c.send("PRIVMSG #room :still here");
    other.expect_has("PRIVMSG #room :still here");
    // Room again: uploads work again.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(upload(&web, &tok, "small", b"x").0, "201");
}

#[test]
fn slash_query_then_send_shares_privately_and_paths_may_be_quoted() {
    let s = Server::start(&[]);
    let addr = s.addr();
    let mut bob = joined(&addr, "bob", "#room");
    let mut carol = joined(&addr, "carol", "#room");
    let dir = temp_dir("query");
    let file = random_file(&dir, "for bob.txt", 1000);
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    let input =
        format!("/query bob\n/send '{}'\n/send {}\n/query #room\nsaid in the room\n", file.display(), empty.display());
    let (out, ok) = line_client(&addr, "ann", "#room", &input);
    assert!(!ok, "an empty file is not sent: {out}");
    assert!(out.contains("could not send empty: empty is empty"), "{out}");
    let line = bob.expect(|l| l.contains("PRIVMSG bob :http://"));
    assert!(line.ends_with("/for%20bob.txt"), "{line}");
    // The room saw the line after /query #room, and no file.
    let room = carol.expect(|l| l.contains("PRIVMSG #room :"));
    assert!(room.ends_with("said in the room"), "{room}");
}
