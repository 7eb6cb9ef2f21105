//! The owner's reply: queued by the page's form (or `accueil reply`),
//! stored in its thread as the owner's message, and delivered on the
//! thread's channel by the same attempts as an acknowledgement, retried
//! until sent, refused or too late.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::channels::{self, Channel};
use crate::delivery::{self, Delivered, Delivery};
use crate::domain::{
    Acknowledgement, Author, Message, MessageId, ProviderMessageId, ThreadId, ThreadStatus,
};
use crate::ports::{Appended, ThreadWithMessages};
use crate::process::{ProcessError, Processor};

/// What the owner wrote, on its way to the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub thread_id: ThreadId,
    pub channel: Channel,
    /// Made when the owner sent it: a job run twice stores it once.
    pub id: ProviderMessageId,
    pub text: String,
    pub written_at: DateTime<Utc>,
}

/// A reply id that is not one `Reply::new_id` made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a reply id (32 hexadecimal digits)")]
pub struct NotAReplyId;

impl Reply {
    /// A reply's own id, made when the owner opens the form (a hidden
    /// field): a form sent twice, by a double tap or a reload, is one reply.
    pub fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    pub fn new(
        thread_id: ThreadId,
        channel: Channel,
        id: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Reply, NotAReplyId> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NotAReplyId);
        }
        let id = format!("reply.{}", id.to_ascii_lowercase());
        Ok(Reply {
            thread_id,
            channel,
            id: ProviderMessageId::parse(&id).expect("not empty"),
            text: text.trim().to_string(),
            written_at: now,
        })
    }
}

/// When the customer last wrote: a provider's reply window counts from there.
pub fn customer_last_wrote(thread: &ThreadWithMessages) -> DateTime<Utc> {
    thread
        .messages
        .iter()
        .filter(|m| m.author.is_customer())
        .map(|m| m.sent_at)
        .max()
        .unwrap_or(thread.thread.opened_at)
}

/// Whether the channel still lets the business write to the customer at
/// `now`; the end of its window when it has closed.
pub fn window_closed(thread: &ThreadWithMessages, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = channels::reply_window(thread.thread.channel)?;
    let closes = delivery::later(customer_last_wrote(thread), window);
    (now >= closes).then_some(closes)
}

/// Why the owner's reply cannot go to the customer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsendable {
    /// The thread is done: reopen it first.
    Closed,
    Empty,
    /// Longer than the channel's API takes, in bytes.
    TooLong {
        longest: usize,
    },
    /// The provider's reply window closed then.
    WindowClosed {
        at: DateTime<Utc>,
    },
}

/// Whether `text` (as typed) can go on the thread's channel at `now`: what
/// the page's form and `accueil reply` both check before queueing it.
pub fn check(
    thread: &ThreadWithMessages,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), Unsendable> {
    let longest = channels::max_reply_bytes(thread.thread.channel);
    let text = text.trim();
    if thread.thread.status == ThreadStatus::Closed {
        Err(Unsendable::Closed)
    } else if text.is_empty() {
        Err(Unsendable::Empty)
    } else if text.len() > longest {
        Err(Unsendable::TooLong { longest })
    } else if let Some(at) = window_closed(thread, now) {
        Err(Unsendable::WindowClosed { at })
    } else {
        Ok(())
    }
}

impl Processor {
    /// Stores the owner's reply in its thread and makes the first attempt
    /// at delivering it; the thread is answered once it is sent
    /// (`Store::settle_acknowledgement`).
    #[tracing::instrument(skip_all, fields(channel = %reply.channel))]
    pub(crate) async fn reply(&self, reply: &Reply) -> Result<Option<Delivered>, ProcessError> {
        let Some(thread) = self.store.thread(&reply.thread_id).await? else {
            tracing::info!("reply to a thread forgotten since; nothing to send");
            return Ok(None);
        };
        let now = self.clock.now();
        let mut message = Message {
            id: MessageId::generate(),
            thread_id: reply.thread_id.clone(),
            channel: reply.channel,
            provider_id: reply.id.clone(),
            author: Author::Owner,
            sent_at: reply.written_at,
            received_at: now,
            text: reply.text.clone(),
            attachments: Vec::new(),
            edited_at: None,
            deleted_at: None,
            acknowledgement: Some(Acknowledgement::pending()),
        };
        let outbound = match channels::owner_reply(&self.config, &thread, &message) {
            Ok(outbound) => outbound,
            Err(why) => {
                // Kept, failed, so that the owner sees it was not sent.
                message.acknowledgement = Some(Acknowledgement::failed(why.to_string(), 0));
                self.store.append_reply(&message, now).await?;
                tracing::warn!(%why, "reply cannot be sent on its channel");
                return Ok(Some(Delivered::Failed(why.to_string())));
            }
        };
        let delivery = Delivery {
            thread_id: reply.thread_id.clone(),
            channel: reply.channel,
            provider_id: reply.id.clone(),
            sent_at: customer_last_wrote(&thread),
            owed_since: reply.written_at,
            attempt: 0,
            outbound,
        };
        let leased_until = delivery::later(now, delivery::LEASE);
        let delivered = match self.store.append_reply(&message, leased_until).await? {
            Appended::New => self.attempt(&delivery, now).await?,
            // Stored by an earlier try: its claim says whether an attempt is due.
            Appended::Duplicate | Appended::ContactTaken => self.deliver(&delivery).await?,
        };
        tracing::info!(thread = %reply.thread_id, ?delivered, "owner's reply stored");
        Ok(Some(delivered))
    }
}
