//! IRC over TLS: the server's certificate and the handshake.
//!
//! With no certificate given, one is made on first start (self-signed,
//! ECDSA P-256, by rcgen) and kept in `DATA_DIR/tls/` (the key readable by
//! the server's user only), so its fingerprint stays the same across
//! restarts and clients can pin it. The fingerprint (SHA-256 of the
//! certificate) is logged, shown in the MOTD and sent in discovery replies.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_rustls::TlsAcceptor;
use futures_rustls::server::TlsStream;
use log::{info, warn};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Config;

/// What the TLS listener needs: the acceptor, and the fingerprint to show.
pub struct Tls {
    acceptor: TlsAcceptor,
    /// SHA-256 of the certificate, `AB:CD:...` (as irssi's `-tls_pinned_cert` takes it).
    pub fingerprint: String,
}

impl Tls {
    /// Loads `--tls-cert`/`--tls-key`, or the certificate kept in the data
    /// directory, making it on first start.
    pub fn load(config: &Config) -> Result<Tls, String> {
        let (cert_path, key_path) = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            (None, None) => {
                let dir = config.data_dir.join("tls");
                let paths = (dir.join("cert.pem"), dir.join("key.pem"));
                if !paths.0.exists() || !paths.1.exists() {
                    make_self_signed(&dir, &paths.0, &paths.1, &config.name)?;
                }
                paths
            }
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&cert_path)?)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: not a PEM certificate: {e:?}", cert_path.display()))?;
        let first = certs.first().ok_or_else(|| format!("{}: no certificate in it", cert_path.display()))?;
        let fingerprint = crate::fingerprint::sha256(first);
        let key = PrivateKeyDer::from_pem_slice(&read(&key_path)?)
            .map_err(|e| format!("{}: not a PEM private key: {e:?}", key_path.display()))?;
        if let Ok(meta) = std::fs::metadata(&key_path)
            && meta.permissions().mode() & 0o077 != 0
        {
            warn!("{}: the TLS key can be read by other users (chmod 600 it)", key_path.display());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("{}: {e}", cert_path.display()))?;
        Ok(Tls { acceptor: TlsAcceptor::from(Arc::new(server)), fingerprint })
    }

    /// The TLS handshake on an accepted connection.
    pub async fn accept(&self, stream: async_net::TcpStream) -> std::io::Result<TlsStream<async_net::TcpStream>> {
        self.acceptor.accept(stream).await
    }
}

/// Makes a self-signed certificate and its key, each written through a
/// temporary file and a rename, the key with mode 0600.
fn make_self_signed(dir: &Path, cert: &Path, key: &Path, name: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let names = vec![name.to_string(), "lanchat".to_string(), "localhost".to_string()];
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| format!("cannot make a certificate: {e}"))?;
    write_new(key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, made.cert.pem().as_bytes(), 0o644)?;
    info!("made a self-signed TLS certificate in {}", dir.display());
    Ok(())
}

fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let _ = std::fs::remove_file(&tmp);
    let res = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| f.write_all(data).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    res.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("lanchat-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let first = Tls::load(&config).unwrap().fingerprint;
        assert_eq!(Tls::load(&config).unwrap().fingerprint, first, "a second start makes no new one");
        let mode = std::fs::metadata(dir.join("tls/key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
