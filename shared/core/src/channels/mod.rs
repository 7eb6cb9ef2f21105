//! The channel registry. A channel is a module implementing `ChannelModule`:
//! its configuration section, its webhook routes, the shape of its
//! acknowledgement, its API, the digest's reply link and a sample webhook for
//! `accueil simulate`. It is listed once, in `registry!` below, and everything
//! that enumerates channels (the `Channel` enum, the way back to a customer,
//! `[channels.<name>]`, the routes, the senders, the digest, `simulate`, the
//! tests that walk fixtures, samples and the template) reads that list.

#[macro_use]
mod wire;

pub mod meta_messaging;
pub mod meta_signature;
pub mod meta_webhook;

#[macro_use]
mod registry;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ack::AckText;
use crate::config::{Config, ConfigError, SecretSource, SecretValue};
use crate::domain::{Address, Envelope, Message, Thread, ThreadId};
use crate::email::OutgoingEmail;
use crate::ports::{ApiRequest, ThreadWithMessages};
use crate::webhook::Inbound;
use crate::wording::Language;

registry! {
    webform::Webform,
    whatsapp::Whatsapp,
    messenger::Messenger,
    instagram::Instagram,
    telegram::Telegram,
}

/// What a channel is to the rest of Accueil. Its functions take the
/// channel's own settings, read from `[channels.<name>]` by `settings`.
pub trait ChannelModule {
    /// `[channels.<name>]` as written (serde refuses unknown keys).
    type Raw: DeserializeOwned;
    /// The section checked, secrets resolved.
    type Settings: fmt::Debug + Clone + Send + Sync + 'static;
    /// What the acknowledgement needs to reach the customer again, carried
    /// on the queue in the envelope (`ReplyTarget`).
    type Target: fmt::Debug + Clone + PartialEq + Serialize + DeserializeOwned;

    /// The HTTP methods its webhook answers, and its path.
    const WEBHOOK: (&'static str, &'static str);
    /// A customer's address `sample` takes, as a person would type it: the
    /// demo's and the tests' sender on this channel.
    const DEMO_SENDER: &'static str;
    /// How long after a customer's message the provider still lets the
    /// business write back unprompted (Meta's 24-hour window); None when
    /// it does not say.
    const REPLY_WINDOW: Option<std::time::Duration> = None;
    /// The longest owner's reply the provider takes, in bytes of UTF-8
    /// (its limit in characters, or in bytes where it counts bytes).
    const MAX_REPLY_BYTES: usize;

    /// Checks the section; errors name `channels.<name>.<key>`.
    fn settings(raw: Self::Raw, secrets: &dyn SecretSource) -> Result<Self::Settings, ConfigError>;

    /// The channel's name as the owner reads it, in the business's language.
    fn label(lang: Language) -> &'static str;

    /// Its webhook routes, with the state their handlers need.
    fn routes(inbound: &Arc<Inbound>, settings: &Self::Settings) -> Router;

    /// The acknowledgement of `envelope`, shaped for the channel.
    fn acknowledgement(
        config: &Config,
        settings: &Self::Settings,
        envelope: &Envelope,
        target: &Self::Target,
        text: &AckText,
    ) -> Outbound;

    /// Its API, for a channel whose acknowledgements go through one.
    fn api(settings: &Self::Settings) -> Option<Api>;

    /// Where the owner answers a thread from the digest, made from the
    /// contact's addresses on this channel.
    fn reply_link(
        settings: &Self::Settings,
        thread: &Thread,
        addresses: &[&Address],
    ) -> Option<String>;

    /// The owner's reply to the thread's customer, on one of `addresses`
    /// (the contact's on this channel), shaped as a person's message: no
    /// automatic-reply marks, an email threaded under what came before.
    /// None when none of them can be written to. `reply` is the owner's
    /// message as stored: its text, and its provider id for what must name it.
    fn owner_reply(
        config: &Config,
        settings: &Self::Settings,
        thread: &ThreadWithMessages,
        addresses: &[&Address],
        reply: &Message,
    ) -> Option<Outbound>;

    /// The headers that make `body` authentic, as the provider would sign it.
    fn signature(settings: &Self::Settings, body: &[u8]) -> Vec<(&'static str, String)>;

    /// A webhook as the provider would send it, signed with the business's secret.
    fn sample(settings: &Self::Settings, sample: &Sample<'_>)
        -> Result<SampleRequest, SampleError>;

    /// A thread reference the customer was already shown, which a new
    /// thread must then take (a form's thank-you page shows one).
    fn promised_reference(_target: &Self::Target) -> Option<&ThreadId> {
        None
    }
}

/// An acknowledgement, shaped for the channel it goes back on: composed
/// once, carried on the queue until delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Outbound {
    Email(OutgoingEmail),
    Api(ApiRequest),
}

/// A channel's API as this business configured it: where its requests go
/// and how they are authorised. `outbound` is the transport for all of them.
pub struct Api {
    /// The provider's public API, for when no `api_base_url` is configured.
    pub public_url: &'static str,
    /// The configured `api_base_url`; locally, unset means the outbox.
    pub configured_url: Option<String>,
    pub auth: ApiAuth,
    /// The provider's id of what was sent, read from its answer.
    pub receipt: fn(&serde_json::Value) -> Option<String>,
}

/// How a channel's API knows it is us.
#[derive(Clone)]
pub enum ApiAuth {
    /// `Authorization: Bearer …` (Meta's Graph APIs).
    Bearer(SecretValue),
    /// The token is part of the request's path (Telegram's `/bot<token>/…`):
    /// the request's path holds `{token}`, filled in only on the wire.
    InPath(SecretValue),
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

/// Why the owner's reply cannot go out on its thread's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoReply {
    #[error("the channel is no longer enabled")]
    NotEnabled,
    #[error("the contact has no address this channel can write to")]
    NoAddress,
}

/// Whether the owner's reply can go out on the thread's channel (enabled,
/// an address it writes to), leaving the provider's reply window apart.
pub fn can_reply(config: &Config, thread: &ThreadWithMessages) -> Result<(), NoReply> {
    let now = chrono::Utc::now();
    let probe = Message {
        id: crate::domain::MessageId::generate(),
        thread_id: thread.thread.id.clone(),
        channel: thread.thread.channel,
        provider_id: crate::domain::ProviderMessageId::parse("probe").expect("not empty"),
        author: crate::domain::Author::Owner,
        sent_at: now,
        received_at: now,
        text: String::new(),
        attachments: Vec::new(),
        edited_at: None,
        deleted_at: None,
        acknowledgement: None,
    };
    owner_reply(config, thread, &probe).map(|_| ())
}

/// The addresses of the thread's contact on the thread's channel.
fn addresses_on_channel(thread: &Thread) -> Vec<&Address> {
    thread
        .contact
        .addresses
        .iter()
        .filter(|a| a.channel == thread.channel)
        .map(|a| &a.address)
        .collect()
}

/// Reads one `[channels.<name>]` table as the channel's module wants it.
fn read_section<M: ChannelModule>(
    name: &str,
    table: toml::Value,
    secrets: &dyn SecretSource,
) -> Result<M::Settings, ConfigError> {
    let raw: M::Raw = serde_path_to_error::deserialize(table).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            format!("channels.{name}")
        } else {
            format!("channels.{name}.{path}")
        };
        let message = e.inner().message().lines().next().unwrap_or("invalid");
        ConfigError::new(key, message)
    })?;
    M::settings(raw, secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        ChannelAddress, Contact, ContactId, EmailAddress, PhoneNumber, ThreadStatus, UserId,
        Username,
    };

    fn thread(channel: Channel, addresses: Vec<Address>) -> Thread {
        let at = "2026-11-24T09:00:00Z".parse().unwrap();
        Thread {
            id: ThreadId::parse("T-0123456789").unwrap(),
            contact: Contact {
                id: ContactId::generate(),
                name: None,
                addresses: addresses
                    .into_iter()
                    .map(|a| ChannelAddress::new(channel, a))
                    .collect(),
                created_at: at,
            },
            channel,
            status: ThreadStatus::Open,
            opened_at: at,
            last_message_at: at,
            message_count: 1,
            last_excerpt: String::new(),
            closed_at: None,
            snoozed_until: None,
            waiting_since: None,
            unacknowledged: false,
        }
    }

    #[test]
    fn each_channel_links_the_owner_to_where_they_answer() {
        let config = Config::demo();
        let id = || Address::UserId(UserId::parse("700000077").unwrap());
        let cases = [
            (
                thread(
                    Channel::Webform,
                    vec![Address::Email(
                        EmailAddress::parse("zoe@example.com").unwrap(),
                    )],
                ),
                Some("mailto:zoe@example.com?subject=T-0123456789"),
            ),
            (
                thread(
                    Channel::Whatsapp,
                    vec![Address::Phone(PhoneNumber::parse("+33600000077").unwrap())],
                ),
                Some("https://wa.me/33600000077"),
            ),
            (thread(Channel::Whatsapp, vec![id()]), None),
            (
                thread(Channel::Messenger, vec![id()]),
                Some(
                    "https://business.facebook.com/latest/inbox/messenger?asset_id=100200300400501",
                ),
            ),
            (
                thread(Channel::Instagram, vec![id()]),
                Some("https://www.instagram.com/direct/inbox/"),
            ),
            (
                thread(
                    Channel::Telegram,
                    vec![id(), Address::Username(Username::parse("zoe_m").unwrap())],
                ),
                Some("https://t.me/zoe_m"),
            ),
            (thread(Channel::Telegram, vec![id()]), None),
        ];
        for (thread, expected) in cases {
            assert_eq!(
                reply_link(&config, &thread).as_deref(),
                expected,
                "{}",
                thread.channel
            );
        }
    }

    #[test]
    fn a_channel_is_named_alike_in_files_urls_and_stored_data() {
        for &channel in Channel::ALL {
            let stored = serde_json::to_value(channel).unwrap();
            assert_eq!(stored, channel.as_str(), "{channel:?}");
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
            let (_, path) = webhook(channel);
            assert_eq!(path, format!("/webhooks/{channel}"));
        }
    }
}
