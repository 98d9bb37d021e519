//! `lanchat`: the command line. Parses flags and hands over to the server,
//! the line-mode client or the GUI.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use lanchat::client;
use lanchat::server::Config;

/// With the `mimalloc` feature, the allocator of every allocation (see Cargo.toml).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
lanchat: a LAN chat appliance (an IRC server and its desktop client)

USAGE:
    lanchat --serve [OPTIONS]
    lanchat --client [--server HOST:PORT] [--tls [--accept-fingerprint FP]] [--nick NICK]
                     [--channel #CHAN] [--no-gui [--save-canvas FILE.png]]
    lanchat --client --discover [--discover-addr HOST:PORT[,HOST:PORT]]

SERVER OPTIONS:
    --bind ADDR             address to listen on [default: 0.0.0.0]
    --port PORT             TCP port, 0 for any free one [default: 6667]
    --no-plain              no plain-text port: TLS only
    --tls-port PORT         IRC over TLS, 0 for any free one [default: 6697]
    --no-tls                no TLS port
    --web-port PORT         web page and WebSocket IRC at /irc, 0 for any free one
                            [default: 8080]
    --no-web                no web page
    --web-origin ORIGIN     also let pages from ORIGIN (http://host:port, or *) open
                            the WebSocket; repeatable [default: the page's own only]
    --qr                    print the page's address as a QR code at start
    --file-max SIZE         largest file users may share over the web port, in
                            bytes or with K, M or G [default: 25M]
    --files-max SIZE        all shared files together; the oldest go first [default: 1G]
    --file-timeout SECS     an upload or download with no byte moving this long is
                            ended [default: 30]
    --no-files              no file sharing
    --tls-cert FILE         certificate chain (PEM) [default: a self-signed one,
                            made at first start and kept in the data directory]
    --tls-key FILE          its private key (PEM)
    --data-dir DIR          where history, the canvas and shared files are kept
                            [default: $XDG_STATE_HOME/lanchat]
    --name NAME             server name shown to clients [default: lanchat]
    --motd FILE             message of the day
    --password PASS         clients must send this with PASS
    --oper NAME:PASSWORD    a server operator for OPER (repeatable; also read
                            from the file `opers` in the data directory)
    --max-clients N         most clients at once [default: 10000]
    --max-per-ip N          most connections from one address [default: 64]
    --history N             lines replayed on JOIN, kept per channel [default: 100]
    --journal-max BYTES     journal size that triggers compaction [default: 8388608]
    --canvas-max BYTES      canvas strokes kept per channel before folding [default: 98304]
    --flood-rate N          messages per second per client, 0 for no limit [default: 25]
    --flood-burst N         messages a client may send at once [default: 50]
    --flood-grace SECS      time over the limit before disconnection [default: 5]
    --ping-timeout SECS     silence before a client is dropped [default: 120]
    --register-timeout SECS time to register after connecting [default: 30]
    --sendq BYTES           outgoing queue per client before it is dropped [default: 1048576]
    --max-channels N        channels per client [default: 50]
    --discovery-port PORT   UDP port answering LAN discovery [default: 6667]
    --no-discovery          do not answer LAN discovery
    --threads N             executor threads, 0 for one per core [default: 1]
    --log-level LEVEL       error, warn, info, debug or trace [default: info]

CLIENT OPTIONS:
    --server HOST:PORT      server to connect to [default: 127.0.0.1:6667]
    --nick NICK             nick to use [default: $USER]
    --channel #CHAN         channel to join [default: #lobby]
    --password PASS         server password
    --tls                   connect over TLS [the default port is then 6697]; the
                            first connection pins the server's certificate
                            (SHA-256, in the client config), later ones accept
                            only that one
    --accept-fingerprint FP pin this SHA-256 fingerprint for the server instead:
                            to accept a certificate that changed (implies --tls)
    --no-gui                line mode: read lines from stdin, print what arrives
    --save-canvas FILE.png  line mode: at the end of stdin, once the joining replay is
                            in, save the channel's canvas (1600x1000) and quit
    --discover              list the servers on the LAN that answer within a second,
                            pinning the TLS certificates they report (never replacing a pin)
    --discover-addr A[,A]   where to ask [default: 255.255.255.255:6667, the LAN broadcast]

    -h, --help              print this help
    -V, --version           print the version
";

fn main() -> ExitCode {
    lanchat::clock::init_local_offset();
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lanchat: {e} (see lanchat --help)");
            ExitCode::from(2)
        }
    }
}

#[derive(PartialEq)]
enum Mode {
    Serve,
    Client,
}

fn run(args: Vec<String>) -> Result<ExitCode, String> {
    let mut mode = None;
    let mut cfg = Config::default();
    let mut level = log::LevelFilter::Info;
    let mut server = None;
    let mut nick = None;
    let mut channel = "#lobby".to_string();
    let mut save_canvas = None;
    let mut no_gui = false;
    let mut tls = false;
    let mut accept = None;
    let mut discover = false;
    let mut discover_addr = format!("255.255.255.255:{}", lanchat::discovery::DEFAULT_PORT);
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            "-V" | "--version" => {
                println!("lanchat {}", env!("CARGO_PKG_VERSION"));
                return Ok(ExitCode::SUCCESS);
            }
            "--serve" => mode = Some(Mode::Serve),
            "--client" => mode = Some(Mode::Client),
            "--no-gui" => no_gui = true,
            "--discover" => discover = true,
            "--discover-addr" => discover_addr = value()?,
            "--discovery-port" => cfg.discovery_port = Some(parse(&flag, &value()?)?),
            "--no-discovery" => cfg.discovery_port = None,
            "--bind" => cfg.bind = parse(&flag, &value()?)?,
            "--port" => cfg.port = parse(&flag, &value()?)?,
            "--no-plain" => cfg.plain = false,
            "--no-tls" => cfg.tls_port = None,
            "--tls-port" => cfg.tls_port = Some(parse(&flag, &value()?)?),
            "--web-port" => cfg.web_port = Some(parse(&flag, &value()?)?),
            "--no-web" => cfg.web_port = None,
            "--web-origin" => cfg.web_origins.push(value()?),
            "--qr" => cfg.qr = true,
            "--file-max" => cfg.file_max = size(&flag, &value()?)?,
            "--files-max" => cfg.files_max = size(&flag, &value()?)?,
            "--no-files" => cfg.files = false,
            "--file-timeout" => cfg.file_timeout = secs(&flag, &value()?)?,
            "--tls-cert" => cfg.tls_cert = Some(PathBuf::from(value()?)),
            "--tls-key" => cfg.tls_key = Some(PathBuf::from(value()?)),
            "--data-dir" => cfg.data_dir = PathBuf::from(value()?),
            "--name" => {
                let name = value()?;
                if name.is_empty() || name.contains(|c: char| c == ' ' || c.is_control() || c == ':') {
                    return Err(format!("invalid value {name:?} for --name: no spaces or colons"));
                }
                cfg.name = name;
            }
            "--motd" => cfg.motd = Some(PathBuf::from(value()?)),
            "--password" => cfg.password = Some(value()?),
            "--oper" => cfg.opers.push(lanchat::server::parse_oper(&value()?)?),
            "--max-clients" => cfg.max_clients = parse(&flag, &value()?)?,
            "--max-per-ip" => cfg.max_per_ip = parse(&flag, &value()?)?,
            "--history" => cfg.history = parse(&flag, &value()?)?,
            "--journal-max" => cfg.journal_max = parse(&flag, &value()?)?,
            "--canvas-max" => cfg.canvas_max = parse(&flag, &value()?)?,
            "--flood-rate" => cfg.flood_rate = parse_nonneg(&flag, &value()?)?,
            "--flood-burst" => cfg.flood_burst = parse_nonneg(&flag, &value()?)?.max(1.0),
            "--flood-grace" => cfg.flood_grace = secs(&flag, &value()?)?,
            "--ping-timeout" => cfg.ping_timeout = secs(&flag, &value()?)?,
            "--register-timeout" => cfg.register_timeout = secs(&flag, &value()?)?,
            "--sendq" => cfg.sendq = parse(&flag, &value()?)?,
            "--max-channels" => cfg.max_channels = parse(&flag, &value()?)?,
            "--threads" => cfg.threads = parse(&flag, &value()?)?,
            "--log-level" => level = parse(&flag, &value()?)?,
            "--server" => server = Some(value()?),
            "--nick" => nick = Some(value()?),
            "--channel" => channel = value()?,
            "--save-canvas" => save_canvas = Some(PathBuf::from(value()?)),
            "--tls" => tls = true,
            "--accept-fingerprint" => {
                let v = value()?;
                let fp = client::trust::normalize(&v)
                    .ok_or_else(|| format!("invalid value {v:?} for {flag}: 32 bytes in hex, AB:CD:..."))?;
                accept = Some(fp);
                tls = true;
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    // Line-buffered: simplelog writes a record in pieces, and unbuffered
    // stderr made that about 45 system calls per line.
    let _ = simplelog::WriteLogger::init(
        level,
        simplelog::ConfigBuilder::new().set_time_format_rfc3339().build(),
        std::io::LineWriter::new(std::io::stderr()),
    );
    match mode {
        Some(Mode::Serve) => {
            if let Some(ms) = std::env::var("LANCHAT_TEST_FSYNC_DELAY_MS").ok().and_then(|v| v.parse().ok()) {
                cfg.test_fsync_delay = Duration::from_millis(ms);
            }
            let listeners = lanchat::server::bind(&cfg)?;
            // Until the process is stopped.
            lanchat::server::run(listeners, cfg, smol::future::pending())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Mode::Client) if discover => {
            let targets: Vec<String> = discover_addr.split(',').map(|s| s.trim().to_string()).collect();
            // (the GUI's connect dialog asks the same targets)
            let found = lanchat::discovery::discover(&targets, Duration::from_secs(1))
                .map_err(|e| format!("discovery failed: {e}"))?;
            if found.is_empty() {
                println!("no servers answered");
            }
            for f in found {
                let tls =
                    f.tls.as_ref().map(|(port, fp)| format!("\tTLS port {port}, SHA-256 {fp}")).unwrap_or_default();
                println!("{}\t{}\tversion {}\t{}{tls}", f.name, f.addr, f.version, f.users_text());
                // Pinned without asking, as the GUI's dialog does: the next
                // `--tls --server` to it trusts only this certificate.
                if let Some((port, fp)) = &f.tls {
                    let server = std::net::SocketAddr::new(f.addr.ip(), *port).to_string();
                    eprintln!("lanchat: {}", client::config::Config::pin_discovered(&server, fp)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Mode::Client) if tls && !cfg!(feature = "tls") => Err("this build has no TLS".into()),
        Some(Mode::Client) if no_gui => {
            let server = client::trust::with_port(server.as_deref().unwrap_or("127.0.0.1"), tls);
            let pin = accept_or_pinned(&server, accept)?;
            let settings = client::Settings {
                server,
                nick: nick.unwrap_or_else(client::default_nick),
                channel,
                password: cfg.password,
                tls,
                pin,
            };
            Ok(lanchat::client::line_mode::run(settings, save_canvas))
        }
        Some(Mode::Client) => {
            let discover = discover_addr.split(',').map(|s| s.trim().to_string()).collect();
            gui(server, nick, channel, cfg.password, discover, tls, accept)
        }
        None => Err("say --serve or --client".into()),
    }
}

/// The pin for `server`: `--accept-fingerprint`'s, which is remembered
/// (replacing the old one), or the one in the client config.
fn accept_or_pinned(server: &str, accept: Option<String>) -> Result<Option<String>, String> {
    let Some(fp) = accept else {
        return Ok(client::config::path().and_then(|p| client::config::Config::load(&p).pin(server)));
    };
    client::config::Config::remember_pin(server, &fp)?;
    eprintln!("lanchat: {}", client::trust::pinned_text(server, &fp));
    Ok(Some(fp))
}

#[cfg(feature = "gui")]
fn gui(
    server: Option<String>,
    nick: Option<String>,
    channel: String,
    password: Option<String>,
    discover: Vec<String>,
    tls: bool,
    accept: Option<String>,
) -> Result<ExitCode, String> {
    let server = server.map(|s| client::trust::with_port(&s, tls));
    if let (Some(server), Some(_)) = (&server, &accept) {
        accept_or_pinned(server, accept)?;
    } else if accept.is_some() {
        return Err("--accept-fingerprint goes with --server HOST:PORT".into());
    }
    let tls = tls.then_some(true);
    lanchat::gui::run(lanchat::gui::Options { server, nick, channel, password, discover, tls })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "gui"))]
fn gui(
    _: Option<String>,
    _: Option<String>,
    _: String,
    _: Option<String>,
    _: Vec<String>,
    _: bool,
    _: Option<String>,
) -> Result<ExitCode, String> {
    Err("this build has no GUI; use --client --no-gui".into())
}

fn parse<T: FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("invalid value {v:?} for {flag}"))
}

/// A plain decimal such as `25` or `0.5`: all a flag needs. (std's float
/// parser, with its tables, costs the ARM servers about 15 KB.)
fn decimal(v: &str) -> Option<f64> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let digits = |s: &str| s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return None;
    }
    let int = |s: &str| s.parse::<u32>().map_or(0.0, f64::from);
    Some(int(whole) + int(frac) / 10f64.powi(frac.len() as i32))
}

fn parse_nonneg(flag: &str, v: &str) -> Result<f64, String> {
    match decimal(v) {
        Some(x) => Ok(x),
        _ => Err(format!("invalid value {v:?} for {flag}: a number of 0 or more")),
    }
}

/// Bytes, or with a K, M or G (binary) suffix.
fn size(flag: &str, v: &str) -> Result<u64, String> {
    let (digits, shift) = match v.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        d if d.ends_with('K') => (d[..d.len() - 1].to_string(), 10),
        d if d.ends_with('M') => (d[..d.len() - 1].to_string(), 20),
        d if d.ends_with('G') => (d[..d.len() - 1].to_string(), 30),
        d => (d.to_string(), 0),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 && n.leading_zeros() > shift => Ok(n << shift),
        _ => Err(format!("invalid value {v:?} for {flag}: bytes, or a number with K, M or G")),
    }
}

fn secs(flag: &str, v: &str) -> Result<Duration, String> {
    match decimal(v) {
        Some(x) if x > 0.0 => Ok(Duration::from_secs_f64(x)),
        _ => Err(format!("invalid value {v:?} for {flag}: seconds, more than 0")),
    }
}
