//! The channel API the server's acknowledgements go to: a loopback HTTP
//! server that answers as WhatsApp's Cloud API does and records, for each
//! webhook of the scenario, when its acknowledgement arrived. Nothing the
//! benchmark starts can reach a real provider: every channel with an API is
//! pointed here (`config_text`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Result;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::webhooks::index_of_message_id;
use crate::{now_us, Micros};

/// Arrival times of the acknowledgements of one scenario's webhooks.
#[derive(Default)]
struct Record {
    /// By webhook index: when its acknowledgement arrived (µs since the
    /// epoch), 0 until then.
    arrived: Vec<AtomicU64>,
    /// Acknowledgements of a webhook already acknowledged.
    repeated: AtomicUsize,
    /// Requests that named no webhook of the scenario.
    unknown: AtomicUsize,
    count: AtomicUsize,
}

#[derive(Clone)]
struct Shared {
    record: Arc<RwLock<Arc<Record>>>,
    /// How long it waits before answering, as a provider's API takes time.
    delay: Duration,
}

pub struct StandIn {
    pub base: String,
    shared: Shared,
}

/// What the stand-in saw of one scenario.
pub struct Acks {
    /// By webhook index: arrival time, if it came.
    pub arrived: Vec<Option<Micros>>,
    pub repeated: usize,
    pub unknown: usize,
}

impl StandIn {
    pub async fn start(delay: Duration) -> Result<StandIn> {
        let shared = Shared {
            record: Arc::default(),
            delay,
        };
        let app = Router::new()
            .route("/{*path}", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the stand-in channel API stopped: {e}");
            }
        });
        Ok(StandIn { base, shared })
    }

    /// Starts recording a scenario of `webhooks` webhooks, forgetting the last.
    pub fn expect(&self, webhooks: usize) {
        let record = Record {
            arrived: (0..webhooks).map(|_| AtomicU64::new(0)).collect(),
            ..Record::default()
        };
        *self.shared.record.write().unwrap() = Arc::new(record);
    }

    /// Acknowledgements of the current scenario's webhooks so far.
    pub fn count(&self) -> usize {
        self.current().count.load(Ordering::Relaxed)
    }

    pub fn acks(&self) -> Acks {
        let record = self.current();
        Acks {
            arrived: record
                .arrived
                .iter()
                .map(|t| match t.load(Ordering::Relaxed) {
                    0 => None,
                    t => Some(t),
                })
                .collect(),
            repeated: record.repeated.load(Ordering::Relaxed),
            unknown: record.unknown.load(Ordering::Relaxed),
        }
    }

    fn current(&self) -> Arc<Record> {
        self.shared.record.read().unwrap().clone()
    }
}

/// Records the acknowledgement by the message it quotes, then answers as
/// the Cloud API does (`messages[0].id` is the receipt the server keeps).
async fn answer(State(shared): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let at = now_us();
    let record = shared.record.read().unwrap().clone();
    let index = body["context"]["message_id"]
        .as_str()
        .and_then(index_of_message_id)
        .filter(|&i| i < record.arrived.len());
    match index {
        Some(i) => {
            if record.arrived[i]
                .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                record.count.fetch_add(1, Ordering::Relaxed);
            } else {
                record.repeated.fetch_add(1, Ordering::Relaxed);
            }
        }
        None => {
            record.unknown.fetch_add(1, Ordering::Relaxed);
        }
    }
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    let to = body["to"].clone();
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": to }],
        "messages": [{ "id": format!("wamid.ACK{at}") }],
    }))
}
