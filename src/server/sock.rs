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

/// The registered socket, shared by the connection's reader and writer.
pub type Raw = Arc<Async<std::net::TcpStream>>;

/// One side of a plain connection: reads or writes the shared socket.
pub struct Half(pub Raw);

impl AsyncRead for Half {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Half {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.0).poll_close(cx)
    }
}
