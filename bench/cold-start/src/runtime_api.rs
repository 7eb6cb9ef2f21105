//! A loopback Lambda Runtime API for one function process: hands out the
//! events it is given, one per poll (a poll waits for one), and notes when
//! each was handed out and when each was answered. A fresh one serves each
//! cold start, so a process stopped mid-poll cannot take another's events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// One answer: when it came, and the response body or the error reported.
pub type Answer = (Instant, Result<String, String>);

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<VecDeque<Value>>>,
    arrived: Arc<Notify>,
    handed_out: Arc<Mutex<Vec<Instant>>>,
    answers: mpsc::UnboundedSender<Answer>,
}

pub struct RuntimeApi {
    pub address: String,
    shared: Shared,
    answers: mpsc::UnboundedReceiver<Answer>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn serve() -> RuntimeApi {
        let (sender, answers) = mpsc::unbounded_channel();
        let shared = Shared {
            events: Arc::default(),
            arrived: Arc::default(),
            handed_out: Arc::default(),
            answers: sender,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi {
            address,
            shared,
            answers,
            server,
        }
    }

    /// Queues an event for the function's next poll.
    pub fn invoke(&self, event: Value) {
        self.shared.events.lock().unwrap().push_back(event);
        self.shared.arrived.notify_one();
    }

    /// The next answer, in order.
    pub async fn answer(&mut self) -> Option<Answer> {
        self.answers.recv().await
    }

    /// When the `n`th event (from 0) was handed out.
    pub fn handed_out(&self, n: usize) -> Option<Instant> {
        self.shared.handed_out.lock().unwrap().get(n).copied()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(api): State<Shared>) -> Response {
    let event = loop {
        let event = api.events.lock().unwrap().pop_front();
        match event {
            Some(event) => break event,
            None => api.arrived.notified().await,
        }
    };
    let request_id = {
        let mut handed_out = api.handed_out.lock().unwrap();
        handed_out.push(Instant::now());
        format!("bench-request-{}", handed_out.len())
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&request_id).unwrap(),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
    );
    (StatusCode::OK, headers, event.to_string()).into_response()
}

async fn response(State(api): State<Shared>, Path(_id): Path<String>, body: String) -> StatusCode {
    let _ = api.answers.send((Instant::now(), Ok(body)));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<Shared>, Path(_id): Path<String>, body: String) -> StatusCode {
    let _ = api.answers.send((Instant::now(), Err(body)));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Shared>, body: String) -> StatusCode {
    let _ = api
        .answers
        .send((Instant::now(), Err(format!("init error: {body}"))));
    StatusCode::ACCEPTED
}
