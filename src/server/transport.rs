//! How clients reach the server besides plain TCP (`super::accept_loop`):
//! IRC over TLS, with the `tls` feature. Without it, a TLS listener is an
//! error at start-up, so `run` needs no feature switches of its own.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Config;
use super::state::Shared;

/// What clients are told about the TLS port (MOTD, discovery).
#[derive(Clone, Debug)]
pub struct TlsInfo {
    pub port: u16,
    /// SHA-256 of the certificate, `AB:CD:...`.
    pub fingerprint: String,
}

/// The TLS listener, ready to accept.
pub struct Tls {
    pub info: TlsInfo,
    pub local: SocketAddr,
    #[cfg(feature = "tls")]
    listener: async_net::TcpListener,
    #[cfg(feature = "tls")]
    tls: Arc<super::tls::Tls>,
}

impl Tls {
    /// Loads (or makes) the certificate for the TLS listener `l`.
    #[cfg(feature = "tls")]
    pub fn start(config: &Config, l: std::net::TcpListener) -> Result<Tls, String> {
        let local = l.local_addr().map_err(|e| e.to_string())?;
        let listener = async_net::TcpListener::try_from(l).map_err(|e| format!("cannot listen on {local}: {e}"))?;
        let tls = Arc::new(super::tls::Tls::load(config)?);
        let info = TlsInfo { port: local.port(), fingerprint: tls.fingerprint.clone() };
        Ok(Tls { info, local, listener, tls })
    }

    #[cfg(not(feature = "tls"))]
    pub fn start(_: &Config, _: std::net::TcpListener) -> Result<Tls, String> {
        Err("this build has no TLS (the `tls` feature)".into())
    }

    /// Accepts connections and runs each one's handshake, then its session,
    /// as a task of its own.
    #[cfg(feature = "tls")]
    pub async fn accept_loop(self, shared: Arc<Shared>) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    shared.rt.spawn(handshake(shared.clone(), self.tls.clone(), stream, peer));
                }
                Err(e) => {
                    log::error!("accept failed: {e}");
                    smol::Timer::after(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }

    #[cfg(not(feature = "tls"))]
    pub async fn accept_loop(self, _: Arc<Shared>) {}
}

/// The handshake, bounded by the registration timeout: garbage, a plain IRC
/// line or a client that stops half-way is closed, and nobody else waits.
#[cfg(feature = "tls")]
async fn handshake(shared: Arc<Shared>, tls: Arc<super::tls::Tls>, stream: async_net::TcpStream, peer: SocketAddr) {
    // Counted against --max-per-ip until the session takes over the count.
    let admitted = match super::handshakes::begin(&shared, peer) {
        Ok(slot) => slot,
        Err(why) => return log::info!("{peer}: refused before the TLS handshake: {}", why.reason()),
    };
    let limit = shared.config.register_timeout;
    let done = smol::future::or(async { Some(tls.accept(stream.clone()).await) }, async {
        smol::Timer::after(limit).await;
        None
    })
    .await;
    match done {
        Some(Ok(tls_stream)) => {
            drop(admitted);
            let (reader, writer) = smol::io::split(tls_stream);
            if let Some(session) =
                super::session::serve(shared, reader, writer, stream.into(), peer, super::session::Transport::Tls)
            {
                session.await;
            }
        }
        Some(Err(e)) => log::info!("{peer}: TLS handshake failed: {e}"),
        None => log::info!("{peer}: TLS handshake timed out"),
    }
}
