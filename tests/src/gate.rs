//! A pass-through in front of the local AWS API that fails one kind of
//! request the way AWS does when a service is down, throttling, refusing,
//! or never answering. The functions' own SDK clients, pointed at it, meet
//! the faults a deployed function would, on the wire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The requests a fault can be put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Every DynamoDB request: the store.
    Dynamodb,
    /// SQS `SendMessage`: the queue as ingest meets it.
    SqsSend,
    /// SES `SendRawEmail`.
    SesSend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503, as a service in trouble answers.
    Unavailable,
    /// SES's `Throttling`: the sending rate or the daily quota is used up.
    Throttling,
    /// SES's `MessageRejected`: retrying will not change it.
    Rejected,
    /// No answer at all; the connection stays open.
    Hang,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    faults: Arc<Mutex<HashMap<Service, Fault>>>,
    held: Arc<AtomicUsize>,
    emailed: Arc<Mutex<Vec<String>>>,
}

pub struct Gate {
    /// Where the SDK clients are pointed.
    pub endpoint: String,
    faults: Arc<Mutex<HashMap<Service, Fault>>>,
    held: Arc<AtomicUsize>,
    emailed: Arc<Mutex<Vec<String>>>,
}

impl Gate {
    /// A gate in front of `upstream` (the local AWS API), passing everything.
    pub async fn start(upstream: String) -> Gate {
        let shared = Shared {
            upstream,
            client: reqwest::Client::new(),
            faults: Arc::default(),
            held: Arc::default(),
            emailed: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(pass)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Gate {
            endpoint,
            faults: shared.faults,
            held: shared.held,
            emailed: shared.emailed,
        }
    }

    /// Puts `fault` on `service`'s requests from now on; None lifts it.
    pub fn set(&self, service: Service, fault: Option<Fault>) {
        let mut faults = self.faults.lock().unwrap();
        match fault {
            Some(fault) => faults.insert(service, fault),
            None => faults.remove(&service),
        };
    }

    /// How many requests a `Hang` has held so far.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// The recipients of every email SES accepted through this gate. Asked
    /// often (a test waiting for an acknowledgement), reading moto's whole
    /// state instead (`aws::sent_emails`) kept it too busy to answer the
    /// functions' own requests in time.
    pub fn emailed(&self) -> Vec<String> {
        self.emailed.lock().unwrap().clone()
    }
}

fn service_of(target: &str, body: &[u8]) -> Option<Service> {
    if target.starts_with("DynamoDB_") {
        Some(Service::Dynamodb)
    } else if target == "AmazonSQS.SendMessage" {
        Some(Service::SqsSend)
    } else if body.starts_with(b"Action=SendRawEmail") {
        Some(Service::SesSend)
    } else {
        None
    }
}

async fn pass(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let service = service_of(target, &body);
    let fault = service.and_then(|s| shared.faults.lock().unwrap().get(&s).copied());
    if let (Some(service), Some(fault)) = (service, fault) {
        if fault == Fault::Hang {
            shared.held.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        return refusal(service, fault);
    }
    let url = format!(
        "{}{}",
        shared.upstream,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut forward = shared.client.request(parts.method, url).body(body.clone());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name, value);
        }
    }
    let answer = forward.send().await.expect("the local AWS API answers");
    if service == Some(Service::SesSend) && answer.status().is_success() {
        let recipients = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| name.starts_with("Destinations.member."))
            .map(|(_, address)| address);
        shared.emailed.lock().unwrap().extend(recipients);
    }
    let mut response = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap();
    response.body(Body::from(bytes)).unwrap()
}

/// The error each service answers with, in its own protocol.
fn refusal(service: Service, fault: Fault) -> Response {
    match service {
        Service::Dynamodb | Service::SqsSend => {
            let kind = if service == Service::Dynamodb {
                "com.amazonaws.dynamodb.v20120810#ServiceUnavailableException"
            } else {
                "com.amazonaws.sqs#ServiceUnavailable"
            };
            let body = serde_json::json!({ "__type": kind, "message": "Service unavailable" });
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, body.to_string()).into_response();
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/x-amz-json-1.0"),
            );
            response
        }
        Service::SesSend => {
            let (status, code, message) = match fault {
                Fault::Throttling => (
                    StatusCode::BAD_REQUEST,
                    "Throttling",
                    "Maximum sending rate exceeded.",
                ),
                Fault::Rejected => (
                    StatusCode::BAD_REQUEST,
                    "MessageRejected",
                    "Email address is not verified.",
                ),
                Fault::Unavailable | Fault::Hang => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "Service unavailable",
                ),
            };
            let body = format!(
                "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>gate</RequestId></ErrorResponse>"
            );
            let mut response = (status, body).into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("text/xml"));
            response
        }
    }
}
