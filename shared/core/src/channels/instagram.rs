//! Instagram direct messages, with Instagram Login. `GET /webhooks/instagram`
//! answers Meta's subscription handshake; `POST` carries `object: "instagram"`
//! events signed with the app secret (`meta_messaging` reads them).
//! Acknowledgements go through the Instagram API, `POST /{account_id}/messages`.

use std::sync::Arc;

use axum::Router;
use serde::Deserialize;

use crate::ack::AckText;
use crate::channels::meta_messaging::{self, Platform, Target};
use crate::channels::meta_signature::{MetaSignature, META_SIGNATURE_HEADER};
use crate::channels::{
    meta_webhook, Api, ApiAuth, ChannelModule, Outbound, Sample, SampleError, SampleRequest,
};
use crate::config::{self, Config, ConfigError, SecretSource, SecretValue};
use crate::domain::{Address, Channel, Envelope, ReplyTarget, Thread, UserId};
use crate::webhook::Inbound;
use crate::wording::Language;

pub const PATH: &str = "/webhooks/instagram";

/// Where the Send API lives, unless `api_base_url` says otherwise.
pub const GRAPH_API: &str = "https://graph.instagram.com/v21.0";

pub struct Instagram;

/// `[channels.instagram]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    account_id: String,
    verify_token: String,
    app_secret: String,
    access_token: String,
    api_base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub account_id: String,
    pub verify_token: SecretValue,
    pub app_secret: SecretValue,
    pub access_token: SecretValue,
    /// Unset locally: acknowledgements land in the outbox.
    pub api_base_url: Option<String>,
}

fn platform(settings: &Settings) -> Platform<'_> {
    Platform {
        channel: Channel::Instagram,
        object: "instagram",
        account_id: &settings.account_id,
        reply_target: ReplyTarget::Instagram,
    }
}

impl ChannelModule for Instagram {
    type Raw = RawSettings;
    type Settings = Settings;
    type Target = Target;

    const WEBHOOK: (&'static str, &'static str) = ("GET/POST", PATH);
    /// An Instagram-scoped id (IGSID), as Instagram names a customer to the account.
    const DEMO_SENDER: &'static str = "17841400000000077";

    fn settings(raw: RawSettings, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
        let secret = |name: &str, value: &str| {
            config::resolve(&format!("channels.instagram.{name}"), value, secrets)
        };
        if raw.account_id.is_empty() || !raw.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConfigError::new(
                "channels.instagram.account_id",
                "is the numeric id of your Instagram professional account (the app dashboard shows it)",
            ));
        }
        Ok(Settings {
            account_id: raw.account_id,
            verify_token: secret("verify_token", &raw.verify_token)?,
            app_secret: secret("app_secret", &raw.app_secret)?,
            access_token: secret("access_token", &raw.access_token)?,
            api_base_url: config::base_url("channels.instagram.api_base_url", raw.api_base_url)?,
        })
    }

    fn label(_: Language) -> &'static str {
        "Instagram"
    }

    fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
        let own = settings.clone();
        meta_webhook::routes(
            Channel::Instagram,
            PATH,
            inbound,
            &settings.app_secret,
            &settings.verify_token,
            Box::new(move |body, now| meta_messaging::parse(&platform(&own), body, now)),
        )
    }

    fn acknowledgement(
        _: &Config,
        _: &Settings,
        _: &Envelope,
        target: &Target,
        text: &AckText,
    ) -> Outbound {
        Outbound::Api(meta_messaging::send_text(
            Channel::Instagram,
            target,
            &text.body,
        ))
    }

    fn api(settings: &Settings) -> Option<Api> {
        Some(Api {
            public_url: GRAPH_API,
            configured_url: settings.api_base_url.clone(),
            auth: ApiAuth::Bearer(settings.access_token.clone()),
            receipt: meta_messaging::receipt,
        })
    }

    /// The account's Direct inbox, where the owner answers.
    fn reply_link(_: &Settings, _: &Thread, _: &[&Address]) -> Option<String> {
        Some("https://www.instagram.com/direct/inbox/".to_string())
    }

    fn signature(settings: &Settings, body: &[u8]) -> Vec<(&'static str, String)> {
        let signature = MetaSignature::new(settings.app_secret.expose()).sign(body);
        vec![(META_SIGNATURE_HEADER, signature)]
    }

    fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
        let from = UserId::parse(sample.from).map_err(|_| SampleError::From {
            from: sample.from.to_string(),
            expected: "an Instagram-scoped id (digits)",
        })?;
        let mid = sample
            .id
            .map(str::to_string)
            .unwrap_or_else(|| format!("m_SIM{}", uuid::Uuid::new_v4().simple()));
        let body = meta_messaging::sample_body(
            &platform(settings),
            from.as_str(),
            sample.text,
            &mid,
            sample.at,
        );
        let mut headers = vec![("content-type", "application/json".to_string())];
        headers.extend(Self::signature(settings, &body));
        Ok(SampleRequest {
            path: PATH,
            headers,
            body,
        })
    }
}
