//! Meta's messaging platforms, Messenger and Instagram: one webhook shape
//! (`payload`), the handshake and signature WhatsApp uses too
//! (`meta_webhook`), one Send API. Each channel's module is a `Platform`
//! (its names, its section's keys, its links); `Messaging<P>` makes it a
//! channel.

pub mod payload;

use std::marker::PhantomData;
use std::sync::Arc;

use axum::Router;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ack::AckText;
use crate::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use crate::channels::{
    meta_webhook, Api, ApiAuth, ChannelModule, Outbound, Sample, SampleError, SampleRequest,
};
use crate::config::{self, Config, ConfigError, SecretSource, SecretValue};
use crate::domain::{Address, Channel, Envelope, Message, ReplyTarget, Thread, UserId};
use crate::ports::{ApiRequest, ThreadWithMessages};
use crate::webhook::Inbound;
use crate::wording::Language;

/// What sets one platform apart.
pub trait Platform: Send + Sync + 'static {
    const CHANNEL: Channel;
    /// The webhook body's `object`.
    const OBJECT: &'static str;
    const PATH: &'static str;
    /// Where its Send API lives, unless `api_base_url` says otherwise.
    const PUBLIC_API: &'static str;
    const LABEL: &'static str;
    /// A customer's id on the platform, for the demo and the tests.
    const DEMO_SENDER: &'static str;
    /// The Send API's longest text, in bytes.
    const MAX_REPLY_BYTES: usize;
    /// What `--from` must be, said to whoever gets it wrong.
    const SENDER: &'static str;
    /// The section's keys for the account id and the access token, and
    /// where the owner finds the id.
    const ACCOUNT_KEY: &'static str;
    const ACCOUNT_HINT: &'static str;
    const TOKEN_KEY: &'static str;

    /// `[channels.<name>]` as written.
    type Raw: DeserializeOwned;
    fn fields(raw: Self::Raw) -> Fields;
    fn reply_target(target: Target) -> ReplyTarget;
    /// Where the owner answers, in the provider's own app.
    fn reply_link(settings: &Settings) -> String;
}

/// A section's values under common names.
pub struct Fields {
    pub account_id: String,
    pub verify_token: String,
    pub app_secret: String,
    pub access_token: String,
    pub api_base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The Page's or the Instagram account's id.
    pub account_id: String,
    pub verify_token: SecretValue,
    pub app_secret: SecretValue,
    pub access_token: SecretValue,
    /// Unset locally: acknowledgements land in the outbox.
    pub api_base_url: Option<String>,
}

/// The way back to the customer: from the account that received the
/// message, to the id it knows them by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The page id (Messenger) or Instagram account id.
    pub account_id: String,
    /// The page-scoped id (PSID) or Instagram-scoped id (IGSID).
    pub recipient: UserId,
}

/// A platform as a channel.
pub struct Messaging<P>(PhantomData<P>);

fn account<P: Platform>(settings: &Settings) -> payload::Account<'_> {
    payload::Account {
        channel: P::CHANNEL,
        object: P::OBJECT,
        account_id: &settings.account_id,
        reply_target: P::reply_target,
    }
}

impl<P: Platform> ChannelModule for Messaging<P> {
    type Raw = P::Raw;
    type Settings = Settings;
    type Target = Target;

    const WEBHOOK: (&'static str, &'static str) = ("GET/POST", P::PATH);
    const DEMO_SENDER: &'static str = P::DEMO_SENDER;
    const MAX_REPLY_BYTES: usize = P::MAX_REPLY_BYTES;
    const REPLY_WINDOW: Option<std::time::Duration> = Some(meta_webhook::REPLY_WINDOW);

    fn settings(raw: P::Raw, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
        let key = |name: &str| format!("channels.{}.{name}", P::CHANNEL);
        let fields = P::fields(raw);
        if fields.account_id.is_empty() || !fields.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConfigError::new(key(P::ACCOUNT_KEY), P::ACCOUNT_HINT));
        }
        let secret = |name: &str, value: &str| config::resolve(&key(name), value, secrets);
        Ok(Settings {
            verify_token: secret("verify_token", &fields.verify_token)?,
            app_secret: secret("app_secret", &fields.app_secret)?,
            access_token: secret(P::TOKEN_KEY, &fields.access_token)?,
            api_base_url: config::base_url(&key("api_base_url"), fields.api_base_url)?,
            account_id: fields.account_id,
        })
    }

    fn label(_: Language) -> &'static str {
        P::LABEL
    }

    fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
        let own = settings.clone();
        meta_webhook::routes(
            P::CHANNEL,
            P::PATH,
            inbound,
            &settings.app_secret,
            &settings.verify_token,
            Box::new(move |body, now| payload::parse(&account::<P>(&own), body, now)),
        )
    }

    fn acknowledgement(
        _: &Config,
        _: &Settings,
        _: &Envelope,
        target: &Target,
        text: &AckText,
    ) -> Outbound {
        Outbound::Api(send_text(P::CHANNEL, target, &text.body))
    }

    fn api(settings: &Settings) -> Option<Api> {
        Some(Api {
            public_url: P::PUBLIC_API,
            configured_url: settings.api_base_url.clone(),
            auth: ApiAuth::Bearer(settings.access_token.clone()),
            receipt,
        })
    }

    fn reply_link(settings: &Settings, _: &Thread, _: &[&Address]) -> Option<String> {
        Some(P::reply_link(settings))
    }

    /// The same Send API request as an acknowledgement: Meta marks neither
    /// as automatic, and both need the customer's 24-hour window.
    fn owner_reply(
        _: &Config,
        settings: &Settings,
        _: &ThreadWithMessages,
        addresses: &[&Address],
        reply: &Message,
    ) -> Option<Outbound> {
        let recipient = addresses.iter().find_map(|a| match a {
            Address::UserId(id) => Some(id.clone()),
            _ => None,
        })?;
        let target = Target {
            account_id: settings.account_id.clone(),
            recipient,
        };
        Some(Outbound::Api(send_text(P::CHANNEL, &target, &reply.text)))
    }

    fn signature(settings: &Settings, body: &[u8]) -> Vec<(&'static str, String)> {
        let signature = MetaSignature::new(settings.app_secret.expose()).sign(body);
        vec![(META_SIGNATURE_HEADER, signature)]
    }

    fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
        let from = UserId::parse(sample.from)
            .ok()
            .filter(|id| id.as_str().chars().all(|c| c.is_ascii_digit()))
            .ok_or_else(|| SampleError::From {
                from: sample.from.to_string(),
                expected: P::SENDER,
            })?;
        let mid = sample
            .id
            .map(str::to_string)
            .unwrap_or_else(|| format!("m_SIM{}", uuid::Uuid::new_v4().simple()));
        let body = sample_body(
            &account::<P>(settings),
            from.as_str(),
            sample.text,
            &mid,
            sample.at,
        );
        let mut headers = vec![("content-type", "application/json".to_string())];
        headers.extend(Self::signature(settings, &body));
        Ok(SampleRequest {
            path: P::PATH,
            headers,
            body,
        })
    }
}

/// The Send API request that answers a message: a reply within the
/// customer's 24-hour window (`messaging_type: RESPONSE`).
fn send_text(channel: Channel, target: &Target, text: &str) -> ApiRequest {
    ApiRequest {
        channel,
        path: format!("/{}/messages", target.account_id),
        body: json!({
            "recipient": { "id": target.recipient.as_str() },
            "messaging_type": "RESPONSE",
            "message": { "text": text },
        }),
    }
}

/// The Send API's answer: `{"recipient_id": "…", "message_id": "m_…"}`.
fn receipt(answer: &Value) -> Option<String> {
    answer["message_id"].as_str().map(str::to_string)
}

/// A text message event as the platform sends it, for `accueil simulate`.
fn sample_body(
    account: &payload::Account<'_>,
    from: &str,
    text: &str,
    mid: &str,
    at: DateTime<Utc>,
) -> Vec<u8> {
    json!({
        "object": account.object,
        "entry": [{
            "id": account.account_id,
            "time": at.timestamp_millis(),
            "messaging": [{
                "sender": { "id": from },
                "recipient": { "id": account.account_id },
                "timestamp": at.timestamp_millis(),
                "message": { "mid": mid, "text": text },
            }]
        }]
    })
    .to_string()
    .into_bytes()
}
