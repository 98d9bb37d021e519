//! The server embedded in a test process: `server::run` on a listener the
//! test bound, stopped by a shutdown future, with real TCP clients.

mod common;

use std::net::TcpListener;

use common::{Client, temp_dir};
use lanchat::server::{self, Config};

#[test]
fn an_embedded_server_serves_then_shuts_down_and_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let dir = temp_dir("embedded");
    let config = Config { data_dir: dir.clone(), discovery_port: None, threads: 2, ..Config::default() };
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let server = std::thread::spawn(move || {
        server::run(listener, config, async move {
            let _ = stopped.recv().await;
        })
    });
    let mut a = Client::register(&addr, "ann");
    let mut b = Client::register(&addr, "ben");
    a.send("JOIN #room");
    a.expect_has(" 366 ");
    b.send("JOIN #room");
    b.expect_has(" 366 ");
    a.send("PRIVMSG #room :hello from inside the test");
    b.expect_has("PRIVMSG #room :hello from inside the test");
    drop(stop);
    // Every client is told, and run returns.
    let closing = a.expect_closed();
    assert!(closing.iter().any(|l| l.starts_with("ERROR ") && l.contains("Server shutting down")), "{closing:?}");
    b.expect_closed();
    server.join().unwrap().unwrap();
    assert!(std::net::TcpStream::connect(&addr).is_err(), "still listening after run returned");
    // A second server on the same data directory has the history.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = Config { data_dir: dir, discovery_port: None, ..Config::default() };
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let server = std::thread::spawn(move || {
        server::run(listener, config, async move {
            let _ = stopped.recv().await;
        })
    });
    let mut c = Client::register(&addr, "cy");
    c.send("JOIN #room");
    c.expect_has("hello from inside the test");
    drop(stop);
    server.join().unwrap().unwrap();
}
