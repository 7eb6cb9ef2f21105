//! Reads a Telegram Bot API `Update` into envelopes.
//!
//! One update holds one event. A customer message is a `message` in a
//! private chat from a person, and an `edited_message` there changes it;
//! everything else (group and channel posts,
//! `my_chat_member`, callback queries, messages from bots, service
//! messages) is counted and left alone. Reasons name fields, never content.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::Target;
use crate::domain::{
    Address, Amendment, Attachment, Change, Channel, Envelope, ProviderMessageId, ReplyTarget,
    Sender, UserId, Username,
};
use crate::channels::wire::given;
use crate::webhook::Parsed;

wire! {
    Update { update_id: Option<i64>, message: Option<Value>, edited_message: Option<Value> }
    Message {
        message_id: Option<i64>,
        from: Option<User>,
        chat: Option<Chat>,
        date: Option<i64>,
        edit_date: Option<i64>,
        text: Option<String>,
        caption: Option<String>,
        photo: Vec<File>,
        document: Option<File>,
        voice: Option<File>,
        audio: Option<File>,
        video: Option<File>,
        video_note: Option<File>,
        sticker: Option<Sticker>,
        location: Option<Location>,
        venue: Option<Venue>,
        contact: Option<Contact>,
        animation: Option<File>,
        poll: Option<Value>,
        dice: Option<Value>,
        game: Option<Value>,
        story: Option<Value>,
    }
    User { id: Option<i64>, is_bot: bool, first_name: Option<String>, last_name: Option<String>, username: Option<String> }
    Chat { id: Option<i64>, r#type: Option<String> }
    File { file_id: Option<String>, file_name: Option<String>, mime_type: Option<String> }
    Sticker { file_id: Option<String>, emoji: Option<String> }
    Location { latitude: Option<f64>, longitude: Option<f64> }
    Venue { location: Option<Location>, title: Option<String>, address: Option<String> }
    Contact { phone_number: Option<String>, first_name: Option<String>, last_name: Option<String> }
}

const UNSUPPORTED: &str = "[unsupported message]";

pub fn parse(body: &[u8], arrived_at: DateTime<Utc>) -> Result<Parsed, String> {
    let json: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    let update: Update =
        serde_json::from_value(json).map_err(|_| "not a Telegram update (unexpected shape)")?;
    if update.update_id.is_none() {
        return Err("not a Telegram update (no update_id)".into());
    }
    let mut parsed = Parsed::default();
    match (update.message, update.edited_message) {
        (Some(raw), _) => match read_message(raw, arrived_at) {
            Ok(Some(envelope)) => parsed.envelopes.push(envelope),
            Ok(None) => parsed.ignored += 1,
            Err(why) => parsed.unreadable.push(format!("message: {why}")),
        },
        (None, Some(raw)) => match read_edit(raw, arrived_at) {
            Ok(Some(amendment)) => parsed.amendments.push(amendment),
            Ok(None) => parsed.ignored += 1,
            Err(why) => parsed.unreadable.push(format!("edited_message: {why}")),
        },
        // Chat membership, callback queries, channel posts…
        (None, None) => parsed.ignored += 1,
    }
    Ok(parsed)
}

/// An edit of a customer's message: its new text replaces the stored one;
/// nothing is acknowledged again.
fn read_edit(raw: Value, arrived_at: DateTime<Utc>) -> Result<Option<Amendment>, String> {
    let Some(envelope) = read_message(raw.clone(), arrived_at)? else {
        return Ok(None);
    };
    let msg: Message = serde_json::from_value(raw).map_err(|_| "unexpected shape")?;
    let at = msg
        .edit_date
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .unwrap_or(arrived_at);
    Ok(Some(Amendment {
        channel: Channel::Telegram,
        provider_id: envelope.provider_id,
        at,
        change: Change::Edited {
            text: envelope.text,
            attachments: envelope.attachments,
        },
    }))
}

fn read_message(raw: Value, arrived_at: DateTime<Utc>) -> Result<Option<Envelope>, String> {
    let msg: Message = serde_json::from_value(raw).map_err(|_| "unexpected shape")?;
    let chat = msg.chat.as_ref().ok_or("no chat")?;
    if chat.r#type.as_deref() != Some("private") {
        return Ok(None);
    }
    let Some(from) = msg.from.as_ref() else {
        return Err("no sender".into());
    };
    if from.is_bot {
        return Ok(None);
    }
    let Some((text, attachments)) = content(&msg) else {
        // A service message (pinned, joined…): nobody wrote.
        return Ok(None);
    };
    let chat_id = chat.id.ok_or("no chat id")?;
    let message_id = msg.message_id.ok_or("no message_id")?;
    let user = from
        .id
        .and_then(|id| UserId::parse(&id.to_string()).ok())
        .ok_or("no sender id")?;
    let mut addresses = vec![Address::UserId(user)];
    if let Some(name) = given(&from.username).and_then(|u| Username::parse(u).ok()) {
        addresses.push(Address::Username(name));
    }
    let name = [given(&from.first_name), given(&from.last_name)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let sender = Sender::new(Some(name), addresses).expect("a user id is always given");
    Ok(Some(Envelope {
        channel: Channel::Telegram,
        provider_id: provider_id(chat_id, message_id),
        sent_at: msg
            .date
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .unwrap_or(arrived_at),
        sender,
        text,
        attachments,
        reply_to: ReplyTarget::Telegram(Target {
            chat_id,
            message_id,
        }),
    }))
}

/// A message is named by its chat and its number there (`message_id` is
/// unique per chat): a redelivered update names the same message, so it is
/// stored once.
fn provider_id(chat_id: i64, message_id: i64) -> ProviderMessageId {
    ProviderMessageId::parse(&format!("{chat_id}/{message_id}")).expect("never empty")
}

fn content(msg: &Message) -> Option<(String, Vec<Attachment>)> {
    let caption = given(&msg.caption);
    let file = |kind: &str, f: &File| {
        let text = match (caption, given(&f.file_name)) {
            (Some(c), _) => c.to_string(),
            (None, Some(name)) if kind == "document" => format!("[document: {name}]"),
            (None, _) => format!("[{kind}]"),
        };
        let attachment = given(&f.file_id).map(|id| Attachment {
            kind: kind.to_string(),
            reference: id.to_string(),
            mime_type: f.mime_type.clone(),
            filename: f.file_name.clone(),
        });
        (text, attachment.into_iter().collect())
    };
    if let Some(text) = given(&msg.text) {
        return Some((text.to_string(), Vec::new()));
    }
    // Telegram sends each size of a photo; the largest comes last.
    if let Some(photo) = msg.photo.last() {
        return Some(file("photo", photo));
    }
    let files = [
        ("video", &msg.video),
        ("video_note", &msg.video_note),
        ("voice", &msg.voice),
        ("audio", &msg.audio),
        ("animation", &msg.animation),
        ("document", &msg.document),
    ];
    if let Some((kind, Some(f))) = files.into_iter().find(|(_, f)| f.is_some()) {
        return Some(file(kind, f));
    }
    if let Some(sticker) = &msg.sticker {
        let text = match given(&sticker.emoji) {
            Some(emoji) => format!("[sticker {emoji}]"),
            None => "[sticker]".to_string(),
        };
        let attachment = given(&sticker.file_id).map(|id| attachment("sticker", id));
        return Some((text, attachment.into_iter().collect()));
    }
    if let Some(venue) = &msg.venue {
        let label = [given(&venue.title), given(&venue.address)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        let place = venue.location.as_ref().and_then(geo);
        let text = format!("[location] {label}").trim().to_string();
        return Some((text, place.into_iter().collect()));
    }
    if let Some(location) = &msg.location {
        let (lat, long) = (location.latitude?, location.longitude?);
        let place = attachment("location", &format!("geo:{lat},{long}"));
        return Some((format!("[location] ({lat}, {long})"), vec![place]));
    }
    if let Some(contact) = &msg.contact {
        let words = [
            Some("[contact]"),
            given(&contact.first_name),
            given(&contact.last_name),
            given(&contact.phone_number),
        ];
        let text = words.into_iter().flatten().collect::<Vec<_>>().join(" ");
        return Some((text, Vec::new()));
    }
    if let Some(caption) = caption {
        return Some((caption.to_string(), Vec::new()));
    }
    let unsupported = [&msg.poll, &msg.dice, &msg.game, &msg.story];
    unsupported
        .iter()
        .any(|v| v.is_some())
        .then(|| (UNSUPPORTED.to_string(), Vec::new()))
}

fn geo(l: &Location) -> Option<Attachment> {
    Some(attachment(
        "location",
        &format!("geo:{},{}", l.latitude?, l.longitude?),
    ))
}

fn attachment(kind: &str, reference: &str) -> Attachment {
    Attachment {
        kind: kind.to_string(),
        reference: reference.to_string(),
        mime_type: None,
        filename: None,
    }
}

