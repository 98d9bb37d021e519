//! Trust on first use for TLS: which certificate a client accepts.
//!
//! lanchat servers use self-signed certificates, so there is no authority
//! to ask. The first connection to a `HOST:PORT` pins the SHA-256
//! fingerprint of the certificate it was shown (`AB:CD:...`, as the server
//! logs it); later connections accept that certificate only. A fingerprint
//! that LAN discovery reported is pinned without asking. A changed
//! certificate is refused until the user accepts the new fingerprint.
//!
//! No IO here: the decision and the words for it, for the core, the TLS
//! verifier (`tls.rs`) and the tests.

/// The default port of IRC over TLS.
pub const DEFAULT_TLS_PORT: u16 = 6697;
/// The default port of plain IRC.
pub const DEFAULT_PORT: u16 = 6667;

/// What to make of the certificate a server showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing pinned yet: accept it, and pin it.
    FirstUse,
    /// The pinned certificate.
    Same,
    /// Not the pinned one: refuse it.
    Changed { pinned: String },
}

/// Decides on the certificate with fingerprint `seen`, given the one pinned.
pub fn check(pinned: Option<&str>, seen: &str) -> Verdict {
    match pinned {
        None => Verdict::FirstUse,
        Some(p) if normalize(p).as_deref() == Some(seen) => Verdict::Same,
        Some(p) => Verdict::Changed { pinned: p.to_string() },
    }
}

/// A fingerprint as the user may type it (with or without colons, any
/// case) in the canonical `AB:CD:...` form; None if it is not 32 bytes of hex.
pub fn normalize(fp: &str) -> Option<String> {
    let hex: String = fp.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<String> =
        hex.as_bytes().chunks(2).map(|p| String::from_utf8_lossy(p).to_ascii_uppercase()).collect();
    Some(pairs.join(":"))
}

/// `HOST:PORT` for what the user typed: the default port added when there is
/// none (6697 over TLS, else 6667).
pub fn with_port(server: &str, tls: bool) -> String {
    let server = server.trim();
    let has_port = server.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    // A bare IPv6 address has colons but no port.
    let bare_ipv6 = server.matches(':').count() > 1 && !server.starts_with('[');
    if has_port && !bare_ipv6 {
        return server.to_string();
    }
    let port = if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT };
    if server.contains(':') && !server.starts_with('[') {
        format!("[{server}]:{port}")
    } else {
        format!("{server}:{port}")
    }
}

/// The host part of `HOST:PORT`, for SNI (brackets of an IPv6 address removed).
pub fn host_of(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// What the user is told when a certificate was pinned.
pub fn pinned_text(server: &str, fingerprint: &str) -> String {
    format!("pinned the certificate of {server}, SHA-256 {fingerprint}; later connections accept only this one")
}

/// What the user is told when a server shows another certificate than the
/// pinned one: what happened, and how to accept the new one.
pub fn changed_text(server: &str, pinned: &str, seen: &str) -> String {
    format!(
        "refused to connect: the TLS certificate of {server} changed. Pinned SHA-256 {pinned}, \
         the server now shows SHA-256 {seen}. This is what an attacker in the middle looks like; \
         if the server made a new certificate (a new data directory, --tls-cert), check the \
         fingerprint it logs, then accept it with --accept-fingerprint {seen} (or /accept in the \
         window, or pin.{server}={seen} in the client config)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3F:0F:73:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:8A:85";
    const B: &str = "00:0F:73:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:8A:85";

    #[test]
    fn first_use_pins_the_same_passes_a_change_is_refused() {
        assert_eq!(check(None, A), Verdict::FirstUse);
        assert_eq!(check(Some(A), A), Verdict::Same);
        assert_eq!(check(Some(&A.to_lowercase().replace(':', "")), A), Verdict::Same, "as typed");
        assert_eq!(check(Some(A), B), Verdict::Changed { pinned: A.into() });
        assert_eq!(check(Some("junk"), B), Verdict::Changed { pinned: "junk".into() });
    }

    #[test]
    fn the_refusal_says_how_to_accept() {
        let t = changed_text("pi:6697", A, B);
        assert!(t.contains(&format!("Pinned SHA-256 {A}")) && t.contains(&format!("now shows SHA-256 {B}")), "{t}");
        assert!(t.contains(&format!("--accept-fingerprint {B}")) && t.contains(&format!("pin.pi:6697={B}")), "{t}");
    }

    #[test]
    fn fingerprints_and_addresses() {
        assert_eq!(normalize(&A.to_lowercase()).as_deref(), Some(A));
        assert_eq!(normalize(&A.replace(':', "")).as_deref(), Some(A));
        assert_eq!(normalize("AB:CD"), None);
        assert_eq!(normalize(&"zz".repeat(32)), None);
        assert_eq!(with_port("pi", true), "pi:6697");
        assert_eq!(with_port("pi", false), "pi:6667");
        assert_eq!(with_port("pi:7000", true), "pi:7000");
        assert_eq!(with_port("::1", true), "[::1]:6697");
        assert_eq!(with_port("[::1]:7000", true), "[::1]:7000");
        assert_eq!(host_of("pi.lan:6697"), "pi.lan");
        assert_eq!(host_of("[::1]:6697"), "::1");
    }
}
