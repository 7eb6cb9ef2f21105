//! One module per channel, each with the same small surface: its routes
//! (verify, answer a handshake, parse into envelopes, enqueue) and the shape
//! of its acknowledgement, wired into `routes` and `acknowledgement` below.
//! A channel is also named in `domain` (its `Channel`, `ReplyTarget` and
//! addresses), `config` (its section), `outbound` (its API) and the digest's
//! reply link.

pub mod meta_signature;
pub mod webform;
pub mod whatsapp;

use std::sync::Arc;

use axum::Router;

use crate::ack::AckText;
use crate::config::Config;
use crate::domain::{Envelope, ReplyTarget};
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
