//! Facebook Messenger: a Page's conversations. `GET /webhooks/messenger`
//! answers Meta's subscription handshake; `POST` carries `object: "page"`
//! events signed with the app secret (`meta_messaging` reads them).
//! Acknowledgements go through the Send API, `POST /{page_id}/messages`.

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

pub const PATH: &str = "/webhooks/messenger";

/// Where the Send API lives, unless `api_base_url` says otherwise.
pub const GRAPH_API: &str = "https://graph.facebook.com/v21.0";

pub struct Messenger;

/// `[channels.messenger]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    page_id: String,
    verify_token: String,
    app_secret: String,
    page_access_token: String,
    api_base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub page_id: String,
    pub verify_token: SecretValue,
    pub app_secret: SecretValue,
    pub page_access_token: SecretValue,
    /// Unset locally: acknowledgements land in the outbox.
    pub api_base_url: Option<String>,
}

fn platform(settings: &Settings) -> Platform<'_> {
    Platform {
        channel: Channel::Messenger,
        object: "page",
        account_id: &settings.page_id,
        reply_target: ReplyTarget::Messenger,
    }
}

impl ChannelModule for Messenger {
    type Raw = RawSettings;
    type Settings = Settings;
    type Target = Target;

    const WEBHOOK: (&'static str, &'static str) = ("GET/POST", PATH);
    /// A page-scoped id, as Messenger names a customer to the page.
    const DEMO_SENDER: &'static str = "6912345678901234";

    fn settings(raw: RawSettings, secrets: &dyn SecretSource) -> Result<Settings, ConfigError> {
        let secret = |name: &str, value: &str| {
            config::resolve(&format!("channels.messenger.{name}"), value, secrets)
        };
        if raw.page_id.is_empty() || !raw.page_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(ConfigError::new(
                "channels.messenger.page_id",
                "is the numeric id of your Facebook Page (Page settings, About)",
            ));
        }
        Ok(Settings {
            page_id: raw.page_id,
            verify_token: secret("verify_token", &raw.verify_token)?,
            app_secret: secret("app_secret", &raw.app_secret)?,
            page_access_token: secret("page_access_token", &raw.page_access_token)?,
            api_base_url: config::base_url("channels.messenger.api_base_url", raw.api_base_url)?,
        })
    }

    fn label(_: Language) -> &'static str {
        "Messenger"
    }

    fn routes(inbound: &Arc<Inbound>, settings: &Settings) -> Router {
        let own = settings.clone();
        meta_webhook::routes(
            Channel::Messenger,
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
            Channel::Messenger,
            target,
            &text.body,
        ))
    }

    fn api(settings: &Settings) -> Option<Api> {
        Some(Api {
            public_url: GRAPH_API,
            configured_url: settings.api_base_url.clone(),
            auth: ApiAuth::Bearer(settings.page_access_token.clone()),
            receipt: meta_messaging::receipt,
        })
    }

    /// The Page's inbox in Meta Business Suite, where the owner answers.
    fn reply_link(settings: &Settings, _: &Thread, _: &[&Address]) -> Option<String> {
        Some(format!(
            "https://business.facebook.com/latest/inbox/messenger?asset_id={}",
            settings.page_id
        ))
    }

    fn signature(settings: &Settings, body: &[u8]) -> Vec<(&'static str, String)> {
        let signature = MetaSignature::new(settings.app_secret.expose()).sign(body);
        vec![(META_SIGNATURE_HEADER, signature)]
    }

    fn sample(settings: &Settings, sample: &Sample<'_>) -> Result<SampleRequest, SampleError> {
        let from = UserId::parse(sample.from).map_err(|_| SampleError::From {
            from: sample.from.to_string(),
            expected: "a page-scoped id (digits)",
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
