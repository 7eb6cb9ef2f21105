//! The seams between the domain and the world. `accueil-embedded` implements
//! them on SQLite and files, `accueil-aws` on DynamoDB, SQS, SES and SNS.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::delivery::Delivery;
use crate::domain::{
    Acknowledgement, Amendment, Channel, ChannelAddress, Contact, ContactId, Envelope, Message,
    ProviderMessageId, Quarantined, Thread, ThreadChange, ThreadId, ThreadStatus,
};
use crate::email::OutgoingEmail;
use crate::owner::Reply;

/// What ingest hands to process: a customer message, an authentic payload
/// that could not be read and must be kept, a customer's change, the
/// owner's reply; and what process hands itself: an acknowledgement or a
/// reply still to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    Message(Envelope),
    Quarantine(Quarantined),
    Amend(Amendment),
    Acknowledge(Delivery),
    /// The owner's answer, from the page or `accueil reply`.
    Reply(Reply),
}

impl Job {
    /// The channel it concerns: the worker bounds how many jobs of one
    /// channel run at once.
    pub fn channel(&self) -> Channel {
        match self {
            Job::Message(envelope) => envelope.channel,
            Job::Quarantine(payload) => payload.channel,
            Job::Amend(amendment) => amendment.channel,
            Job::Acknowledge(delivery) => delivery.channel,
            Job::Reply(reply) => reply.channel,
        }
    }

    /// Whom it concerns, for a worker that runs jobs side by side: jobs
    /// with the same key run in order, others at once. A customer's
    /// messages share one (each decides its acknowledgement after the one
    /// before was stored); an acknowledgement's retry only sends what was
    /// decided, so its thread is key enough. None for a job that must run
    /// alone on its channel: an amendment names only a message, which must
    /// be stored first. An address is personal data: the key is for the
    /// queue, never for logs.
    pub fn customer(&self) -> Option<String> {
        match self {
            Job::Message(envelope) => envelope
                .sender
                .addresses()
                .first()
                .map(|address| format!("from:{}", address.key())),
            Job::Quarantine(payload) => Some(format!("quarantine:{}", payload.id)),
            Job::Amend(_) => None,
            Job::Acknowledge(delivery) => Some(format!("thread:{}", delivery.thread_id)),
            Job::Reply(reply) => Some(format!("thread:{}", reply.thread_id)),
        }
    }
}

#[derive(Debug, Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

/// The durable hand-off between ingest and process. Once `enqueue` returns
/// Ok the jobs survive a crash; ingest answers the provider only then.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), QueueError>;
    /// Enqueues a job that no consumer sees before `delay` has passed (at
    /// most 15 minutes, SQS's longest).
    async fn enqueue_later(&self, job: &Job, delay: std::time::Duration) -> Result<(), QueueError>;
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// Whether a message was new: providers and queues deliver twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    New,
    Duplicate,
    /// The contact it came with was new, but another contact holds one of
    /// their addresses already (made meanwhile for a concurrent message of
    /// the same person): nothing was written.
    ContactTaken,
}

/// A message to store, and what it brings along when it is the first of
/// its kind: a contact met for the first time, a thread it opens. Storing
/// them with the message is one step where it was three.
#[derive(Debug, Clone, Copy)]
pub struct Appending<'a> {
    pub message: &'a Message,
    /// Whom it is from: an acknowledgement it is owed counts for them.
    pub contact: &'a ContactId,
    /// The contact, when this message is the first known of them.
    pub new_contact: Option<&'a Contact>,
    /// The thread, when this message opens it.
    pub new_thread: Option<&'a Thread>,
    /// For a message owed an acknowledgement whose first attempt follows
    /// at once: the end of that attempt's lease, taken with the message as
    /// `claim_acknowledgement` of attempt 0 would take it.
    pub first_attempt_until: Option<DateTime<Utc>>,
    /// The status the thread it joins was read in, when answered or
    /// snoozed: the customer wrote again, and it is open once more (an
    /// answered one waiting from this message). Applied only if the thread
    /// is still in that status.
    pub reopens: Option<ThreadStatus>,
}

impl<'a> Appending<'a> {
    /// A message of a known contact to a thread already stored.
    pub fn to(message: &'a Message, contact: &'a ContactId) -> Appending<'a> {
        Appending {
            message,
            contact,
            new_contact: None,
            new_thread: None,
            first_attempt_until: None,
            reopens: None,
        }
    }
}

/// What an amendment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amended {
    /// The message is in this thread, now as amended.
    Applied(ThreadId),
    /// No message by that id is stored (never was, or forgotten since).
    Unknown,
}

/// Whether an attempt at an acknowledgement may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Yours, for the lease.
    Claimed,
    /// Another attempt holds it now.
    Busy,
    /// Nothing left to attempt: sent, failed, skipped, owned by a later
    /// attempt, or its message gone.
    Settled,
}

/// A thread with every message in it, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadWithMessages {
    #[serde(flatten)]
    pub thread: Thread,
    pub messages: Vec<Message>,
}

/// A quarantined payload as listed: what came in and why it was kept aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub id: String,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub reason: String,
}

/// What `forget` erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forgotten {
    pub threads: usize,
    pub messages: usize,
}

/// Where threads live. Each operation is one business step; the adapters
/// decide how to make each one atomic.
#[async_trait]
pub trait Store: Send + Sync {
    /// The contact known by any of these addresses.
    async fn find_contact(
        &self,
        addresses: &[ChannelAddress],
    ) -> Result<Option<Contact>, StoreError>;
    /// Stores a new contact with its addresses, all or nothing: false, with
    /// nothing written, when another contact holds one of its addresses
    /// already (made meanwhile for a concurrent message of the same person).
    async fn create_contact(&self, contact: &Contact) -> Result<bool, StoreError>;
    /// Updates a stored contact's name and adds its new addresses; an
    /// address another contact holds stays with that one.
    async fn save_contact(&self, contact: &Contact) -> Result<(), StoreError>;
    /// The contact's live thread on a channel (open, answered or snoozed:
    /// their next message joins it), if any.
    async fn live_thread_of(
        &self,
        contact: &ContactId,
        channel: Channel,
    ) -> Result<Option<Thread>, StoreError>;
    async fn open_thread(&self, thread: &Thread) -> Result<(), StoreError>;
    /// Adds the message to its thread unless its provider id was seen
    /// before on that channel, with the acknowledgement it is owed; atomic,
    /// so a retry can never store it twice nor lose what it is owed. An
    /// acknowledgement owed counts, from then on, in `acknowledgements_to`
    /// the `contact`. A new contact and a new thread it brings are stored
    /// first, as `create_contact` and `open_thread` do; none of them when
    /// the message is a duplicate or the contact's address is taken.
    async fn append_message(&self, appending: &Appending<'_>) -> Result<Appended, StoreError>;
    /// Applies a customer's change to the message it names, and keeps the
    /// thread's excerpt and count of live messages true. Applying it again
    /// changes nothing more.
    async fn amend_message(&self, amendment: &Amendment) -> Result<Amended, StoreError>;
    /// When the contact's messages stored since `since` were owed an
    /// acknowledgement (sent, failed or still pending: one was promised).
    async fn acknowledgements_to(
        &self,
        contact: &ContactId,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError>;
    /// Takes attempt `attempt + 1` at a stored message's acknowledgement,
    /// for `lease`: it is `Claimed` while pending with `attempt` attempts
    /// made, no lease running; or with `attempt + 1` made, by a holder whose
    /// lease ran out (it crashed). `Busy` while another lease runs.
    async fn claim_acknowledgement(
        &self,
        channel: Channel,
        provider_id: &ProviderMessageId,
        attempt: u32,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError>;
    /// Records what an attempt came to, ending its lease, and on its thread
    /// whether the customer was acknowledged. For the owner's reply,
    /// delivered by the same attempts, that counts nothing; once it is sent
    /// the thread is answered (out of the digest), unless it is closed or
    /// the customer wrote after the reply was written. Changes nothing once the
    /// acknowledgement is no longer pending, or its message is gone.
    async fn settle_acknowledgement(
        &self,
        thread: &ThreadId,
        channel: Channel,
        provider_id: &ProviderMessageId,
        outcome: &Acknowledgement,
    ) -> Result<(), StoreError>;
    /// The threads in `status`, the one waiting longest first.
    async fn threads_by_wait(&self, status: ThreadStatus) -> Result<Vec<Thread>, StoreError>;
    /// Every thread, most recent activity first.
    async fn threads(&self) -> Result<Vec<Thread>, StoreError>;
    async fn thread(&self, id: &ThreadId) -> Result<Option<ThreadWithMessages>, StoreError>;
    /// The thread holding a provider's message: a form's reference names a
    /// submission even when it joined an already open thread.
    async fn thread_of_message(
        &self,
        channel: Channel,
        provider_id: &str,
    ) -> Result<Option<ThreadId>, StoreError>;
    /// Applies the owner's change; false, changing nothing, if the thread
    /// does not exist or the change does not apply to where it stands
    /// (`ThreadChange` says when each does).
    async fn change_thread(
        &self,
        id: &ThreadId,
        change: ThreadChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Stores the owner's reply (`Author::Owner`) in its thread, its
    /// delivery pending with the first attempt leased until
    /// `first_attempt_until`; once only per provider id. `Duplicate`, with
    /// nothing written, when it was stored before or its thread is gone.
    async fn append_reply(
        &self,
        reply: &Message,
        first_attempt_until: DateTime<Utc>,
    ) -> Result<Appended, StoreError>;
    async fn quarantine(&self, payload: &Quarantined) -> Result<(), StoreError>;
    /// Quarantined payloads received after `since` (all when None).
    async fn quarantined_since(&self, since: Option<DateTime<Utc>>) -> Result<u64, StoreError>;
    /// Every quarantined payload still kept, the latest first.
    async fn quarantine_entries(&self) -> Result<Vec<QuarantineEntry>, StoreError>;
    /// A quarantined payload as it came in.
    async fn quarantined_payload(&self, id: &str) -> Result<Option<String>, StoreError>;
    async fn last_digest_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    async fn record_digest(&self, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Erases the contact known by this address, with its threads, messages
    /// and acknowledgements (a customer's right to be forgotten).
    async fn forget_contact(
        &self,
        address: &ChannelAddress,
    ) -> Result<Option<Forgotten>, StoreError>;
}

#[derive(Debug, Error)]
pub enum SendError {
    /// Worth retrying: the provider or the network failed.
    #[error("delivery failed, will retry: {0}")]
    Transient(String),
    /// Retrying will not help (refused recipient, closed window).
    #[error("delivery refused: {0}")]
    Rejected(String),
}

/// Sends email: acknowledgements of email-like channels and the digest.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Returns a receipt: the provider's message id, or where it was written.
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError>;
}

/// A request to a channel's own API (WhatsApp Graph, Telegram…), fully formed
/// by the channel's module; the sender only adds transport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiRequest {
    pub channel: Channel,
    /// Appended to the channel's API base URL, like `/123/messages`.
    pub path: String,
    pub body: serde_json::Value,
}

/// Sends acknowledgements through a channel's API.
#[async_trait]
pub trait ChannelSender: Send + Sync {
    async fn send(&self, request: &ApiRequest) -> Result<String, SendError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
