//! Reads a WhatsApp Cloud API webhook body into envelopes.
//!
//! Meta batches: one POST may hold several entries, changes and messages,
//! mixed with statuses and errors. Each message is read on its own so that one
//! odd message never costs the others; what cannot be read is reported, with
//! a reason that names its position and never its content (nor its id: a
//! `wamid` encodes the sender's number).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{bsuid, Recipient, Target};
use crate::domain::{
    Address, Attachment, Channel, Envelope, PhoneNumber, ProviderMessageId, ReplyTarget, Sender,
};
use crate::channels::wire::given;
use crate::webhook::Parsed;

/// The body as a whole is not a WhatsApp webhook. No payload text goes in
/// the message, so it can be logged.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not JSON")]
    NotJson,
    #[error("not a whatsapp_business_account webhook")]
    NotWhatsapp,
    #[error("a whatsapp_business_account webhook without the entry/changes shape")]
    Malformed,
}

wire! {
    Webhook { entry: Vec<Entry> }
    Entry { changes: Vec<Change> }
    Change { field: String, value: Value }
    // Contacts and messages stay raw so that each can fail alone.
    ChangeValue {
        metadata: Option<Metadata>,
        contacts: Vec<Value>,
        messages: Vec<Value>,
        statuses: Vec<Value>,
        errors: Vec<Value>,
    }
    Metadata { phone_number_id: Option<String> }
    WaContact { wa_id: Option<String>, user_id: Option<String>, profile: Option<Profile> }
    Profile { name: Option<String> }
    Message {
        id: Option<String>,
        from: Option<String>,
        from_user_id: Option<String>,
        // Documented as a string of seconds; a number is taken too rather than lost.
        timestamp: Option<Value>,
        r#type: Option<String>,
        text: Option<Text>,
        image: Option<Media>,
        video: Option<Media>,
        audio: Option<Media>,
        document: Option<Media>,
        sticker: Option<Media>,
        location: Option<Location>,
        contacts: Vec<ContactCard>,
        interactive: Option<Interactive>,
        button: Option<Button>,
        order: Option<Order>,
        errors: Vec<Value>,
    }
    Text { body: Option<String> }
    Media {
        id: Option<String>,
        url: Option<String>,
        mime_type: Option<String>,
        caption: Option<String>,
        filename: Option<String>,
    }
    Location {
        latitude: Option<f64>,
        longitude: Option<f64>,
        name: Option<String>,
        address: Option<String>,
    }
    ContactCard { name: Option<CardName>, phones: Vec<CardPhone> }
    CardName {
        formatted_name: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
    }
    CardPhone { phone: Option<String> }
    Interactive {
        r#type: Option<String>,
        button_reply: Option<Choice>,
        list_reply: Option<Choice>,
        nfm_reply: Option<FlowReply>,
    }
    Choice { title: Option<String>, description: Option<String> }
    FlowReply { body: Option<String>, response_json: Option<String> }
    Button { text: Option<String> }
    Order { text: Option<String>, product_items: Vec<Value> }
}

/// What a message says, by type.
enum Content {
    /// Reactions and system notices: nobody wrote to the business.
    NotAMessage,
    /// The type's own object is absent or says nothing.
    Missing,
    UnknownType,
    Read(String, Vec<Attachment>),
}

const UNSUPPORTED: &str = "[unsupported message]";

pub fn parse(body: &[u8], arrived_at: DateTime<Utc>) -> Result<Parsed, PayloadError> {
    let json: Value = serde_json::from_slice(body).map_err(|_| PayloadError::NotJson)?;
    if json.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        return Err(PayloadError::NotWhatsapp);
    }
    let webhook: Webhook = serde_json::from_value(json).map_err(|_| PayloadError::Malformed)?;

    let mut parsed = Parsed::default();
    for (e, entry) in webhook.entry.into_iter().enumerate() {
        for (c, change) in entry.changes.into_iter().enumerate() {
            if change.field != "messages" {
                parsed.ignored += 1;
                continue;
            }
            let has_messages = change.value.get("messages").is_some();
            let Ok(value) = serde_json::from_value::<ChangeValue>(change.value) else {
                if has_messages {
                    let why = "the messages change has an unexpected shape";
                    parsed
                        .unreadable
                        .push(format!("entry {e}, change {c}: {why}"));
                }
                continue;
            };
            let contacts: Vec<WaContact> = value
                .contacts
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect();
            let phone_number_id = value
                .metadata
                .and_then(|m| given(&m.phone_number_id).map(str::to_string));
            let ctx = ChangeContext {
                contacts: &contacts,
                phone_number_id: phone_number_id.as_deref(),
                has_errors: !value.errors.is_empty(),
                arrived_at,
            };
            // Delivery and read receipts of what the business sent.
            parsed.ignored += value.statuses.len();
            for (m, raw) in value.messages.into_iter().enumerate() {
                match read_message(raw, &ctx) {
                    Ok(Some(envelope)) => parsed.envelopes.push(envelope),
                    Ok(None) => parsed.ignored += 1,
                    Err(why) => parsed
                        .unreadable
                        .push(format!("entry {e}, change {c}, message {m}: {why}")),
                }
            }
        }
    }
    Ok(parsed)
}

/// What the messages of one change share.
struct ChangeContext<'a> {
    contacts: &'a [WaContact],
    phone_number_id: Option<&'a str>,
    has_errors: bool,
    arrived_at: DateTime<Utc>,
}

fn read_message(raw: Value, ctx: &ChangeContext) -> Result<Option<Envelope>, String> {
    let msg: Message = serde_json::from_value(raw).map_err(|_| "unexpected shape")?;
    let kind = plain_type(&msg);
    let (text, attachments) = match content(&msg) {
        Content::NotAMessage => return Ok(None),
        Content::Read(text, attachments) => (text, attachments),
        // Meta reports content it could not deliver with errors beside the
        // message (pywa's interactive_message_with_err): someone still wrote.
        Content::Missing if ctx.has_errors || !msg.errors.is_empty() => {
            (UNSUPPORTED.to_string(), vec![])
        }
        Content::Missing => return Err(format!("a {kind} message without its content")),
        Content::UnknownType => return Err(format!("unknown message type {kind}")),
    };
    let provider_id = msg
        .id
        .as_deref()
        .and_then(|id| ProviderMessageId::parse(id).ok())
        .ok_or("no message id")?;
    let (sender, recipient) =
        sender(&msg, ctx.contacts).ok_or("no valid sender phone number or BSUID")?;
    let phone_number_id = ctx
        .phone_number_id
        .ok_or("no metadata.phone_number_id to reply from")?;
    Ok(Some(Envelope {
        channel: Channel::Whatsapp,
        sent_at: timestamp(msg.timestamp.as_ref()).unwrap_or(ctx.arrived_at),
        sender,
        text,
        attachments,
        reply_to: ReplyTarget::Whatsapp(Target {
            phone_number_id: phone_number_id.to_string(),
            recipient,
            in_reply_to: provider_id.as_str().to_string(),
        }),
        provider_id,
    }))
}

fn sender(msg: &Message, contacts: &[WaContact]) -> Option<(Sender, Recipient)> {
    let find = |f: fn(&WaContact) -> &Option<String>, key: &Option<String>| {
        let key = key.as_deref()?;
        contacts.iter().find(|c| f(c).as_deref() == Some(key))
    };
    let by_wa_id = find(|c| &c.wa_id, &msg.from);
    let by_user_id = find(|c| &c.user_id, &msg.from_user_id);
    let user_id = |id: &Option<String>| bsuid(id.as_deref()?);

    let phone = msg.from.as_deref().and_then(|f| PhoneNumber::parse(f).ok());
    let bsuid = user_id(&msg.from_user_id).or_else(|| user_id(&by_wa_id?.user_id));
    let name = by_wa_id
        .or(by_user_id)
        .and_then(|c| c.profile.as_ref()?.name.clone());

    let recipient = match (&phone, &bsuid) {
        (Some(p), _) => Recipient::Phone(p.clone()),
        (None, Some(u)) => Recipient::User(u.clone()),
        (None, None) => return None,
    };
    let addresses = phone
        .map(Address::Phone)
        .into_iter()
        .chain(bsuid.map(Address::UserId))
        .collect();
    Some((Sender::new(name, addresses).ok()?, recipient))
}

fn content(msg: &Message) -> Content {
    let kind = msg.r#type.as_deref().unwrap_or_default();
    let media = |m: &Option<Media>| m.as_ref().map(|m| media_content(kind, m));
    let read = match kind {
        "reaction" | "system" => return Content::NotAMessage,
        "unsupported" | "unknown" => Some(text_only(UNSUPPORTED)),
        "text" => msg
            .text
            .as_ref()
            .and_then(|t| given(&t.body))
            .map(text_only),
        "image" => media(&msg.image),
        "video" => media(&msg.video),
        "audio" => media(&msg.audio),
        "document" => media(&msg.document),
        "sticker" => media(&msg.sticker),
        "location" => msg.location.as_ref().and_then(location_content),
        "contacts" => cards_text(&msg.contacts).map(text_only),
        "interactive" => msg
            .interactive
            .as_ref()
            .and_then(interactive_text)
            .map(text_only),
        "button" => msg
            .button
            .as_ref()
            .and_then(|b| given(&b.text))
            .map(text_only),
        "order" => msg.order.as_ref().map(order_text).map(text_only),
        _ => return Content::UnknownType,
    };
    read.map_or(Content::Missing, |(text, attachments)| {
        Content::Read(text, attachments)
    })
}

fn text_only(text: impl Into<String>) -> (String, Vec<Attachment>) {
    (text.into(), vec![])
}

fn media_content(kind: &str, m: &Media) -> (String, Vec<Attachment>) {
    let text = match (given(&m.caption), given(&m.filename)) {
        (Some(caption), _) => caption.to_string(),
        (None, Some(filename)) if kind == "document" => format!("[document: {filename}]"),
        (None, _) => format!("[{kind}]"),
    };
    // The url, when Meta sends one, spares a lookup of the media id.
    let attachment = given(&m.url).or(given(&m.id)).map(|reference| Attachment {
        kind: kind.to_string(),
        reference: reference.to_string(),
        mime_type: m.mime_type.clone(),
        filename: m.filename.clone(),
    });
    (text, attachment.into_iter().collect())
}

fn location_content(l: &Location) -> Option<(String, Vec<Attachment>)> {
    let label = [given(&l.name), given(&l.address)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let (coordinates, attachment) = match (l.latitude, l.longitude) {
        (Some(lat), Some(long)) => (
            format!("({lat}, {long})"),
            Some(Attachment {
                kind: "location".to_string(),
                reference: format!("geo:{lat},{long}"),
                mime_type: None,
                filename: None,
            }),
        ),
        _ if label.is_empty() => return None,
        _ => (String::new(), None),
    };
    let text = join_words(["[location]", &label.join(", "), &coordinates]);
    Some((text, attachment.into_iter().collect()))
}

/// One line per shared contact card.
fn cards_text(cards: &[ContactCard]) -> Option<String> {
    let lines: Vec<String> = cards.iter().map(card_line).collect();
    Some(lines.join("\n")).filter(|t| !t.is_empty())
}

fn card_line(card: &ContactCard) -> String {
    let name = card.name.as_ref().map(|n| match given(&n.formatted_name) {
        Some(formatted) => formatted.to_string(),
        None => join_words([&n.first_name, &n.last_name].map(|p| p.as_deref().unwrap_or(""))),
    });
    let phone = card.phones.iter().find_map(|p| given(&p.phone));
    join_words([
        "[contact]",
        name.as_deref().unwrap_or(""),
        phone.unwrap_or(""),
    ])
}

fn interactive_text(i: &Interactive) -> Option<String> {
    match i.r#type.as_deref()? {
        "button_reply" => given(&i.button_reply.as_ref()?.title).map(str::to_string),
        "list_reply" => {
            let choice = i.list_reply.as_ref()?;
            let title = given(&choice.title)?;
            Some(match given(&choice.description) {
                Some(description) => format!("{title} — {description}"),
                None => title.to_string(),
            })
        }
        "nfm_reply" => {
            let flow = i.nfm_reply.as_ref()?;
            given(&flow.body)
                .or(given(&flow.response_json))
                .map(str::to_string)
        }
        _ => None,
    }
}

fn order_text(o: &Order) -> String {
    let n = o.product_items.len();
    let summary = format!("[order] {n} item{}", if n == 1 { "" } else { "s" });
    match given(&o.text) {
        Some(note) => format!("{summary}\n{note}"),
        None => summary,
    }
}

fn timestamp(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let seconds = match value? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(seconds, 0)
}

fn join_words<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    words.join(" ")
}

/// The type is Meta's word, not the customer's; still, only a plain word goes in a reason.
fn plain_type(msg: &Message) -> &str {
    let plain =
        |k: &&str| k.len() <= 32 && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    msg.r#type.as_deref().filter(plain).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// One text message "hi" from `from`, plus `extra` fields.
    fn payload(from: &str, extra: &str) -> String {
        let message = format!(
            r#"{{"from":"{from}","id":"wamid.T1","type":"text","text":{{"body":"hi"}}{extra}}}"#
        );
        let value = format!(
            r#"{{"metadata":{{"phone_number_id":"100000000000001"}},"messages":[{message}]}}"#
        );
        let change = format!(r#"{{"field":"messages","value":{value}}}"#);
        format!(r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{change}]}}]}}"#)
    }

    #[test]
    fn a_body_that_is_not_json_is_an_error() {
        let now = Utc::now();
        assert_eq!(
            parse(b"hub.mode=subscribe", now),
            Err(PayloadError::NotJson)
        );
        assert_eq!(parse(b"", now), Err(PayloadError::NotJson));
    }

    #[test]
    fn json_of_another_object_is_an_error() {
        let now = Utc::now();
        let page = br#"{"object":"page","entry":[]}"#;
        assert_eq!(parse(page, now), Err(PayloadError::NotWhatsapp));
        assert_eq!(parse(b"[1,2]", now), Err(PayloadError::NotWhatsapp));
        assert_eq!(parse(b"{}", now), Err(PayloadError::NotWhatsapp));
        let odd = br#"{"object":"whatsapp_business_account","entry":"x"}"#;
        assert_eq!(parse(odd, now), Err(PayloadError::Malformed));
    }

    #[test]
    fn the_message_timestamp_wins_and_arrival_is_the_fallback() {
        let arrived = at("2026-01-01T00:00:00Z");
        let ten = at("2026-01-01T10:00:00Z");
        let received = |extra: &str| {
            let parsed = parse(payload("33600000001", extra).as_bytes(), arrived).unwrap();
            parsed.envelopes[0].sent_at
        };
        assert_eq!(received(r#","timestamp":"1767261600""#), ten);
        assert_eq!(received(r#","timestamp":1767261600"#), ten);
        assert_eq!(received(""), arrived);
        assert_eq!(received(r#","timestamp":"yesterday""#), arrived);
        assert_eq!(received(r#","timestamp":null"#), arrived);
    }

    #[test]
    fn a_job_queued_before_sent_at_was_named_so_still_reads() {
        let arrived = at("2026-01-01T00:00:00Z");
        let parsed = parse(payload("33600000001", "").as_bytes(), arrived).unwrap();
        let envelope = &parsed.envelopes[0];
        let json = serde_json::to_string(envelope).unwrap();
        assert!(json.contains("\"sent_at\""), "{json}");
        let before = json.replace("\"sent_at\"", "\"received_at\"");
        assert_eq!(
            &serde_json::from_str::<Envelope>(&before).unwrap(),
            envelope
        );
    }

    #[test]
    fn reasons_for_unreadable_messages_leak_nothing() {
        let parsed = parse(payload("12", "").as_bytes(), Utc::now()).unwrap();
        assert!(parsed.envelopes.is_empty());
        let reason = &parsed.unreadable[0];
        let leaks = ["12", "hi", "wamid"].iter().any(|s| reason.contains(s));
        assert!(!leaks, "{reason}");
    }
}
