//! UPLOAD: the token with which this connection may upload files over the
//! web port (docs/PROTOCOL.md, "Files"), and the address to send them to.

use super::{Cx, Flow};
use crate::line::Message;
use crate::sys::{hex, random_bytes};

/// `UPLOAD` → `:server UPLOAD http://ADDR:PORT/upload TOKEN`.
pub fn upload(cx: &mut Cx<'_>, _msg: &Message<'_>) -> Flow {
    let Some(store) = &cx.shared.files else {
        cx.reply("FAIL", &["UPLOAD", "DISABLED"], Some("File sharing is turned off on this server"));
        return Flow::Continue;
    };
    let token = match cx.st.upload_token(cx.conn.id) {
        Some(t) => t,
        None => match random_bytes::<16>() {
            Ok(t) => {
                cx.st.add_upload_token(cx.conn.id, t);
                t
            }
            Err(e) => {
                log::error!("no random upload token: {e}");
                cx.reply("FAIL", &["UPLOAD", "TEMPORARILY_UNAVAILABLE"], Some("Uploads are not possible now"));
                return Flow::Continue;
            }
        },
    };
    // The address this client reached us on is one it can reach the web port on.
    let ip = cx.conn.out.local_addr().map_or(cx.shared.config.bind, |a| a.ip());
    let url = format!("http://{}/upload", std::net::SocketAddr::new(ip, store.web_port));
    cx.reply("UPLOAD", &[&url, &hex(&token)], None);
    Flow::Continue
}
