//! The business vocabulary: contacts, their addresses, threads, messages and
//! the envelope every channel turns its payload into.
//!
//! Types here can only hold valid values ("parse, don't validate"): an
//! `EmailAddress` is an address, a `PhoneNumber` is E.164, an `Envelope` has a
//! sender, a provider id and a reply target.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The channels and the way back to a customer on each are the registry's:
/// a channel is a module of `channels`, named here only through it.
pub use crate::channels::{Channel, ReplyTarget};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidValue {
    #[error("not an email address")]
    Email,
    #[error("not a phone number in international form (+ and 8 to 15 digits)")]
    Phone,
    #[error("not a user id (one word, at most 128 characters)")]
    UserId,
    #[error("not a username (letters, digits and _, 3 to 64 characters)")]
    Username,
    #[error("not a thread reference")]
    ThreadId,
    #[error("empty")]
    Empty,
}

/// A syntactically valid email address, kept as given (case preserved) but
/// compared lower-cased so that `Anne@X.fr` and `anne@x.fr` are one contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.contains(['\r', '\n']) || !email_address::EmailAddress::is_valid(s) {
            return Err(InvalidValue::Email);
        }
        // email_address accepts display forms like "Name <a@b>"; we want the bare address.
        if s.contains(['<', '>', ' ']) {
            return Err(InvalidValue::Email);
        }
        Ok(EmailAddress(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used to match contacts.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form: `+` then 8 to 15 digits, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts what people type (`+33 6 12 34 56 78`, `+33-6…`) and what
    /// providers send without the plus (WhatsApp's `wa_id` is digits only).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        let digits_part = s.strip_prefix('+').unwrap_or(s);
        let mut digits = String::with_capacity(16);
        for c in digits_part.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(InvalidValue::Phone),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(InvalidValue::Phone);
        }
        Ok(PhoneNumber(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the plus, as WhatsApp wants them in `to`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The channel's own id of a person, opaque to everything but its channel:
/// a WhatsApp business-scoped user id (`US.134…`), a Messenger page-scoped
/// id, an Instagram-scoped id, a Telegram user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok =
            !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic() && c != ':');
        if ok {
            Ok(UserId(s.to_string()))
        } else {
            Err(InvalidValue::UserId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UserId::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(p: UserId) -> String {
        p.0
    }
}

/// A public handle a person chose on a channel (Telegram's `@username`),
/// kept without its `@`: what a link to them is made of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.strip_prefix('@').unwrap_or(s);
        let ok =
            (3..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(Username(s.to_string()))
        } else {
            Err(InvalidValue::Username)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(p: Username) -> String {
        p.0
    }
}

/// One way of reaching a contact on one channel. A contact may have several
/// (a WhatsApp user has a phone and a user id; a form sender an email and a phone).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Address {
    Email(EmailAddress),
    Phone(PhoneNumber),
    /// Written `whatsapp_user` before channels other than WhatsApp had ids.
    #[serde(alias = "whatsapp_user")]
    UserId(UserId),
    Username(Username),
}

impl Address {
    /// A stable textual key, unique across kinds.
    pub fn key(&self) -> String {
        match self {
            Address::Email(e) => format!("email:{}", e.key()),
            Address::Phone(p) => format!("phone:{}", p.as_str()),
            Address::UserId(u) => format!("id:{}", u.as_str()),
            Address::Username(u) => format!("username:{}", u.as_str()),
        }
    }

    pub fn parse_key(key: &str) -> Option<Address> {
        let (kind, value) = key.split_once(':')?;
        match kind {
            "email" => EmailAddress::parse(value).ok().map(Address::Email),
            "phone" => PhoneNumber::parse(value).ok().map(Address::Phone),
            // `bsuid` is how WhatsApp's ids were keyed before other channels had any.
            "id" | "bsuid" => UserId::parse(value).ok().map(Address::UserId),
            "username" => Username::parse(value).ok().map(Address::Username),
            _ => None,
        }
    }

    /// What the owner reads: the address itself.
    pub fn display(&self) -> &str {
        match self {
            Address::Email(e) => e.as_str(),
            Address::Phone(p) => p.as_str(),
            Address::UserId(u) => u.as_str(),
            Address::Username(u) => u.as_str(),
        }
    }
}

/// An address on a given channel: the key contacts are matched by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelAddress {
    pub channel: Channel,
    pub address: Address,
}

impl ChannelAddress {
    pub fn new(channel: Channel, address: Address) -> Self {
        ChannelAddress { channel, address }
    }

    /// `whatsapp:phone:+33612345678`: the key stores index contacts by.
    pub fn key(&self) -> String {
        format!("{}:{}", self.channel, self.address.key())
    }

    /// The key an earlier version stored this address under, if it differs:
    /// user ids were keyed `bsuid:` when only WhatsApp had them. A store
    /// that cannot rewrite its keys looks this one up too.
    pub fn former_key(&self) -> Option<String> {
        match &self.address {
            Address::UserId(id) => Some(format!("{}:bsuid:{}", self.channel, id.as_str())),
            _ => None,
        }
    }

    pub fn parse_key(key: &str) -> Option<ChannelAddress> {
        let (channel, rest) = key.split_once(':')?;
        Some(ChannelAddress::new(
            Channel::parse(channel)?,
            Address::parse_key(rest)?,
        ))
    }
}

macro_rules! random_id {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, short_random()))
            }

            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                let s = s.trim();
                let body = s
                    .strip_prefix($prefix)
                    .or_else(|| s.strip_prefix(&$prefix.to_lowercase()))
                    .ok_or(InvalidValue::ThreadId)?;
                if body.len() == 10
                    && body
                        .chars()
                        .all(|c| CROCKFORD.contains(&(c.to_ascii_uppercase() as u8)))
                {
                    Ok($name(format!("{}{}", $prefix, body.to_ascii_uppercase())))
                } else {
                    Err(InvalidValue::ThreadId)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Ten characters of Crockford base32 (50 random bits): short enough for a
/// customer to read out on the phone, long enough never to collide for one shop.
fn short_random() -> String {
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..10)
        .map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

random_id!(
    ThreadId,
    "T-",
    "The reference of a conversation, shown to the customer in the acknowledgement."
);
random_id!(
    ContactId,
    "C-",
    "A contact: one person, however many addresses."
);
random_id!(MessageId, "M-", "Accueil's own id of a stored message.");

/// The provider's id of a message (`wamid.…`, a form submission's uuid):
/// the key of idempotent processing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProviderMessageId(String);

impl ProviderMessageId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.is_empty() {
            Err(InvalidValue::Empty)
        } else {
            Ok(ProviderMessageId(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Something sent alongside the text: a photo, a document, a location.
/// Accueil keeps a reference, never the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// `image`, `audio`, `video`, `document`, `sticker`, `location`, `contacts`…
    pub kind: String,
    /// The provider's media id or URL, or `geo:lat,long` for a location.
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// Who wrote: a display name if the channel gives one, and every address
/// the channel knows them by (at least one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sender {
    pub name: Option<String>,
    addresses: Vec<Address>,
}

impl Sender {
    pub fn new(name: Option<String>, addresses: Vec<Address>) -> Result<Self, InvalidValue> {
        if addresses.is_empty() {
            return Err(InvalidValue::Empty);
        }
        let name = name
            .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|n| !n.is_empty());
        Ok(Sender { name, addresses })
    }

    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }
}

/// One customer message, normalized: what ingest puts on the queue and
/// process stores. It cannot exist without a sender, an id and a way back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub channel: Channel,
    pub provider_id: ProviderMessageId,
    /// When the customer sent it: the provider's timestamp, else when ingest
    /// received it. (Jobs queued before the field's rename call it `received_at`.)
    #[serde(alias = "received_at")]
    pub sent_at: DateTime<Utc>,
    pub sender: Sender,
    /// The text the customer wrote, or a caption, a button title, a
    /// description of what was sent ("[location] 48.85,2.35").
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub reply_to: ReplyTarget,
}

impl Envelope {
    pub fn channel_addresses(&self) -> Vec<ChannelAddress> {
        self.sender
            .addresses()
            .iter()
            .map(|a| ChannelAddress::new(self.channel, a.clone()))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub name: Option<String>,
    pub addresses: Vec<ChannelAddress>,
    pub created_at: DateTime<Utc>,
}

impl Contact {
    /// What the owner reads: the name, else the first address.
    pub fn display(&self) -> String {
        match (&self.name, self.addresses.first()) {
            (Some(n), _) => n.clone(),
            (None, Some(a)) => a.address.display().to_string(),
            (None, None) => self.id.to_string(),
        }
    }
}

/// Where a conversation stands for the owner. Open, answered and snoozed
/// threads are live: the customer's next message joins them, and makes an
/// answered or snoozed one open again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadStatus {
    /// Waits for the owner: in the digest.
    Open,
    /// The owner replied: out of the digest until the customer writes again.
    Answered,
    /// Put off until `snoozed_until`, then back in the digest.
    Snoozed,
    /// Done.
    Closed,
}

impl ThreadStatus {
    pub const ALL: [ThreadStatus; 4] = [
        ThreadStatus::Open,
        ThreadStatus::Answered,
        ThreadStatus::Snoozed,
        ThreadStatus::Closed,
    ];

    /// As stored and shown: `open`, `answered`, `snoozed`, `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::Open => "open",
            ThreadStatus::Answered => "answered",
            ThreadStatus::Snoozed => "snoozed",
            ThreadStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<ThreadStatus> {
        ThreadStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// What the owner does to a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ThreadChange {
    /// Done (`accueil close`, the page's "Done"). A live thread only.
    Close,
    /// Back to open: a closed thread (unless the contact has another live
    /// one on the channel), an answered or a snoozed one.
    Reopen,
    /// Out of the digest until then. A live thread only.
    Snooze { until: DateTime<Utc> },
}

/// A conversation with one contact on one channel. While open it waits for
/// the owner; the digest lists it until it is answered, snoozed or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    pub id: ThreadId,
    pub contact: Contact,
    pub channel: Channel,
    pub status: ThreadStatus,
    /// When its first message was sent (the customer's time).
    pub opened_at: DateTime<Utc>,
    /// When the customer began waiting for the owner: the first message,
    /// or the first after the owner's last reply (the customer's time).
    /// Older threads have none: they wait since `opened_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<DateTime<Utc>>,
    /// When its latest message was stored, by Accueil's clock: activity, and
    /// what "new since the last digest" is measured against.
    pub last_message_at: DateTime<Utc>,
    pub message_count: u32,
    /// The beginning of the last message, for lists.
    pub last_excerpt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Until when a snoozed thread stays out of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<DateTime<Utc>>,
    /// An acknowledgement it was owed failed and none was sent: the
    /// customer has not heard back at all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unacknowledged: bool,
}

impl Thread {
    /// When the customer's wait for the owner began.
    pub fn waits_since(&self) -> DateTime<Utc> {
        self.waiting_since.unwrap_or(self.opened_at)
    }

    /// Whether it waits for the owner at `now`: open, or snoozed until a
    /// time that has come.
    pub fn waiting(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            ThreadStatus::Open => true,
            ThreadStatus::Snoozed => self.snoozed_until.is_none_or(|until| until <= now),
            ThreadStatus::Answered | ThreadStatus::Closed => false,
        }
    }
}

/// Who wrote a message of a thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    #[default]
    Customer,
    /// The owner's reply, sent on the thread's channel; its
    /// `acknowledgement` is then the reply's own delivery.
    Owner,
}

impl Author {
    pub fn is_customer(&self) -> bool {
        *self == Author::Customer
    }

    /// As stored and shown: `customer`, `owner`.
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Author> {
        [Author::Customer, Author::Owner]
            .into_iter()
            .find(|author| author.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub thread_id: ThreadId,
    pub channel: Channel,
    pub provider_id: ProviderMessageId,
    /// The customer, but for the owner's replies.
    #[serde(default, skip_serializing_if = "Author::is_customer")]
    pub author: Author,
    /// When the customer sent it, by the provider's clock (whole seconds on
    /// WhatsApp; a redelivery keeps it): shown to the owner, and the order of
    /// a thread's messages.
    pub sent_at: DateTime<Utc>,
    /// When Accueil stored it, by its own clock: "new since the last digest"
    /// compares this one, never the provider's.
    pub received_at: DateTime<Utc>,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// When the customer last changed its text (Telegram's edits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
    /// When the customer withdrew it (Instagram's unsend): its text and
    /// attachments are gone, and the digest no longer counts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// None for messages stored before acknowledgements were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement: Option<Acknowledgement>,
}

/// A change a customer made to a message they sent earlier. Nothing is
/// acknowledged for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Amendment {
    pub channel: Channel,
    /// The message it changes, as the envelope named it.
    pub provider_id: ProviderMessageId,
    /// When the customer made the change, by the provider's clock.
    pub at: DateTime<Utc>,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The message now says this.
    Edited {
        text: String,
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    /// The customer took the message back.
    Deleted,
}

/// What became of the acknowledgement a message was owed. Recorded with the
/// message, in the same atomic step, and settled by the attempts to send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub state: AckState,
    /// Why it failed or was skipped; while pending, what the last attempt met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The provider's id of what was sent, or the outbox file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    #[serde(default)]
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckState {
    /// Owed, not delivered yet: an attempt is due.
    Pending,
    Sent,
    /// Refused by the provider, or still failing when retrying became pointless.
    Failed,
    /// None was owed (see the reason).
    Skipped,
}

impl AckState {
    pub const ALL: [AckState; 4] = [
        AckState::Pending,
        AckState::Sent,
        AckState::Failed,
        AckState::Skipped,
    ];

    /// As stored and shown: `pending`, `sent`, `failed`, `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            AckState::Pending => "pending",
            AckState::Sent => "sent",
            AckState::Failed => "failed",
            AckState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<AckState> {
        AckState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl Acknowledgement {
    pub fn pending() -> Self {
        Acknowledgement {
            state: AckState::Pending,
            reason: None,
            receipt: None,
            attempts: 0,
        }
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Acknowledgement {
            state: AckState::Skipped,
            reason: Some(reason.into()),
            ..Self::pending()
        }
    }

    pub fn sent(receipt: String, attempts: u32) -> Self {
        Acknowledgement {
            state: AckState::Sent,
            reason: None,
            receipt: Some(receipt),
            attempts,
        }
    }

    pub fn failed(reason: String, attempts: u32) -> Self {
        Acknowledgement {
            state: AckState::Failed,
            reason: Some(reason),
            receipt: None,
            attempts,
        }
    }

    /// Still owed after `attempts` tries, the last of which met `reason`.
    pub fn retrying(reason: String, attempts: u32) -> Self {
        Acknowledgement {
            state: AckState::Pending,
            reason: Some(reason),
            receipt: None,
            attempts,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.state == AckState::Pending
    }
}

/// An authentic payload that could not be read: kept whole so that nothing
/// is lost, counted in the digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub id: String,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub reason: String,
    pub payload: String,
}

impl Quarantined {
    pub fn new(
        channel: Channel,
        received_at: DateTime<Utc>,
        reason: String,
        payload: &[u8],
    ) -> Self {
        Quarantined {
            id: uuid::Uuid::new_v4().to_string(),
            channel,
            received_at,
            reason,
            payload: String::from_utf8_lossy(payload).into_owned(),
        }
    }
}

/// Characters of the last message a thread keeps for lists.
pub const EXCERPT_CHARS: usize = 140;

/// The first `max` characters of a text on one line, for lists and digests.
pub fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalized_to_e164() {
        assert_eq!(
            PhoneNumber::parse("+33 6 12 34 56 78").unwrap().as_str(),
            "+33612345678"
        );
        assert_eq!(
            PhoneNumber::parse("16315551181").unwrap().as_str(),
            "+16315551181"
        );
        assert_eq!(
            PhoneNumber::parse("+1 (631) 555-1181").unwrap().digits(),
            "16315551181"
        );
        assert_eq!(PhoneNumber::parse("06 12"), Err(InvalidValue::Phone));
        assert_eq!(
            PhoneNumber::parse("+33 6 12 34 56 7a"),
            Err(InvalidValue::Phone)
        );
        assert_eq!(PhoneNumber::parse("0612345678"), Err(InvalidValue::Phone));
    }

    #[test]
    fn email_addresses_are_bare_and_match_case_insensitively() {
        let a = EmailAddress::parse("Anne@Example.FR").unwrap();
        assert_eq!(a.as_str(), "Anne@Example.FR");
        assert_eq!(a.key(), "anne@example.fr");
        assert!(EmailAddress::parse("Anne <anne@example.fr>").is_err());
        assert!(EmailAddress::parse("anne@example.fr\r\nBcc: x@y.z").is_err());
        assert!(EmailAddress::parse("not an address").is_err());
    }

    #[test]
    fn user_ids_are_one_word_and_usernames_lose_their_at() {
        assert!(UserId::parse("US.13491208655302741918").is_ok());
        assert!(UserId::parse("6915281740").is_ok());
        assert_eq!(UserId::parse("a b"), Err(InvalidValue::UserId));
        assert_eq!(UserId::parse("a:b"), Err(InvalidValue::UserId));
        assert_eq!(UserId::parse(""), Err(InvalidValue::UserId));
        assert_eq!(Username::parse("@anne_m").unwrap().as_str(), "anne_m");
        assert_eq!(Username::parse("anne m"), Err(InvalidValue::Username));
    }

    #[test]
    fn channel_address_keys_round_trip() {
        let a = ChannelAddress::new(
            Channel::Whatsapp,
            Address::UserId(UserId::parse("US.1234").unwrap()),
        );
        assert_eq!(a.key(), "whatsapp:id:US.1234");
        assert_eq!(ChannelAddress::parse_key(&a.key()), Some(a.clone()));
        assert_eq!(ChannelAddress::parse_key("whatsapp:bsuid:US.1234"), Some(a));
        let json = r#"{"kind":"whatsapp_user","value":"US.1234"}"#;
        assert_eq!(
            serde_json::from_str::<Address>(json).unwrap(),
            Address::UserId(UserId::parse("US.1234").unwrap())
        );
    }

    #[test]
    fn thread_ids_parse_what_they_print_in_either_case() {
        let id = ThreadId::generate();
        assert_eq!(ThreadId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(ThreadId::parse(&id.as_str().to_lowercase()), Ok(id));
        assert!(ThreadId::parse("T-123").is_err());
        assert!(ThreadId::parse("C-0123456789").is_err());
    }

    #[test]
    fn a_sender_needs_an_address() {
        assert_eq!(
            Sender::new(Some("x".into()), vec![]),
            Err(InvalidValue::Empty)
        );
        let s = Sender::new(
            Some("  Anne \n Martin ".into()),
            vec![Address::Phone(PhoneNumber::parse("+33612345678").unwrap())],
        )
        .unwrap();
        assert_eq!(s.name.as_deref(), Some("Anne Martin"));
    }

    #[test]
    fn excerpts_are_one_line_and_bounded() {
        assert_eq!(excerpt("a\nb   c", 10), "a b c");
        assert_eq!(excerpt("abcdefghijkl", 5), "abcd…");
    }
}
