//! The server: listener, per-connection sessions, shared state, history.
//!
//! Data flows one way: a [`session`] reads a socket and splits lines, the
//! [`commands`] table parses and applies them to the [`state`] under one
//! short lock, and the formatted result is fanned out to each recipient's
//! [`outbox`], whose writer task drains it to the socket. Channel history
//! goes to the [`history`] journal on the way; the [`disk`] thread syncs and
//! compacts it without the lock.
//!
//! [`run`] serves on the listeners the caller bound (plain, and with the
//! `tls` feature, [`tls`]), on an executor of its own, until a shutdown
//! future completes: the binary and tests alike embed it.

pub mod canvas_store;
pub mod commands;
pub mod disk;
pub mod files;
pub mod handshakes;
pub mod history;
pub mod journal;
pub mod names;
pub mod outbox;
pub mod runtime;
pub mod session;
pub mod sock;
pub mod state;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
pub mod web;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_net::{TcpListener, UdpSocket};
use log::{error, info, warn};

use crate::discovery;

/// Size of `canvas.journal` that triggers its compaction.
const CANVAS_JOURNAL_MAX: u64 = 8 << 20;

/// Every setting of the server, with the defaults of `lanchat --serve`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub bind: IpAddr,
    /// TCP port for plain text (0 picks a free one; the log says which).
    pub port: u16,
    /// Serve plain text on `port` (`--no-plain` turns it off).
    pub plain: bool,
    /// TCP port for IRC over TLS (None: no TLS; always None without the `tls` feature).
    pub tls_port: Option<u16>,
    /// A certificate chain and its key (PEM); without them, a self-signed
    /// certificate is made on first start and kept in the data directory.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// TCP port for the web page and the WebSocket endpoint `/irc` (None: `--no-web`).
    pub web_port: Option<u16>,
    /// Origins besides the page's own whose pages may open the WebSocket
    /// (`--web-origin`; `*` for any).
    pub web_origins: Vec<String>,
    /// Print the page's address as a QR code at start.
    pub qr: bool,
    /// Share files over the web port (`--no-files` turns it off).
    pub files: bool,
    /// Largest shared file, in bytes.
    pub file_max: u64,
    /// All shared files together, in bytes; the oldest go first.
    pub files_max: u64,
    /// The longest an upload or a download may go without a byte moving.
    pub file_timeout: Duration,
    /// Where the history journal lives.
    pub data_dir: PathBuf,
    /// Server name shown to clients.
    pub name: String,
    /// Message of the day file.
    pub motd: Option<PathBuf>,
    /// Password clients must send with PASS.
    pub password: Option<String>,
    /// Server operators, as name and password for OPER (`--oper`, and the
    /// file `opers` in the data directory, read at start).
    pub opers: Vec<(String, String)>,
    /// Most clients connected at once.
    pub max_clients: usize,
    /// Most connections from one IP address.
    pub max_per_ip: usize,
    /// Lines of channel history replayed on JOIN (and kept per channel).
    pub history: usize,
    /// Journal size that triggers a compaction, in bytes.
    pub journal_max: u64,
    /// Canvas strokes kept per channel before the oldest are folded into
    /// its snapshot, in bytes of relayed lines.
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
    /// Test only: each fsync of the journal takes this much longer, standing
    /// in for a slow SD card (`LANCHAT_TEST_FSYNC_DELAY_MS` in the binary).
    pub test_fsync_delay: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: IpAddr::from([0, 0, 0, 0]),
            port: 6667,
            plain: true,
            tls_port: cfg!(feature = "tls").then_some(6697),
            tls_cert: None,
            tls_key: None,
            web_port: Some(8080),
            web_origins: Vec::new(),
            qr: false,
            files: true,
            file_max: 25 << 20,
            files_max: 1 << 30,
            file_timeout: Duration::from_secs(30),
            data_dir: default_data_dir(),
            name: "lanchat".into(),
            motd: None,
            password: None,
            opers: Vec::new(),
            max_clients: 10_000,
            max_per_ip: 64,
            history: 100,
            journal_max: 8 << 20,
            canvas_max: 96 << 10,
            flood_rate: 25.0,
            flood_burst: 50.0,
            flood_grace: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(120),
            register_timeout: Duration::from_secs(30),
            sendq: 1 << 20,
            max_channels: 50,
            discovery_port: Some(crate::discovery::DEFAULT_PORT),
            threads: 1,
            test_fsync_delay: Duration::ZERO,
        }
    }
}

/// A server operator's `NAME:PASSWORD`.
pub fn parse_oper(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((n, p)) if !n.is_empty() && !p.is_empty() && !n.contains(' ') => Ok((n.to_string(), p.to_string())),
        // Only the name: the text may hold a password, and this goes to the log.
        _ => Err(format!("invalid operator {:?}: NAME:PASSWORD expected", s.split(':').next().unwrap_or(""))),
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

/// The listening sockets a server serves on.
#[derive(Debug, Default)]
pub struct Listeners {
    pub plain: Option<std::net::TcpListener>,
    /// For IRC over TLS (the `tls` feature).
    pub tls: Option<std::net::TcpListener>,
    /// For the page and the WebSocket endpoint.
    pub web: Option<std::net::TcpListener>,
}

impl From<std::net::TcpListener> for Listeners {
    /// A plain-text listener alone.
    fn from(plain: std::net::TcpListener) -> Listeners {
        Listeners { plain: Some(plain), tls: None, web: None }
    }
}

/// Binds the listening sockets `config` names, each with a backlog deep
/// enough for a whole LAN reconnecting at once (std's is 128: of 1,000
/// clients connecting together, 135 were reset).
pub fn bind(config: &Config) -> Result<Listeners, String> {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok().and_then(|s| s.trim().parse().ok());
    let backlog = listen_backlog(somaxconn);
    let listen = |port| {
        let addr = SocketAddr::new(config.bind, port);
        let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        if let Err(e) = crate::sys::set_backlog(&listener, backlog) {
            warn!("cannot raise the listen backlog to {backlog}: {e}; bursts of connections may be refused");
        } else if let Some(max) = somaxconn.filter(|&max| max < i64::from(backlog)) {
            warn!("net.core.somaxconn is {max}: connections past {max} at once wait for a retransmit; raise it");
        }
        Ok::<_, String>(listener)
    };
    let listeners = Listeners {
        plain: config.plain.then(|| listen(config.port)).transpose()?,
        tls: config.tls_port.map(listen).transpose()?,
        // The page is a convenience, like discovery: without it, IRC still serves.
        web: config.web_port.and_then(|port| listen(port).map_err(|e| warn!("no web page: {e}")).ok()),
    };
    if listeners.plain.is_none() && listeners.tls.is_none() {
        return Err("nothing to listen on: --no-plain and no TLS".into());
    }
    Ok(listeners)
}

/// The listen backlog to ask for: the kernel's limit (`somaxconn`, which
/// caps it anyway), but at least 4,096 (that limit's default since Linux
/// 5.4) and at most 65,535.
fn listen_backlog(somaxconn: Option<i64>) -> i32 {
    somaxconn.unwrap_or(4096).clamp(4096, 65535) as i32
}

/// Serves on `listeners` until `shutdown` completes; then tells every client
/// (ERROR), lets their queues drain for a moment, syncs the journal and
/// returns. Errors only at start-up. Nothing it starts outlives it: its
/// executor, threads and buffers are its own.
pub fn run(
    listeners: impl Into<Listeners>,
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let listeners = listeners.into();
    let motd = match &config.motd {
        Some(path) => {
            Some(std::fs::read_to_string(path).map_err(|e| format!("cannot read MOTD {}: {e}", path.display()))?)
        }
        None => None,
    };
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", config.data_dir.display()))?;
    // `NAME:PASSWORD` a line; `#` starts a comment.
    if let Ok(text) = std::fs::read_to_string(config.data_dir.join("opers")) {
        for l in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let op = parse_oper(l).map_err(|e| format!("{}: {e}", config.data_dir.join("opers").display()))?;
            config.opers.push(op);
        }
    }
    let history =
        history::Journal::open_with(&config.data_dir, config.history, config.journal_max, config.test_fsync_delay)
            .map_err(|e| format!("cannot open history in {}: {e}", config.data_dir.display()))?;
    let canvas = canvas_store::Canvases::open(
        &config.data_dir,
        &config.name,
        config.canvas_max,
        CANVAS_JOURNAL_MAX,
        config.test_fsync_delay,
    )
    .map_err(|e| format!("cannot open the canvas in {}: {e}", config.data_dir.display()))?;
    // Each client is a socket: make room for max-clients of them and our own files.
    let want = config.max_clients as u64 + 64;
    let limit = crate::sys::raise_nofile(want);
    if limit != 0 && limit < want {
        warn!("the open-file limit is {limit}: fewer than --max-clients {} clients can connect", config.max_clients);
    }
    let tls = match listeners.tls {
        Some(l) => Some(transport::Tls::start(&config, l)?),
        None => None,
    };
    let plain = match listeners.plain {
        Some(l) => {
            let local = l.local_addr().map_err(|e| e.to_string())?;
            Some((TcpListener::try_from(l).map_err(|e| format!("cannot listen on {local}: {e}"))?, local))
        }
        None => None,
    };
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
    let web = match listeners.web {
        Some(l) => Some(web::Web::start(l)?),
        None => None,
    };
    if let Some(w) = &web {
        info!("serving the web page and WebSocket /irc on {}", w.local);
        let urls = w.page_urls();
        for url in &urls {
            info!("open {url} in a browser to chat");
        }
        if config.qr
            && let Some(code) = urls.first().and_then(|u| web::qr::terminal(u))
        {
            println!("{}\n{code}", urls[0]);
        }
    }
    // Files travel over the web port: no port, no files.
    let files = match &web {
        Some(w) if config.files => Some(Arc::new(
            files::Store::open(&config.data_dir, config.file_max, config.files_max, w.local.port())
                .map_err(|e| format!("cannot open the shared files in {}: {e}", config.data_dir.display()))?,
        )),
        _ => None,
    };
    if let Some(t) = &tls {
        info!("listening for TLS on {}; certificate SHA-256 fingerprint {}", t.local, t.info.fingerprint);
    }
    // (Last: tests learn the server is up, and its port, from this line.)
    if let Some((_, local)) = &plain {
        info!("listening on {local}");
    }
    info!(
        "history in {} ({} channels, {} canvases)",
        config.data_dir.display(),
        history.channel_count(),
        canvas.count()
    );

    let rt = runtime::Runtime::default();
    let tls_info = tls.as_ref().map(|t| t.info.clone());
    let shared = Arc::new(state::Shared::new(config, motd, tls_info, history, canvas, files, rt.clone()));
    // Sessions are tasks on the executor threads, never threads of their own.
    let threads = match shared.config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Closing `stop` ends the extra executor threads and the tasks beside the sessions.
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let until_stopped = |task: Pin<Box<dyn Future<Output = ()> + Send>>| {
        let stopped = stopped.clone();
        smol::future::or(task, async move {
            let _ = stopped.recv().await;
        })
    };
    let mut workers = Vec::new();
    for i in 1..threads {
        let (rt, stopped) = (rt.clone(), stopped.clone());
        let worker = std::thread::Builder::new().name(format!("lanchat-{i}")).spawn(move || {
            let _ = rt.run(stopped.recv());
        });
        workers.push(worker.map_err(|e| e.to_string())?);
    }
    let disk = disk::Disk::start(shared.clone()).map_err(|e| e.to_string())?;
    if let Some(sock) = discovery {
        let port = plain.as_ref().map_or(0, |(_, a)| a.port());
        rt.spawn(until_stopped(Box::pin(answer_discovery(sock, shared.clone(), port))));
    }
    if let Some(t) = tls {
        rt.spawn(until_stopped(Box::pin(t.accept_loop(shared.clone()))));
    }
    if let Some(w) = web {
        rt.spawn(until_stopped(Box::pin(w.accept_loop(shared.clone()))));
    }
    rt.run(async {
        match plain {
            Some((listener, _)) => smol::future::or(accept_loop(listener, shared.clone()), shutdown).await,
            None => shutdown.await,
        }
        info!("shutting down");
        drop(stop);
        shared.lock().close_all("Server shutting down");
        // Let the queues drain and the sessions leave; cut off whoever is slow.
        if !all_gone(&shared, Duration::from_secs(2)).await {
            shared.lock().kill_all();
            all_gone(&shared, Duration::from_secs(2)).await;
        }
    });
    for w in workers {
        let _ = w.join();
    }
    disk.stop();
    Ok(())
}

/// Waits up to `limit` for every session to have left.
async fn all_gone(shared: &state::Shared, limit: Duration) -> bool {
    let end = std::time::Instant::now() + limit;
    while shared.lock().client_count() > 0 {
        if std::time::Instant::now() > end {
            return false;
        }
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    true
}

async fn accept_loop(listener: TcpListener, shared: Arc<state::Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                session::run(&shared, stream, peer);
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
    let mut limit = crate::rate::TokenBucket::new(10.0, 20.0);
    let mut buf = vec![0u8; discovery::MAX_DATAGRAM + 1];
    let tls = shared.tls.as_ref().map(|t| (t.port, t.fingerprint.as_str()));
    // Without a plain port, the TLS one is the one to connect to.
    let port = if irc_port != 0 { irc_port } else { tls.map_or(0, |(p, _)| p) };
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
        let Some(nonce) = discovery::parse_query(&buf[..n]) else { continue };
        if limit.take(std::time::Instant::now()).is_err() {
            continue;
        }
        let users = shared.lock().user_count();
        let version = env!("CARGO_PKG_VERSION");
        if let Some(reply) = discovery::reply(nonce, &shared.config.name, port, tls, version, users, n) {
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_backlog_follows_somaxconn_within_bounds() {
        use super::listen_backlog;
        assert_eq!(listen_backlog(None), 4096);
        assert_eq!(listen_backlog(Some(128)), 4096);
        assert_eq!(listen_backlog(Some(8192)), 8192);
        assert_eq!(listen_backlog(Some(1 << 20)), 65535);
    }
}
