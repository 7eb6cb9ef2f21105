//! The ingest side: one axum router, served by `accueil serve` locally and
//! by `lambda_http` on AWS. Its webhooks verify, normalize, enqueue and
//! answer fast, never touching the store; the owner's pages read it and
//! change threads (`owner::routes`).

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::channels;
use crate::config::Config;
use crate::owner;
use crate::ports::{Clock, Queue, Store};
use crate::webhook::{Inbound, MAX_BODY_BYTES};

/// The webhook routes of every enabled channel, the owner's pages, and a
/// health check: what `serve` and the ingest function serve.
pub fn router(
    config: Arc<Config>,
    queue: Arc<dyn Queue>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Router {
    let pages = owner::routes(config.clone(), store, queue.clone(), clock.clone());
    webhooks(config, queue, clock).merge(pages)
}

/// The webhook routes alone, with the health check: all a provider can reach
/// without the store.
pub fn webhooks(config: Arc<Config>, queue: Arc<dyn Queue>, clock: Arc<dyn Clock>) -> Router {
    channels::routes(&Inbound::new(config, queue, clock))
        .route("/health", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
