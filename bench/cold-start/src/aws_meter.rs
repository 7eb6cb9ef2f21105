//! A loopback pass-through in front of the local AWS API that adds up how
//! long the API took to answer the function under test. The local API is
//! moto, in Python: a few milliseconds a request, which would otherwise be
//! counted as the function's own cold start.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

#[derive(Clone)]
pub struct AwsMeter {
    upstream: String,
    client: reqwest::Client,
    /// When each request was received, and how long the AWS API took.
    requests: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

/// What the function waited on the AWS API for, over some span of time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Waited {
    pub total: Duration,
    pub requests: u64,
}

impl AwsMeter {
    pub fn new(upstream: String) -> AwsMeter {
        AwsMeter {
            upstream,
            client: reqwest::Client::new(),
            requests: Arc::default(),
        }
    }

    /// Serves on a free loopback port; returns the endpoint URL to give the function.
    pub async fn serve(&self) -> String {
        let app = Router::new().fallback(forward).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    pub fn reset(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// The requests received from `from` until `until`.
    pub fn waited(&self, from: Instant, until: Instant) -> Waited {
        let requests = self.requests.lock().unwrap();
        let within = requests.iter().filter(|(at, _)| (from..until).contains(at));
        within.fold(Waited::default(), |sum, (_, took)| Waited {
            total: sum.total + *took,
            requests: sum.requests + 1,
        })
    }
}

/// Headers that belong to one connection, which a proxy does not pass on
/// (RFC 9110, 7.6.1). moto closes every connection; a function talking to
/// AWS keeps its own open, and so it does here.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers
}

/// Passes the request on (the Host header too: it is signed) and times it
/// from sending to the last byte of the answer.
async fn forward(
    State(meter): State<AwsMeter>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let started = Instant::now();
    let answer = async {
        let response = meter
            .client
            .request(method, format!("{}{path}", meter.upstream))
            .headers(end_to_end(headers))
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let headers = end_to_end(response.headers().clone());
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, body))
    }
    .await;
    let took = started.elapsed();
    meter.requests.lock().unwrap().push((started, took));
    match answer {
        Ok((status, headers, body)) => (status, headers, Body::from(body)).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
