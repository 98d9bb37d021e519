//! The client's TLS handshake (feature `tls`): rustls with the ring provider
//! and a certificate verifier that accepts exactly the pinned fingerprint
//! ([`super::trust`]), or on first use any certificate, whose fingerprint
//! it reports. The handshake signatures are verified either way.

use std::sync::{Arc, Mutex};

use async_net::TcpStream;
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::trust::{self, Verdict};

/// Why a handshake failed.
#[derive(Debug)]
pub enum Failure {
    /// Not the pinned certificate: the server showed `seen`.
    Changed { pinned: String, seen: String },
    /// Anything else, said for the user.
    Other(String),
}

/// Accepts the end-entity certificate whose SHA-256 is pinned, or on first
/// use any; remembers the fingerprint it saw.
#[derive(Debug)]
struct PinVerifier {
    pinned: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = crate::fingerprint::sha256(end_entity);
        let verdict = trust::check(self.pinned.as_deref(), &fp);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(fp);
        match verdict {
            Verdict::FirstUse | Verdict::Same => Ok(ServerCertVerified::assertion()),
            Verdict::Changed { .. } => {
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS handshake on a connected socket to `server` (`HOST:PORT`; the
/// host is sent as SNI when it is a name). Gives the stream and the
/// fingerprint of the certificate the server showed.
pub async fn handshake(
    tcp: TcpStream,
    server: &str,
    pinned: Option<&str>,
) -> Result<(TlsStream<TcpStream>, String), Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = Arc::new(Mutex::new(None));
    let verifier = PinVerifier { pinned: pinned.map(str::to_string), seen: seen.clone(), provider: provider.clone() };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Other(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let name = ServerName::try_from(trust::host_of(server).to_string())
        .map_err(|e| Failure::Other(format!("{server}: not a host name for TLS: {e}")))?;
    let result = TlsConnector::from(Arc::new(config)).connect(name, tcp).await;
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (result, seen) {
        (Ok(stream), Some(fp)) => Ok((stream, fp)),
        (Ok(_), None) => Err(Failure::Other("the server showed no certificate".into())),
        (Err(e), seen) => match (seen, pinned) {
            (Some(seen), Some(pinned)) if matches!(trust::check(Some(pinned), &seen), Verdict::Changed { .. }) => {
                Err(Failure::Changed { pinned: pinned.to_string(), seen })
            }
            _ => Err(Failure::Other(format!("TLS handshake with {server} failed: {e}"))),
        },
    }
}
