//! The server embedded in a test process: `server::run` on a listener the
//! test bound, stopped by a shutdown future, with real TCP clients.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;

use common::{Client, temp_dir};
use lanchat::server::{self, Config};

/// A server running on a thread of this process.
struct Embedded {
    addr: String,
    /// Dropping it is the shutdown.
    shutdown: async_channel::Sender<()>,
    thread: JoinHandle<Result<(), String>>,
}

impl Embedded {
    fn start(dir: &Path, threads: usize) -> Embedded {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let config = Config { data_dir: dir.to_path_buf(), discovery_port: None, threads, ..Config::default() };
        let (shutdown, stopped) = async_channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            server::run(listener, config, async move {
                let _ = stopped.recv().await;
            })
        });
        Embedded { addr, shutdown, thread }
    }

    /// Shuts the server down; `run` must return without an error.
    fn stop(self) {
        drop(self.shutdown);
        self.thread.join().unwrap().unwrap();
    }
}

#[test]
fn an_embedded_server_serves_then_shuts_down_and_returns() {
    let dir = temp_dir("embedded");
    let s = Embedded::start(&dir, 2);
    let addr = s.addr.clone();
    let mut a = Client::register(&addr, "ann");
    let mut b = Client::register(&addr, "ben");
    a.send("JOIN #room");
    a.expect_has(" 366 ");
    b.send("JOIN #room");
    b.expect_has(" 366 ");
    a.send("PRIVMSG #room :hello from inside the test");
    b.expect_has("PRIVMSG #room :hello from inside the test");
    drop(s.shutdown);
    // Every client is told, and run returns.
    let closing = a.expect_closed();
    assert!(closing.iter().any(|l| l.starts_with("ERROR ") && l.contains("Server shutting down")), "{closing:?}");
    b.expect_closed();
    s.thread.join().unwrap().unwrap();
    assert!(std::net::TcpStream::connect(&addr).is_err(), "still listening after run returned");
    // A second server on the same data directory has the history.
    let s = Embedded::start(&dir, 1);
    let mut c = Client::register(&s.addr, "cy");
    c.send("JOIN #room");
    c.expect_has("hello from inside the test");
    s.stop();
}
