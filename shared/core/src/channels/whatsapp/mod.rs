//! WhatsApp Cloud API: `GET /webhooks/whatsapp` answers Meta's subscription
//! handshake, `POST` carries messages and statuses signed with the app secret.
//! Acknowledgements are Graph API `POST /{phone_number_id}/messages` requests.

pub mod payload;

use std::sync::Arc;

use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ack::AckText;
use crate::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use crate::channels::{
    meta_webhook, Api, ApiAuth, ChannelModule, Outbound, Sample, SampleError, SampleRequest,
};
use crate::config::{self, Config, ConfigError, SecretSource, SecretValue};
use crate::domain::{Address, Channel, Envelope, Message, PhoneNumber, Thread, UserId};
use crate::ports::{ApiRequest, ThreadWithMessages};
use crate::webhook::Inbound;
use crate::wording::Language;

pub const PATH: &str = "/webhooks/whatsapp";

pub struct Whatsapp;

/// The way back to a WhatsApp sender: from the business number that
/// received the message, quoting it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub phone_number_id: String,
    pub recipient: Recipient,
    /// The `wamid` being answered, so the acknowledgement quotes it.
    pub in_reply_to: String,
}

/// WhatsApp answers by phone when the sender has one, by their
/// business-scoped user id (BSUID) otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Phone(PhoneNumber),
    User(UserId),
}

/// A business-scoped user id: `CC.<digits>` or `CC.ENT.<digits>`. Users
/// with a username may have no phone number at all.
pub fn bsuid(s: &str) -> Option<UserId> {
    let mut parts = s.split('.');
    let country = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let digits = match rest.as_slice() {
        [d] => d,
        ["ENT", d] => d,
        _ => return None,
    };
    let country_ok = country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase());
    let digits_ok = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
    (country_ok && digits_ok).then(|| UserId::parse(s).ok()).flatten()
}

impl ChannelModule for Whatsapp {
    type Raw = RawSettings;
    type Settings = Settings;
    type Target = Target;

    const WEBHOOK: (&'static str, &'static str) = ("GET/POST", PATH);
    const DEMO_SENDER: &'static str = "+33 6 00 00 00 77";
    /// A text message's body: 4,096 characters.
    const MAX_REPLY_BYTES: usize = 4_096;
    const REPLY_WINDOW: Option<std::time::Duration> = Some(meta_webhook::REPLY_WINDOW);

    fn settings(raw: RawSettings, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
        settings(raw, secrets)
    }

    fn label(_: Language) -> &'static str {
        "WhatsApp"
    }

    fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
        meta_webhook::routes(
            Channel::Whatsapp,
            PATH,
            inbound,
            &settings.app_secret,
            &settings.verify_token,
            Box::new(|body, now| payload::parse(body, now).map_err(|e| e.to_string())),
        )
    }

    fn acknowledgement(
        _: &Config,
        _: &Settings,
        _: &Envelope,
        target: &Target,
        text: &AckText,
    ) -> Outbound {
        Outbound::Api(acknowledgement(target, text))
    }

    fn api(settings: &Settings) -> Option<Api> {
        Some(Api {
            public_url: GRAPH_API,
            configured_url: settings.api_base_url.clone(),
            auth: ApiAuth::Bearer(settings.access_token.clone()),
            // `{"messages": [{"id": "wamid…"}]}`
            receipt: |answer| answer["messages"][0]["id"].as_str().map(str::to_string),
        })
    }

    /// WhatsApp's chat link to the customer's number; a sender known only by
    /// BSUID has none (the owner answers from the WhatsApp Business app).
    fn reply_link(_: &Settings, _: &Thread, addresses: &[&Address]) -> Option<String> {
        addresses.iter().find_map(|a| match a {
            Address::Phone(p) => Some(format!("https://wa.me/{}", p.digits())),
            _ => None,
        })
    }

    /// A text from the business number; by phone when known, else by BSUID.
    fn owner_reply(
        _: &Config,
        settings: &Settings,
        _: &ThreadWithMessages,
        addresses: &[&Address],
        reply: &Message,
    ) -> Option<Outbound> {
        let recipient = addresses
            .iter()
            .find_map(|a| match a {
                Address::Phone(p) => Some(Recipient::Phone(p.clone())),
                _ => None,
            })
            .or_else(|| {
                addresses.iter().find_map(|a| match a {
                    Address::UserId(id) => Some(Recipient::User(id.clone())),
                    _ => None,
                })
            })?;
        let text = AckText {
            subject: String::new(),
            body: reply.text.clone(),
        };
        let target = Target {
            phone_number_id: settings.phone_number_id.clone(),
            recipient,
            in_reply_to: String::new(),
        };
        // A person's message: it quotes nothing.
        let mut request = acknowledgement(&target, &text);
        request.body.as_object_mut()?.remove("context");
        Some(Outbound::Api(request))
    }

    fn signature(settings: &Settings, body: &[u8]) -> Vec<(&'static str, String)> {
        let signature = MetaSignature::new(settings.app_secret.expose()).sign(body);
        vec![(META_SIGNATURE_HEADER, signature)]
    }

    fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
        self::sample(settings, sample)
    }
}

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

fn settings(raw: RawSettings, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
    let secret = |name: &str, value: &str| {
        config::resolve(&format!("channels.whatsapp.{name}"), value, secrets)
    };
    if raw.phone_number_id.is_empty() || !raw.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::new(
            "channels.whatsapp.phone_number_id",
            "is the numeric id Meta shows beside your number",
        ));
    }
    Ok(Settings {
        phone_number_id: raw.phone_number_id,
        verify_token: secret("verify_token", &raw.verify_token)?,
        app_secret: secret("app_secret", &raw.app_secret)?,
        access_token: secret("access_token", &raw.access_token)?,
        api_base_url: config::base_url("channels.whatsapp.api_base_url", raw.api_base_url)?,
    })
}

/// A Cloud API text message as Meta sends it, signed with the app secret.
/// `from` is a phone number or a business-scoped user id (US.123…).
fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
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
    if let Some(user) = bsuid(sample.from) {
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
    let mut headers = vec![("content-type", "application/json".to_string())];
    headers.extend(Whatsapp::signature(settings, &body));
    Ok(SampleRequest {
        path: PATH,
        headers,
        body,
    })
}

/// Where the Cloud API lives, unless `api_base_url` says otherwise.
pub const GRAPH_API: &str = "https://graph.facebook.com/v21.0";

/// The Graph API request that acknowledges a message, quoting it. Senders
/// without a phone number are addressed by their BSUID.
fn acknowledgement(target: &Target, text: &AckText) -> ApiRequest {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "text",
        "text": { "preview_url": false, "body": text.body },
        "context": { "message_id": target.in_reply_to },
    });
    match &target.recipient {
        Recipient::Phone(phone) => body["to"] = json!(phone.digits()),
        Recipient::User(user) => body["recipient"] = json!(user.as_str()),
    }
    ApiRequest {
        channel: Channel::Whatsapp,
        path: format!("/{}/messages", target.phone_number_id),
        body,
    }
}
