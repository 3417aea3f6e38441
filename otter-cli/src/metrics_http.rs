//! The Prometheus endpoint of `otter run` (`metrics_addr`) and `otter verify --continuous`
//! (`--metrics-addr`): `GET /metrics` answers what a render function returns at that moment.

use std::sync::Arc;

use otter_core::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Renders the exposition text.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Listens on `addr` (`PORT`, `:PORT` or `HOST:PORT`; loopback unless a host is given).
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener> {
    let addr = if addr.starts_with(':') {
        format!("127.0.0.1{addr}")
    } else if !addr.contains(':') {
        format!("127.0.0.1:{addr}")
    } else {
        addr.to_owned()
    };
    tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| Error::config(format!("cannot listen on {addr} for metrics: is the port taken? give another address")).with_source(e))
}

/// Serves `GET /metrics`: what `render` returns, in the Prometheus text format.
pub async fn serve(listener: tokio::net::TcpListener, render: Render) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else { continue };
        let render = Arc::clone(&render);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            while n < buf.len() {
                match sock.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => n += k,
                }
                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let head = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if head.starts_with("GET /metrics") {
                ("200 OK", render())
            } else {
                ("404 Not Found", "not found: try /metrics\n".to_owned())
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}
