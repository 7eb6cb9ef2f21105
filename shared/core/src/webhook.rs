//! What every channel's webhook handlers are given, and the HTTP steps they
//! share: reading a bounded body, finding the client's address, handing
//! jobs to the queue. Channels build on this; `ingest` assembles them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::domain::{Amendment, Channel, Envelope, Quarantined};
use crate::ports::{Clock, Job, Queue};

/// Bodies above this are refused with 413 before they are read whole.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The business's configuration, the clock and the queue: a handler's whole world.
pub struct Inbound {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    queue: Arc<dyn Queue>,
}

impl Inbound {
    pub fn new(config: Arc<Config>, queue: Arc<dyn Queue>, clock: Arc<dyn Clock>) -> Arc<Inbound> {
        Arc::new(Inbound {
            config,
            clock,
            queue,
        })
    }

    /// Hands jobs to the queue. If the queue cannot take them the provider
    /// gets a 503 and delivers again later: an authentic payload is never
    /// answered 2xx before it is safe.
    pub async fn enqueue(&self, jobs: &[Job]) -> Result<(), Response> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.queue.enqueue(jobs).await.map_err(|e| {
            tracing::error!(error = %e, "queue refused jobs; answering 503 so the provider retries");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
        })
    }
}

/// What one webhook delivery held, as its channel's parser read it.
#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct Parsed {
    pub envelopes: Vec<Envelope>,
    /// Customer messages that were present but could not be read, each with
    /// why, naming its position and never its content (ingest then
    /// quarantines the raw payload, so nothing is lost).
    pub unreadable: Vec<String>,
    /// Changes customers made to messages they sent (edits, unsends).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<Amendment>,
    /// Events that are not customer messages (receipts, echoes, reactions,
    /// another page's entries): counted in the log, never acknowledged.
    #[serde(skip_serializing_if = "is_zero")]
    pub ignored: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Inbound {
    /// Queues what an authentic delivery held and answers the provider:
    /// its messages, and the raw payload in quarantine when some of it (or
    /// all of it, `Err` with why) could not be read.
    pub async fn accept(
        &self,
        channel: Channel,
        body: &[u8],
        parsed: Result<Parsed, String>,
    ) -> Response {
        let now = self.clock.now();
        let parsed = parsed.unwrap_or_else(|why| Parsed {
            unreadable: vec![why],
            ..Parsed::default()
        });
        let mut jobs = Vec::new();
        if !parsed.unreadable.is_empty() {
            let reason = parsed.unreadable.join("; ");
            jobs.push(Job::Quarantine(Quarantined::new(
                channel, now, reason, body,
            )));
        }
        let messages = parsed.envelopes.len();
        let amendments = parsed.amendments.len();
        jobs.extend(parsed.envelopes.into_iter().map(Job::Message));
        jobs.extend(parsed.amendments.into_iter().map(Job::Amend));
        if let Err(unavailable) = self.enqueue(&jobs).await {
            return unavailable;
        }
        tracing::info!(
            %channel,
            messages,
            amendments,
            quarantined = !parsed.unreadable.is_empty(),
            ignored = parsed.ignored,
            "webhook accepted"
        );
        (StatusCode::OK, "ok\n").into_response()
    }
}

/// The client's address for rate limiting: the socket's peer when served
/// directly, else the last hop API Gateway appended to X-Forwarded-For
/// (earlier hops are whatever the client claimed).
pub fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>, headers: &HeaderMap) -> Option<IpAddr> {
    if let Some(ConnectInfo(addr)) = connect {
        return Some(addr.ip());
    }
    headers
        .get("x-forwarded-for")?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Reads a request's body whole, refusing more than `MAX_BODY_BYTES` with 413.
pub async fn read_body(
    request: axum::extract::Request,
) -> Result<(axum::http::request::Parts, axum::body::Bytes), Response> {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(_) => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY_BYTES} bytes\n"),
        )
            .into_response()),
    }
}
