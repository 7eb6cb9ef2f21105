//! A loopback Lambda Runtime API: hands one event to the function under
//! test and notes when it asked for it and when it answered.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

#[derive(Default)]
pub struct Invocation {
    pub event: Option<Value>,
    pub served: bool,
    pub ready_at: Option<Instant>,
    pub answer: Option<(Instant, Result<String, String>)>,
}

#[derive(Clone, Default)]
pub struct RuntimeApi {
    pub invocation: Arc<Mutex<Invocation>>,
    pub answered: Arc<Notify>,
}

impl RuntimeApi {
    pub fn arm(&self, event: Value) {
        *self.invocation.lock().unwrap() = Invocation {
            event: Some(event),
            ..Default::default()
        };
    }

    pub async fn serve(&self) -> String {
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        address
    }

    fn record(&self, answer: Result<String, String>) {
        self.invocation.lock().unwrap().answer = Some((Instant::now(), answer));
        self.answered.notify_one();
    }
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    let event = {
        let mut invocation = api.invocation.lock().unwrap();
        if invocation.served {
            None
        } else {
            invocation.served = true;
            invocation.ready_at = Some(Instant::now());
            invocation.event.clone()
        }
    };
    let Some(event) = event else {
        // One invocation per cold start: the next poll waits until the process is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_static("bench-request-1"),
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

async fn response(
    State(api): State<RuntimeApi>,
    Path(_id): Path<String>,
    body: String,
) -> StatusCode {
    api.record(Ok(body));
    StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, Path(_id): Path<String>, body: String) -> StatusCode {
    api.record(Err(body));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<RuntimeApi>, body: String) -> StatusCode {
    api.record(Err(format!("init error: {body}")));
    StatusCode::ACCEPTED
}
