//! The socket as every connection holds it: one `Arc` to the registered
//! socket (8 bytes), where `async_net::TcpStream` is 120 bytes per clone.
//! Each connection's reader, writer and shutdown handle would otherwise
//! cost a third of an idle connection's memory.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use smol::Async;
use smol::io::{AsyncRead, AsyncWrite};

use super::web::websocket;

/// The registered socket, shared by the connection's reader and writer.
pub type Raw = Arc<Async<std::net::TcpStream>>;

/// One side of a connection: reads or writes the shared socket, plainly
/// or through the WebSocket framing. One type for both, so the session and
/// its writer are compiled once, not once per transport (10 KB of binary);
/// the WebSocket sides are boxed, so a plain one stays two words.
pub enum Half {
    Plain(Raw),
    WsRead(Box<websocket::Reader>),
    WsWrite(Box<websocket::Writer>),
}

fn unsupported<T>() -> Poll<io::Result<T>> {
    Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
}

impl AsyncRead for Half {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match &mut *self {
            Half::Plain(raw) => Pin::new(&mut &**raw).poll_read(cx, buf),
            Half::WsRead(r) => Pin::new(&mut **r).poll_read(cx, buf),
            Half::WsWrite(_) => unsupported(),
        }
    }
}

impl AsyncWrite for Half {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut *self {
            Half::Plain(raw) => Pin::new(&mut &**raw).poll_write(cx, buf),
            Half::WsWrite(w) => Pin::new(&mut **w).poll_write(cx, buf),
            Half::WsRead(_) => unsupported(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Half::Plain(raw) => Pin::new(&mut &**raw).poll_flush(cx),
            Half::WsWrite(w) => Pin::new(&mut **w).poll_flush(cx),
            Half::WsRead(_) => unsupported(),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Half::Plain(raw) => Pin::new(&mut &**raw).poll_close(cx),
            Half::WsWrite(w) => Pin::new(&mut **w).poll_close(cx),
            Half::WsRead(_) => unsupported(),
        }
    }
}
