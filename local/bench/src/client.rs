//! A small HTTP/1.1 client on one kept-alive connection: the bench's own load
//! generator for requests that need a header per request (tokens, idempotency
//! keys), which `oha` cannot vary.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::Error;

pub struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, Error> {
        let stream =
            tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        // Without it small requests can wait on delayed ACKs.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { addr, sender })
    }

    /// Sends one request, reconnecting once if the server closed the connection.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            *self = Self::connect(self.addr).await?;
        }
        let mut builder = Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let body = match body {
            Some(text) => {
                builder = builder.header("content-type", "application/json");
                Full::new(Bytes::from(text.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body).map_err(|e| format!("bad request {path}: {e}"))?;
        let response = self.sender.send_request(request).await.map_err(|e| format!("{path}: {e}"))?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|e| format!("{path}: {e}"))?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }

    pub async fn get(&mut self, path: &str, headers: &[(&str, String)]) -> Result<(StatusCode, Bytes), Error> {
        let (status, _, body) = self.send(Method::GET, path, headers, None).await?;
        Ok((status, body))
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        body: &str,
        headers: &[(&str, String)],
    ) -> Result<(StatusCode, Bytes), Error> {
        let (status, _, body) = self.send(Method::POST, path, headers, Some(body)).await?;
        Ok((status, body))
    }
}

/// Polls `GET path` until it answers 2xx, or fails after `timeout`; `alive`
/// reports a server process that died meanwhile.
pub async fn wait_until_ok(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<(), Error>,
) -> Result<(), Error> {
    let start = std::time::Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < timeout {
        alive()?;
        match Conn::connect(addr).await {
            Ok(mut conn) => match conn.get(path, &[]).await {
                Ok((status, _)) if status.is_success() => return Ok(()),
                Ok((status, body)) => last = format!("{status}: {}", String::from_utf8_lossy(&body)),
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("http://{addr}{path} did not answer 2xx within {} s ({last})", timeout.as_secs()).into())
}

/// Fails unless `GET /api/items/` lists items of every service: a fan-out that
/// names unavailable services answers 200 too, and would be measured on errors.
pub async fn check_fan_out(conn: &mut Conn) -> Result<(), Error> {
    let (status, body) = conn.get("/api/items/", &[]).await?;
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let unavailable = page["unavailable"].as_array().map(Vec::len).unwrap_or(0);
    if !status.is_success() || unavailable > 0 || page["results"].as_array().is_none_or(Vec::is_empty) {
        return Err(format!("the fan-out does not answer fully: {status} {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(())
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}
