//! Is the gateway ready? `GET /readyz` (or `/healthz` for liveness) over a
//! real HTTP/1 client: ready means status 200 **and** a JSON body saying so
//! (`"ready":true`, or `"ok":true` for liveness). An HTML 200 from a build
//! without the route is not ready.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

use crate::settings::ReadyProbe;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Ready,
    Live,
}

impl Check {
    fn path(self) -> &'static str {
        match self {
            Check::Ready => "/readyz",
            Check::Live => "/healthz",
        }
    }
}

/// One attempt, bounded by `limit`.
pub async fn http_once(port: u16, check: Check, limit: Duration) -> bool {
    timeout(limit, http_attempt(port, check)).await.unwrap_or(false)
}

async fn http_attempt(port: u16, check: Check) -> bool {
    let Ok(stream) = TcpStream::connect(local(port)).await else { return false };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, connection)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return false;
    };
    let driver = tokio::spawn(connection);
    // Always valid (a fixed path and headers); still no panic in PID 1.
    let Ok(request) = Request::get(check.path())
        .header(hyper::header::HOST, format!("127.0.0.1:{port}"))
        .header(hyper::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
    else {
        driver.abort();
        return false;
    };
    let answer = async {
        let response = sender.send_request(request).await.ok()?;
        if response.status() != hyper::StatusCode::OK {
            return None;
        }
        // The body is a small JSON object; refuse to buffer anything large.
        let body = Limited::new(response.into_body(), 64 * 1024).collect().await.ok()?.to_bytes();
        Some(says_yes(&body, check))
    };
    let ok = answer.await.unwrap_or(false);
    driver.abort();
    ok
}

fn says_yes(body: &[u8], check: Check) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return false };
    let key = match check {
        Check::Ready => "ready",
        Check::Live => "ok",
    };
    map.get(key) == Some(&Value::Bool(true))
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// How often to look: a refused TCP connect costs the gateway nothing, so
/// those are frequent; once the port accepts, HTTP polls at a modest rate
/// that still notices readiness within tens of milliseconds.
const CONNECT_EVERY: Duration = Duration::from_millis(10);
const POLL_EVERY: Duration = Duration::from_millis(40);
const ATTEMPT_LIMIT: Duration = Duration::from_secs(1);

/// Resolve once the gateway is ready by `probe`; never resolves otherwise
/// (the caller races it against the timeout, signals and child exits).
pub async fn wait_ready(probe: ReadyProbe, port: u16) {
    if probe == ReadyProbe::None {
        return;
    }
    // Phase 1: until the port accepts.
    loop {
        let started = Instant::now();
        if matches!(timeout(ATTEMPT_LIMIT, TcpStream::connect(local(port))).await, Ok(Ok(_))) {
            break;
        }
        sleep(CONNECT_EVERY.saturating_sub(started.elapsed())).await;
    }
    if probe == ReadyProbe::Tcp {
        return;
    }
    // Phase 2: until /readyz says so.
    loop {
        let started = Instant::now();
        if http_once(port, Check::Ready, ATTEMPT_LIMIT).await {
            return;
        }
        sleep(POLL_EVERY.saturating_sub(started.elapsed())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_yes_counts() {
        assert!(says_yes(br#"{"ready":true,"failing":[]}"#, Check::Ready));
        assert!(!says_yes(br#"{"ready":false,"failing":["startup-sidecars"]}"#, Check::Ready));
        assert!(!says_yes(b"<!doctype html><html>ready</html>", Check::Ready));
        assert!(!says_yes(br#"{"ready":"true"}"#, Check::Ready));
        assert!(says_yes(br#"{"ok":true,"status":"live"}"#, Check::Live));
        assert!(!says_yes(br#"{"ready":true}"#, Check::Live));
    }
}
