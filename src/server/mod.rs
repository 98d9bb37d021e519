//! The server: listener, per-connection sessions, shared state, history.
//!
//! Data flows one way: [`session`] reads a socket and parses lines, applies
//! them to the [`state`] under one short lock, and fans the formatted result
//! out to each recipient's [`outbox`], whose writer task drains it to the
//! socket. Channel history goes to the [`history`] journal on the way.

pub mod history;
pub mod outbox;
pub mod session;
pub mod state;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_net::{TcpListener, UdpSocket};
use log::{error, info, warn};

use crate::discovery;

/// Every setting of the server, with the defaults of `lanchat --serve`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub bind: IpAddr,
    /// TCP port (0 picks a free one; the log says which).
    pub port: u16,
    /// Where the history journal lives.
    pub data_dir: PathBuf,
    /// Server name shown to clients.
    pub name: String,
    /// Message of the day file.
    pub motd: Option<PathBuf>,
    /// Password clients must send with PASS.
    pub password: Option<String>,
    /// Most clients connected at once.
    pub max_clients: usize,
    /// Most connections from one IP address.
    pub max_per_ip: usize,
    /// Lines of channel history replayed on JOIN (and kept per channel).
    pub history: usize,
    /// Journal size that triggers a compaction, in bytes.
    pub journal_max: u64,
    /// Canvas strokes kept per channel since its last clear, in bytes.
    pub canvas_max: usize,
    /// Messages per second a client may send on average (0: no limit).
    pub flood_rate: f64,
    /// Messages a client may send in a burst.
    pub flood_burst: f64,
    /// How long a client may stay over the flood limit (delayed) before it is disconnected.
    pub flood_grace: Duration,
    /// Silence after which a client is disconnected; a PING is sent at half of it.
    pub ping_timeout: Duration,
    /// Time a new connection has to register.
    pub register_timeout: Duration,
    /// Bytes that may wait in a client's outgoing queue before it is disconnected.
    pub sendq: usize,
    /// Most channels one client may be in.
    pub max_channels: usize,
    /// UDP port answering LAN discovery queries on the bind address (None: off).
    pub discovery_port: Option<u16>,
    /// Executor threads (0: one per core). One is the default: the work is
    /// mostly system calls under one state lock, and on a 2-core machine a
    /// second thread cost 30% more CPU per message in wake-ups (docs/PERFORMANCE.md).
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: IpAddr::from([0, 0, 0, 0]),
            port: 6667,
            data_dir: default_data_dir(),
            name: "lanchat".into(),
            motd: None,
            password: None,
            max_clients: 10_000,
            max_per_ip: 64,
            history: 100,
            journal_max: 8 << 20,
            canvas_max: 1 << 20,
            flood_rate: 25.0,
            flood_burst: 50.0,
            flood_grace: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(120),
            register_timeout: Duration::from_secs(30),
            sendq: 1 << 20,
            max_channels: 50,
            discovery_port: Some(crate::discovery::DEFAULT_PORT),
            threads: 1,
        }
    }
}

/// `$XDG_STATE_HOME/lanchat`, else `~/.local/state/lanchat`, else `./lanchat-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("lanchat");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/state/lanchat"),
        None => PathBuf::from("lanchat-data"),
    }
}

/// Runs the server until the process is killed. Errors only at start-up.
pub fn run(config: Config) -> Result<(), String> {
    let motd = match &config.motd {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|e| format!("cannot read MOTD {}: {e}", path.display()))?,
        ),
        None => None,
    };
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", config.data_dir.display()))?;
    let history = history::Journal::open(&config.data_dir, config.history, config.journal_max)
        .map_err(|e| format!("cannot open history in {}: {e}", config.data_dir.display()))?;
    // Each client is a socket: make room for max-clients of them and our own files.
    let want = config.max_clients as u64 + 64;
    let limit = crate::sys::raise_nofile(want);
    if limit != 0 && limit < want {
        warn!("the open-file limit is {limit}: fewer than --max-clients {} clients can connect", config.max_clients);
    }
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = smol::block_on(TcpListener::bind(addr)).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Discovery is a convenience: if its port is taken, the server still serves.
    let discovery = config.discovery_port.and_then(|port| {
        let addr = SocketAddr::new(config.bind, port);
        match smol::block_on(UdpSocket::bind(addr)) {
            Ok(sock) => {
                info!("answering discovery on {}/udp", sock.local_addr().map_or(addr, |a| a));
                Some(sock)
            }
            Err(e) => {
                warn!("no LAN discovery: cannot bind {addr}/udp: {e}");
                None
            }
        }
    });
    info!("listening on {local}");
    info!("history in {} ({} channels)", config.data_dir.display(), history.channel_count());

    let shared = Arc::new(state::Shared::new(config, motd, history));
    // Sessions are tasks on the executor threads, never threads of their own.
    let threads = match shared.config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    for i in 1..threads {
        std::thread::Builder::new()
            .name(format!("lanchat-{i}"))
            .spawn(|| smol::block_on(EXECUTOR.run(smol::future::pending::<()>())))
            .map_err(|e| e.to_string())?;
    }
    history::spawn_syncer(shared.clone());
    if let Some(sock) = discovery {
        spawn(answer_discovery(sock, shared.clone(), local.port()));
    }
    smol::block_on(EXECUTOR.run(accept_loop(listener, shared)));
    Ok(())
}

static EXECUTOR: smol::Executor<'static> = smol::Executor::new();

/// Runs a task of the server on its executor.
pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    EXECUTOR.spawn(task).detach();
}

async fn accept_loop(listener: TcpListener, shared: Arc<state::Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                spawn(session::run(shared.clone(), stream, peer));
            }
            Err(e) => {
                // EMFILE and friends: log, back off briefly so the loop does not spin.
                error!("accept failed: {e}");
                smol::Timer::after(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Answers LAN discovery queries; never sends anything unasked.
async fn answer_discovery(socket: UdpSocket, shared: Arc<state::Shared>, irc_port: u16) {
    let mut limit = discovery::RateLimit::new(20.0, 10.0);
    let mut buf = vec![0u8; discovery::MAX_DATAGRAM + 1];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
        let Some(nonce) = discovery::parse_query(&buf[..n]) else { continue };
        if !limit.allow() {
            continue;
        }
        let users = shared.lock().user_count();
        let version = env!("CARGO_PKG_VERSION");
        if let Some(reply) = discovery::reply(nonce, &shared.config.name, irc_port, version, users, n) {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}
