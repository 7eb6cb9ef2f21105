//! One module per channel, each with the same small surface: its routes
//! (verify, answer a handshake, parse into envelopes, enqueue), the shape of
//! its acknowledgement, its API (where requests go, how its answers name
//! what was sent), the digest's reply link and its configuration section
//! (`RawSettings` read into `Settings`), wired in by the functions below
//! and by `Config`'s field for it. A channel is also named in `domain` (its
//! `Channel`, `ReplyTarget` and addresses).

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
