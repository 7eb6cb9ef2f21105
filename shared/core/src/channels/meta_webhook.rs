//! The webhook Meta's platforms share (WhatsApp, Messenger, Instagram):
//! `GET` answers the subscription handshake with the verify token, `POST`
//! carries events signed with the app secret (`meta_signature`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use crate::config::SecretValue;
use crate::domain::Channel;
use crate::webhook::{read_body, Inbound, Parsed};

/// Outside the 24 hours after a customer's message, Meta's platforms take
/// only approved templates: an acknowledgement later than that is refused.
pub const REPLY_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Reads an authentic body into what it holds, or says why it cannot.
pub type Parser = Box<dyn Fn(&[u8], DateTime<Utc>) -> Result<Parsed, String> + Send + Sync>;

/// One Meta channel's webhook: its secrets, keyed once, and its parser.
struct Webhook {
    channel: Channel,
    inbound: Arc<Inbound>,
    signature: MetaSignature,
    verify_token: SecretValue,
    parse: Parser,
}

pub fn routes(
    channel: Channel,
    path: &'static str,
    inbound: &Arc<Inbound>,
    app_secret: &SecretValue,
    verify_token: &SecretValue,
    parse: Parser,
) -> Router {
    let webhook = Webhook {
        channel,
        inbound: inbound.clone(),
        signature: MetaSignature::new(app_secret.expose()),
        verify_token: verify_token.clone(),
        parse,
    };
    Router::new()
        .route(path, get(handshake).post(receive))
        .with_state(Arc::new(webhook))
}

/// Meta checks the endpoint by sending the verify token and a challenge to echo.
async fn handshake(
    State(webhook): State<Arc<Webhook>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let channel = webhook.channel;
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query
        .get("hub.verify_token")
        .map(String::as_bytes)
        .unwrap_or_default();
    let expected = webhook.verify_token.expose().as_bytes();
    match (mode, query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if bool::from(token.ct_eq(expected)) => {
            tracing::info!(%channel, "subscription handshake accepted");
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!(%channel, "subscription handshake refused");
            (StatusCode::FORBIDDEN, "Forbidden").into_response()
        }
    }
}

async fn receive(State(webhook): State<Arc<Webhook>>, request: Request) -> Response {
    let channel = webhook.channel;
    let (parts, body) = match read_body(request).await {
        Ok(read) => read,
        Err(too_large) => return too_large,
    };
    let header = parts
        .headers
        .get(META_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = webhook.signature.verify(header, &body) {
        tracing::warn!(%channel, error = %e, "refused an unsigned or forged webhook");
        return (StatusCode::UNAUTHORIZED, "invalid signature\n").into_response();
    }
    let parsed = (webhook.parse)(&body, webhook.inbound.clock.now());
    webhook.inbound.accept(channel, &body, parsed).await
}
