//! One module per channel, each with the same small surface: its routes
//! (verify, answer a handshake, parse into envelopes, enqueue), the shape of
//! its acknowledgement, its API (where requests go, how its answers name
//! what was sent), the digest's reply link and its configuration section
//! (`RawSettings` read into `Settings`), wired in by the functions below.
//! Outside this folder a channel is still named in `domain` (its `Channel`,
//! `ReplyTarget` and addresses), in `config` (its field, `RawChannels` and
//! `enabled_channels`), in `accueil thread`'s lookup of a form's reference
//! (`cli/src/show.rs`), in the golden test's list and in the SAM template.

pub mod meta_signature;
pub mod webform;
pub mod whatsapp;

use std::sync::Arc;

use axum::Router;

use crate::ack::AckText;
use crate::config::{Config, SecretValue};
use crate::domain::{Address, Channel, Envelope, ReplyTarget, Thread};
use crate::email::OutgoingEmail;
use crate::ports::ApiRequest;
use crate::webhook::Inbound;
use crate::wording::Language;

/// The channel's name as the owner reads it, in the business's language.
pub fn label(channel: Channel, lang: Language) -> &'static str {
    match channel {
        Channel::Webform => webform::label(lang),
        Channel::Whatsapp => "WhatsApp",
    }
}

/// A channel's webhook: the HTTP methods it answers and its path.
pub fn webhook(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Webform => ("POST", webform::PATH),
        Channel::Whatsapp => ("GET/POST", whatsapp::PATH),
    }
}

/// The webhook routes of the channels this business enabled, each with the
/// state its handlers need.
pub fn routes(inbound: &Arc<Inbound>) -> Router {
    let config = &inbound.config;
    let mut router = Router::new();
    if let Some(settings) = &config.webform {
        router = router.merge(webform::routes(inbound, settings));
    }
    if let Some(settings) = &config.whatsapp {
        router = router.merge(whatsapp::routes(inbound, settings));
    }
    router
}

/// An acknowledgement, shaped for the channel it goes back on.
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    Email(OutgoingEmail),
    Api(ApiRequest),
}

/// Shapes the acknowledgement for the envelope's channel. None when an API
/// channel is no longer configured (the envelope was queued before a
/// change); a form's acknowledgement is an email, which needs no settings.
pub fn acknowledgement(config: &Config, envelope: &Envelope, text: &AckText) -> Option<Outbound> {
    match &envelope.reply_to {
        ReplyTarget::Webform { email, .. } => Some(Outbound::Email(webform::acknowledgement(
            config, envelope, email, text,
        ))),
        ReplyTarget::Whatsapp {
            phone_number_id,
            recipient,
            in_reply_to,
        } => config.whatsapp.as_ref().map(|_| {
            Outbound::Api(whatsapp::acknowledgement(
                phone_number_id,
                recipient,
                in_reply_to,
                text,
            ))
        }),
    }
}

/// A channel's API as this business configured it: where its requests go
/// and how they are authorised. `outbound` is the transport for all of them.
pub struct Api {
    /// The provider's public API, for when no `api_base_url` is configured.
    pub public_url: &'static str,
    /// The configured `api_base_url`; locally, unset means the outbox.
    pub configured_url: Option<String>,
    /// Sent as `Authorization: Bearer …`.
    pub token: SecretValue,
    /// The provider's id of what was sent, read from its answer.
    pub receipt: fn(&serde_json::Value) -> Option<String>,
}

/// The API of a channel that acknowledges through one, if it is enabled.
pub fn api(config: &Config, channel: Channel) -> Option<Api> {
    match channel {
        Channel::Webform => None,
        Channel::Whatsapp => config.whatsapp.as_ref().map(whatsapp::api),
    }
}

/// Where the owner answers a thread from the digest, when its channel has
/// a link for it: the link is built from the contact's addresses there.
pub fn reply_link(thread: &Thread) -> Option<String> {
    let addresses: Vec<&Address> = thread
        .contact
        .addresses
        .iter()
        .filter(|a| a.channel == thread.channel)
        .map(|a| &a.address)
        .collect();
    match thread.channel {
        Channel::Webform => webform::reply_link(&thread.id, &addresses),
        Channel::Whatsapp => whatsapp::reply_link(&addresses),
    }
}

/// Who writes and what, for a sample webhook (`accueil simulate`).
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The customer's address on the channel, as they would type it.
    pub from: &'a str,
    pub text: &'a str,
    pub name: Option<&'a str>,
    /// The provider's message id, to replay a delivery; made up when None.
    pub id: Option<&'a str>,
    /// When the customer sent it, for providers that stamp their messages.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A webhook request as the provider would send it, signed with the
/// business's own secret.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRequest {
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SampleError {
    #[error("the {0} channel is not enabled in this configuration")]
    NotEnabled(Channel),
    #[error("--from {from:?} is not {expected}")]
    From {
        from: String,
        expected: &'static str,
    },
}

/// A sample webhook of the channel, for `accueil simulate`.
pub fn sample(
    config: &Config,
    channel: Channel,
    sample: &Sample<'_>,
) -> Result<SampleRequest, SampleError> {
    let not_enabled = || SampleError::NotEnabled(channel);
    match channel {
        Channel::Webform => config
            .webform
            .as_ref()
            .ok_or_else(not_enabled)
            .and_then(|_| webform::sample(sample)),
        Channel::Whatsapp => config
            .whatsapp
            .as_ref()
            .ok_or_else(not_enabled)
            .and_then(|settings| whatsapp::sample(settings, sample)),
    }
}
