//! Telegram bots: `POST /webhooks/telegram` carries one `Update`, with the
//! secret given to `setWebhook` in `X-Telegram-Bot-Api-Secret-Token` (there
//! is no signature). Acknowledgements are Bot API `sendMessage` calls, the
//! bot token in their path.

pub mod payload;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::ack::AckText;
use crate::channels::{
    Api, ApiAuth, ChannelModule, Outbound, Sample, SampleError, SampleRequest,
};
use crate::config::{self, Config, ConfigError, SecretSource, SecretValue};
use crate::domain::{Address, Channel, Envelope, Message, Thread, UserId};
use crate::outbound::TOKEN_IN_PATH;
use crate::ports::{ApiRequest, ThreadWithMessages};
use crate::webhook::{read_body, Inbound};
use crate::wording::Language;

pub const PATH: &str = "/webhooks/telegram";
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Where the Bot API lives, unless `api_base_url` says otherwise.
pub const BOT_API: &str = "https://api.telegram.org";

pub struct Telegram;

/// The way back: the private chat, quoting the customer's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub chat_id: i64,
    pub message_id: i64,
}

/// `[channels.telegram]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    bot_token: String,
    secret_token: String,
    api_base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `123456:ABC…` from @BotFather: it is the bot's whole identity.
    pub bot_token: SecretValue,
    /// What `setWebhook` was given as `secret_token`.
    pub secret_token: SecretValue,
    /// Unset locally: acknowledgements land in the outbox.
    pub api_base_url: Option<String>,
}

impl ChannelModule for Telegram {
    type Raw = RawSettings;
    type Settings = Settings;
    type Target = Target;

    const WEBHOOK: (&'static str, &'static str) = ("POST", PATH);
    /// A Telegram user id, as the Bot API names a person.
    const DEMO_SENDER: &'static str = "700000077";
    /// sendMessage's text: 4,096 characters.
    const MAX_REPLY_BYTES: usize = 4_096;

    fn settings(raw: RawSettings, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
        let secret = |name: &str, value: &str| {
            config::resolve(&format!("channels.telegram.{name}"), value, secrets)
        };
        let bot_token = secret("bot_token", &raw.bot_token)?;
        let well_formed = bot_token
            .expose()
            .split_once(':')
            .is_some_and(|(id, rest)| {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty()
            });
        if !well_formed {
            // The value itself is never repeated: it is the bot's password.
            return Err(ConfigError::new(
                "channels.telegram.bot_token",
                "is not a bot token like 123456:ABC-DEF… (from @BotFather)",
            ));
        }
        let secret_token = secret("secret_token", &raw.secret_token)?;
        // setWebhook's own rule: 1 to 256 of A-Z, a-z, 0-9, _ and -.
        let token = secret_token.expose();
        if token.len() > 256
            || !token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::new(
                "channels.telegram.secret_token",
                "takes 1 to 256 letters, digits, _ or - (Telegram's rule for setWebhook)",
            ));
        }
        Ok(Settings {
            bot_token,
            secret_token,
            api_base_url: config::base_url("channels.telegram.api_base_url", raw.api_base_url)?,
        })
    }

    fn label(_: Language) -> &'static str {
        "Telegram"
    }

    fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
        let webhook = Webhook {
            inbound: inbound.clone(),
            secret_token: settings.secret_token.clone(),
        };
        Router::new()
            .route(PATH, post(receive))
            .with_state(Arc::new(webhook))
    }

    fn acknowledgement(
        _: &Config,
        _: &Settings,
        _: &Envelope,
        target: &Target,
        text: &AckText,
    ) -> Outbound {
        Outbound::Api(send_message(target, &text.body))
    }

    fn api(settings: &Settings) -> Option<Api> {
        Some(Api {
            public_url: BOT_API,
            configured_url: settings.api_base_url.clone(),
            auth: ApiAuth::InPath(settings.bot_token.clone()),
            // `{"ok": true, "result": {"message_id": 86, …}}`
            receipt: |answer| {
                let id = answer["result"]["message_id"].as_i64()?;
                Some(id.to_string())
            },
        })
    }

    /// The customer's public link, when they chose a username.
    fn reply_link(_: &Settings, _: &Thread, addresses: &[&Address]) -> Option<String> {
        addresses.iter().find_map(|a| match a {
            Address::Username(name) => Some(format!("https://t.me/{}", name.as_str())),
            _ => None,
        })
    }

    /// A message in the customer's private chat, whose id is their user
    /// id; it quotes nothing.
    fn owner_reply(
        _: &Config,
        _: &Settings,
        _: &ThreadWithMessages,
        addresses: &[&Address],
        reply: &Message,
    ) -> Option<Outbound> {
        let chat_id: i64 = addresses.iter().find_map(|a| match a {
            Address::UserId(id) => id.as_str().parse().ok(),
            _ => None,
        })?;
        Some(Outbound::Api(ApiRequest {
            channel: Channel::Telegram,
            path: format!("/bot{TOKEN_IN_PATH}/sendMessage"),
            body: json!({ "chat_id": chat_id, "text": reply.text }),
        }))
    }

    fn signature(settings: &Settings, _: &[u8]) -> Vec<(&'static str, String)> {
        vec![(SECRET_HEADER, settings.secret_token.expose().to_string())]
    }

    fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
        let user: i64 = UserId::parse(sample.from)
            .ok()
            .and_then(|id| id.as_str().parse().ok())
            .filter(|id| *id > 0)
            .ok_or_else(|| SampleError::From {
                from: sample.from.to_string(),
                expected: "a Telegram user id (digits)",
            })?;
        let random = uuid::Uuid::new_v4().as_u128();
        // The message's number in the chat; `--id` replays one.
        let message_id: i64 = match sample.id.and_then(|id| id.parse().ok()) {
            Some(id) => id,
            None => (random % 1_000_000) as i64 + 1,
        };
        let update_id = (random >> 64) as i64 & 0x3fff_ffff;
        let mut from = json!({ "id": user, "is_bot": false, "first_name": "Simulated" });
        if let Some(name) = sample.name {
            from["first_name"] = json!(name);
        }
        let body = json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "from": from,
                "chat": { "id": user, "type": "private", "first_name": from["first_name"] },
                "date": sample.at.timestamp(),
                "text": sample.text,
            }
        })
        .to_string()
        .into_bytes();
        let mut headers = vec![("content-type", "application/json".to_string())];
        headers.extend(Self::signature(settings, &body));
        Ok(SampleRequest {
            path: PATH,
            headers,
            body,
        })
    }
}

/// The handlers' state: the shared one and the secret to compare.
struct Webhook {
    inbound: Arc<Inbound>,
    secret_token: SecretValue,
}

async fn receive(State(webhook): State<Arc<Webhook>>, request: Request) -> Response {
    let given = request
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let expected = webhook.secret_token.expose().as_bytes();
    // Constant time: how much of a wrong secret matched never shows.
    if given.is_empty() || !bool::from(given.ct_eq(expected)) {
        tracing::warn!(channel = "telegram", "refused a webhook without the secret token");
        return (StatusCode::UNAUTHORIZED, "invalid secret token\n").into_response();
    }
    let (_, body) = match read_body(request).await {
        Ok(read) => read,
        Err(too_large) => return too_large,
    };
    let parsed = payload::parse(&body, webhook.inbound.clock.now());
    webhook
        .inbound
        .accept(Channel::Telegram, &body, parsed)
        .await
}

/// The Bot API call that answers a message, quoting it; if the customer
/// deleted it meanwhile, the answer still goes.
fn send_message(target: &Target, text: &str) -> ApiRequest {
    ApiRequest {
        channel: Channel::Telegram,
        path: format!("/bot{TOKEN_IN_PATH}/sendMessage"),
        body: json!({
            "chat_id": target.chat_id,
            "text": text,
            "reply_parameters": {
                "message_id": target.message_id,
                "allow_sending_without_reply": true,
            },
        }),
    }
}
