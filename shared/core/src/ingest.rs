//! The ingest side: one axum router, served by `accueil serve` locally and
//! by `lambda_http` on AWS. It verifies, normalizes, enqueues and answers
//! fast; it never touches the store.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::channels;
use crate::config::Config;
use crate::ports::{Clock, Queue};
use crate::webhook::{Inbound, MAX_BODY_BYTES};

/// The webhook routes of every enabled channel, plus a health check.
pub fn router(config: Arc<Config>, queue: Arc<dyn Queue>, clock: Arc<dyn Clock>) -> Router {
    channels::routes(&Inbound::new(config, queue, clock))
        .route("/health", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
