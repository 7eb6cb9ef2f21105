//! Reads Messenger's and Instagram's webhook body,
//! `{"object": "page"|"instagram", "entry": [{"id", "messaging": [event]}]}`,
//! into envelopes.
//!
//! Each event is read on its own, so one odd event never costs the others.
//! An unsend (`is_deleted`) withdraws the message it names. Not customer
//! messages, never acknowledged: echoes (the account's own
//! sends, our acknowledgements among them), delivery and read receipts,
//! reactions, standby and handover events, and entries for another
//! account. Reasons name positions, never content or ids.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::Target;
use crate::channels::wire::given;
use crate::domain::{
    Address, Amendment, Attachment, Change, Channel, Envelope, ProviderMessageId, ReplyTarget,
    Sender, UserId,
};
use crate::webhook::Parsed;

/// The account a delivery is read for.
pub struct Account<'a> {
    pub channel: Channel,
    /// The body's `object`.
    pub object: &'static str,
    /// This business's page or account id: entries for others are not ours.
    pub account_id: &'a str,
    /// The channel's variant of the way back.
    pub reply_target: fn(Target) -> ReplyTarget,
}

wire! {
    Webhook { entry: Vec<Entry> }
    // Events stay raw so that each can fail alone.
    Entry { id: Option<String>, messaging: Vec<Value>, standby: Vec<Value> }
    Event {
        sender: Option<Party>,
        timestamp: Option<i64>,
        message: Option<Message>,
        postback: Option<Postback>,
    }
    Party { id: Option<String> }
    Message {
        mid: Option<String>,
        text: Option<String>,
        is_echo: bool,
        is_deleted: bool,
        is_unsupported: bool,
        attachments: Vec<Media>,
        reply_to: Option<ReplyTo>,
    }
    Media { r#type: Option<String>, payload: Option<MediaPayload> }
    MediaPayload {
        url: Option<String>,
        title: Option<String>,
        coordinates: Option<Coordinates>,
    }
    Coordinates { lat: Option<f64>, long: Option<f64> }
    ReplyTo { story: Option<Story> }
    Story { url: Option<String>, id: Option<String> }
    Postback { mid: Option<String>, title: Option<String>, payload: Option<String> }
}

const UNSUPPORTED: &str = "[unsupported message]";

pub fn parse(
    platform: &Account<'_>,
    body: &[u8],
    arrived_at: DateTime<Utc>,
) -> Result<Parsed, String> {
    let json: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    if json.get("object").and_then(Value::as_str) != Some(platform.object) {
        return Err(format!("not an object={} webhook", platform.object));
    }
    let webhook: Webhook = serde_json::from_value(json).map_err(|_| {
        format!(
            "an object={} webhook without the entry shape",
            platform.object
        )
    })?;
    let mut parsed = Parsed::default();
    for (e, entry) in webhook.entry.into_iter().enumerate() {
        // Another app holds these conversations: it answers them.
        parsed.ignored += entry.standby.len();
        if entry.id.as_deref() != Some(platform.account_id) {
            parsed.ignored += entry.messaging.len();
            continue;
        }
        for (m, raw) in entry.messaging.into_iter().enumerate() {
            match read_event(platform, raw, arrived_at) {
                Ok(Read::Message(envelope)) => parsed.envelopes.push(*envelope),
                Ok(Read::Unsent(amendment)) => parsed.amendments.push(amendment),
                Ok(Read::Nothing) => parsed.ignored += 1,
                Err(why) => parsed
                    .unreadable
                    .push(format!("entry {e}, event {m}: {why}")),
            }
        }
    }
    Ok(parsed)
}

/// What one event is.
enum Read {
    Message(Box<Envelope>),
    /// The customer took back a message (Instagram's unsend).
    Unsent(Amendment),
    Nothing,
}

fn read_event(
    platform: &Account<'_>,
    raw: Value,
    arrived_at: DateTime<Utc>,
) -> Result<Read, String> {
    let event: Event = serde_json::from_value(raw).map_err(|_| "unexpected shape")?;
    let sent_at = event
        .timestamp
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or(arrived_at);
    let (mid, text, attachments) = match (&event.message, &event.postback) {
        (Some(message), _) if message.is_echo => return Ok(Read::Nothing),
        (Some(message), _) if message.is_deleted => {
            let provider_id = message
                .mid
                .as_deref()
                .and_then(|id| ProviderMessageId::parse(id).ok())
                .ok_or("an unsend without the message id")?;
            return Ok(Read::Unsent(Amendment {
                channel: platform.channel,
                provider_id,
                at: sent_at,
                change: Change::Deleted,
            }));
        }
        (Some(message), _) => {
            let (text, attachments) = content(message)?;
            (message.mid.as_deref(), text, attachments)
        }
        // A button the customer pressed: its title is what they said.
        (None, Some(postback)) => {
            let text = given(&postback.title)
                .or(given(&postback.payload))
                .ok_or("a postback without a title")?;
            (postback.mid.as_deref(), text.to_string(), Vec::new())
        }
        // Deliveries, reads, reactions, referrals, handovers.
        (None, None) => return Ok(Read::Nothing),
    };
    let provider_id = mid
        .and_then(|id| ProviderMessageId::parse(id).ok())
        .ok_or("no message id")?;
    let sender = event
        .sender
        .as_ref()
        .and_then(|s| UserId::parse(s.id.as_deref()?).ok())
        .ok_or("no sender id")?;
    Ok(Read::Message(Box::new(Envelope {
        channel: platform.channel,
        provider_id,
        sent_at,
        sender: Sender::new(None, vec![Address::UserId(sender.clone())])
            .expect("one address is given"),
        text,
        attachments,
        reply_to: (platform.reply_target)(Target {
            account_id: platform.account_id.to_string(),
            recipient: sender,
        }),
    })))
}

/// The text and attachments of a message; a quick reply's text is the
/// button's title, as the customer saw it.
fn content(message: &Message) -> Result<(String, Vec<Attachment>), String> {
    let mut attachments: Vec<Attachment> =
        message.attachments.iter().filter_map(attachment).collect();
    if let Some(story) = message.reply_to.as_ref().and_then(|r| r.story.as_ref()) {
        if let Some(reference) = given(&story.url).or(given(&story.id)) {
            attachments.push(Attachment {
                kind: "story_reply".into(),
                reference: reference.to_string(),
                mime_type: None,
                filename: None,
            });
        }
    }
    let text = match given(&message.text) {
        Some(text) => text.to_string(),
        None if !attachments.is_empty() => describe(&message.attachments),
        None if message.is_unsupported => UNSUPPORTED.to_string(),
        None => return Err("a message without text or attachments".into()),
    };
    Ok((text, attachments))
}

/// What was sent, for a message with no words: `[image]`, `[location] (1.2, -1.3)`.
fn describe(media: &[Media]) -> String {
    let parts: Vec<String> = media
        .iter()
        .map(|m| {
            let kind = m.r#type.as_deref().unwrap_or("attachment");
            let payload = m.payload.as_ref();
            match (kind, payload.and_then(|p| p.coordinates.as_ref())) {
                (
                    "location",
                    Some(Coordinates {
                        lat: Some(lat),
                        long: Some(long),
                    }),
                ) => {
                    format!("[location] ({lat}, {long})")
                }
                _ => match payload.and_then(|p| given(&p.title)) {
                    Some(title) => format!("[{kind}: {title}]"),
                    None => format!("[{kind}]"),
                },
            }
        })
        .collect();
    parts.join(" ")
}

fn attachment(m: &Media) -> Option<Attachment> {
    let kind = given(&m.r#type).unwrap_or("attachment");
    let payload = m.payload.as_ref();
    let reference = match payload.and_then(|p| p.coordinates.as_ref()) {
        Some(Coordinates {
            lat: Some(lat),
            long: Some(long),
        }) => format!("geo:{lat},{long}"),
        _ => given(&payload?.url)?.to_string(),
    };
    Some(Attachment {
        kind: kind.to_string(),
        reference,
        mime_type: None,
        filename: None,
    })
}
