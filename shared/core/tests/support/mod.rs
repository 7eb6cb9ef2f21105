//! What the golden and the property tests share: a webhook posted, signed
//! as its provider signs it, to the demo business's own router, and what
//! that queued.

use std::path::Path;
use std::sync::{Arc, Mutex};

use accueil_core::channels::{self, Channel};
use accueil_core::config::Config;
use accueil_core::ingest;
use accueil_core::ports::{Clock, Job, Queue, QueueError};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use chrono::{DateTime, Utc};
use tower::ServiceExt;

/// Every webhook arrives at this instant, so fallbacks are stable.
struct Arrival;

impl Clock for Arrival {
    fn now(&self) -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }
}

/// Keeps what the route queued.
#[derive(Default)]
struct Queued(Mutex<Vec<Job>>);

#[async_trait]
impl Queue for Queued {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), QueueError> {
        self.0.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }

    async fn enqueue_later(
        &self,
        job: &Job,
        _delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

/// The content type of a fixture: `.form` files are form posts.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("form") => "application/x-www-form-urlencoded",
        _ => "application/json",
    }
}

/// Posts `body`, signed as the channel's provider signs it, to a fresh
/// router (and so a fresh rate limiter); the status, and the jobs queued.
pub fn deliver(
    config: &Arc<Config>,
    channel: Channel,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Vec<Job>) {
    let queue = Arc::new(Queued::default());
    let router = ingest::webhooks(config.clone(), queue.clone(), Arc::new(Arrival));
    let (_, path) = channels::webhook(channel);
    let mut request = Request::post(path)
        .header("content-type", content_type)
        .header("accept", "application/json");
    for (name, value) in channels::signature(config, channel, &body).unwrap() {
        request = request.header(name, value);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        router
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    let jobs = std::mem::take(&mut *queue.0.lock().unwrap());
    (status, jobs)
}
