//! A certificate's identity as both sides show it: the SHA-256 of its DER
//! bytes, as `AB:CD:...` (the form irssi's `-tls_pinned_cert` takes).

/// SHA-256 of a DER certificate, as `AB:CD:...`.
pub fn sha256(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_are_colon_separated_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(
            super::sha256(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }
}
