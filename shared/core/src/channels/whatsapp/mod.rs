//! WhatsApp Cloud API: `GET /webhooks/whatsapp` answers Meta's subscription
//! handshake, `POST` carries messages and statuses signed with the app secret.
//! Acknowledgements are Graph API `POST /{phone_number_id}/messages` requests.

pub mod payload;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::ack::AckText;
use crate::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use crate::channels::{Api, Sample, SampleError, SampleRequest};
use crate::config::{self, ConfigError, SecretSource, SecretValue};
use crate::domain::{
    Address, BusinessScopedUserId, Channel, PhoneNumber, Quarantined, WhatsappRecipient,
};
use crate::ports::{ApiRequest, Job};
use crate::webhook::{read_body, Inbound};

pub const PATH: &str = "/webhooks/whatsapp";

/// `[channels.whatsapp]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    phone_number_id: String,
    verify_token: String,
    app_secret: String,
    access_token: String,
    api_base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub phone_number_id: String,
    pub verify_token: SecretValue,
    pub app_secret: SecretValue,
    pub access_token: SecretValue,
    /// Where the Graph API lives. Unset locally: acknowledgements land in the
    /// outbox instead of being sent.
    pub api_base_url: Option<String>,
}

pub fn settings(raw: RawSettings, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
    let secret = |name: &str, value: &str| {
        config::resolve(&format!("channels.whatsapp.{name}"), value, secrets)
    };
    if raw.phone_number_id.is_empty() || !raw.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::new(
            "channels.whatsapp.phone_number_id",
            "is the numeric id Meta shows beside your number",
        ));
    }
    let api_base_url = match raw.api_base_url {
        Some(url) => Some(config::check_base_url(
            "channels.whatsapp.api_base_url",
            url,
        )?),
        None => None,
    };
    Ok(Settings {
        phone_number_id: raw.phone_number_id,
        verify_token: secret("verify_token", &raw.verify_token)?,
        app_secret: secret("app_secret", &raw.app_secret)?,
        access_token: secret("access_token", &raw.access_token)?,
        api_base_url,
    })
}

/// The handlers' state: the shared one, and the verifier keyed once.
struct Webhook {
    inbound: Arc<Inbound>,
    signature: MetaSignature,
}

pub fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
    let webhook = Webhook {
        inbound: inbound.clone(),
        signature: MetaSignature::new(settings.app_secret.expose()),
    };
    Router::new()
        .route(PATH, get(handshake).post(receive))
        .with_state(Arc::new(webhook))
}

/// Meta checks the endpoint by sending the verify token and a challenge to echo.
async fn handshake(
    State(webhook): State<Arc<Webhook>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(settings) = &webhook.inbound.config.whatsapp else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query
        .get("hub.verify_token")
        .map(String::as_bytes)
        .unwrap_or_default();
    let expected = settings.verify_token.expose().as_bytes();
    match (mode, query.get("hub.challenge")) {
        (Some("subscribe"), Some(challenge)) if bool::from(token.ct_eq(expected)) => {
            tracing::info!(channel = "whatsapp", "subscription handshake accepted");
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => {
            tracing::warn!(channel = "whatsapp", "subscription handshake refused");
            (StatusCode::FORBIDDEN, "Forbidden").into_response()
        }
    }
}

async fn receive(State(webhook): State<Arc<Webhook>>, request: Request) -> Response {
    let inbound = &webhook.inbound;
    let (parts, body) = match read_body(request).await {
        Ok(read) => read,
        Err(too_large) => return too_large,
    };
    let header = parts
        .headers
        .get(META_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    if let Err(e) = webhook.signature.verify(header, &body) {
        tracing::warn!(channel = "whatsapp", error = %e, "refused an unsigned or forged webhook");
        return (StatusCode::UNAUTHORIZED, "invalid signature\n").into_response();
    }

    let now = inbound.clock.now();
    let mut jobs = Vec::new();
    match payload::parse(&body, now) {
        Ok(parsed) => {
            if !parsed.unreadable.is_empty() {
                let reason = parsed.unreadable.join("; ");
                jobs.push(Job::Quarantine(Quarantined::new(
                    Channel::Whatsapp,
                    now,
                    reason,
                    &body,
                )));
            }
            jobs.extend(parsed.envelopes.into_iter().map(Job::Message));
        }
        Err(e) => {
            jobs.push(Job::Quarantine(Quarantined::new(
                Channel::Whatsapp,
                now,
                e.to_string(),
                &body,
            )));
        }
    }
    let (messages, quarantined) = jobs.iter().fold((0, 0), |(m, q), j| match j {
        Job::Message(_) => (m + 1, q),
        Job::Quarantine(_) => (m, q + 1),
    });
    if let Err(unavailable) = inbound.enqueue(&jobs).await {
        return unavailable;
    }
    tracing::info!(
        channel = "whatsapp",
        messages,
        quarantined,
        "webhook accepted"
    );
    (StatusCode::OK, "ok\n").into_response()
}

/// A Cloud API text message as Meta sends it, signed with the app secret.
/// `from` is a phone number or a business-scoped user id (US.123…).
pub fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
    let id = sample
        .id
        .map(str::to_string)
        .unwrap_or_else(|| format!("wamid.SIM{}", uuid::Uuid::new_v4().simple()));
    let name = sample.name.unwrap_or("Simulated customer");
    let mut contact = json!({ "profile": { "name": name } });
    let mut message = json!({
        "id": id,
        "timestamp": sample.at.timestamp().to_string(),
        "type": "text",
        "text": { "body": sample.text },
    });
    if let Ok(user) = BusinessScopedUserId::parse(sample.from) {
        contact["user_id"] = json!(user.as_str());
        message["from_user_id"] = json!(user.as_str());
    } else {
        let phone = PhoneNumber::parse(sample.from).map_err(|_| SampleError::From {
            from: sample.from.to_string(),
            expected: "a phone number or a WhatsApp user id",
        })?;
        contact["wa_id"] = json!(phone.digits());
        message["from"] = json!(phone.digits());
    }
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "0",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "0", "phone_number_id": settings.phone_number_id },
                    "contacts": [contact],
                    "messages": [message],
                }
            }]
        }]
    })
    .to_string()
    .into_bytes();
    let signature = MetaSignature::new(settings.app_secret.expose()).sign(&body);
    Ok(SampleRequest {
        path: PATH,
        headers: vec![
            ("content-type", "application/json".into()),
            (META_SIGNATURE_HEADER, signature),
        ],
        body,
    })
}

/// WhatsApp's chat link to the customer's number; a sender known only by
/// BSUID has none (the owner answers from the WhatsApp Business app).
pub fn reply_link(addresses: &[&Address]) -> Option<String> {
    addresses.iter().find_map(|a| match a {
        Address::Phone(p) => Some(format!("https://wa.me/{}", p.digits())),
        _ => None,
    })
}

/// Where the Cloud API lives, unless `api_base_url` says otherwise.
pub const GRAPH_API: &str = "https://graph.facebook.com/v21.0";

pub fn api(settings: &Settings) -> Api {
    Api {
        public_url: GRAPH_API,
        configured_url: settings.api_base_url.clone(),
        token: settings.access_token.clone(),
        // `{"messages": [{"id": "wamid…"}]}`
        receipt: |answer| answer["messages"][0]["id"].as_str().map(str::to_string),
    }
}

/// The Graph API request that acknowledges a message, quoting it. Senders
/// without a phone number are addressed by their BSUID.
pub fn acknowledgement(
    phone_number_id: &str,
    recipient: &WhatsappRecipient,
    in_reply_to: &str,
    text: &AckText,
) -> ApiRequest {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "text",
        "text": { "preview_url": false, "body": text.body },
        "context": { "message_id": in_reply_to },
    });
    match recipient {
        WhatsappRecipient::Phone(phone) => body["to"] = json!(phone.digits()),
        WhatsappRecipient::User(user) => body["recipient"] = json!(user.as_str()),
    }
    ApiRequest {
        channel: Channel::Whatsapp,
        path: format!("/{phone_number_id}/messages"),
        body,
    }
}
