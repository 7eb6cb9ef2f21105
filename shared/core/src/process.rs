//! The process side: each queued job on its own, the same code under SQS
//! and under the local worker. A message is stored with the acknowledgement
//! it is owed, then a first attempt at it is made (`delivery`). Idempotent
//! on the provider's message id.

use std::sync::Arc;

use thiserror::Error;

use crate::ack::{self, Skip};
use crate::channels::{self, Outbound};
use crate::config::Config;
use crate::delivery::{self, Delivered, Delivery};
use crate::domain::{
    Acknowledgement, Author, Contact, ContactId, Envelope, Message, MessageId, Thread, ThreadId,
    ThreadStatus,
};
use crate::ports::{
    Amended, Appended, Appending, ChannelSender, Clock, Job, Mailer, Queue, Store, StoreError,
};

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored in a thread, with what it was owed and its first attempt.
    Stored {
        thread: ThreadId,
        acknowledgement: Acknowledged,
    },
    /// Seen before: nothing changed, unless its acknowledgement had not
    /// been attempted yet (a crash right after storing it).
    Duplicate(Option<Delivered>),
    Quarantined,
    /// A customer's change applied to the message it names, if stored.
    Amended(Amended),
    /// A later attempt at an acknowledgement or a reply.
    Acknowledgement(Delivered),
    /// The owner's reply stored and its first attempt made; None when its
    /// thread was forgotten meanwhile.
    Replied(Option<Delivered>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledged {
    /// None was owed.
    Skipped(Skip),
    Attempted(Delivered),
}

#[derive(Debug, Error)]
pub enum ProcessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot queue the next attempt: {0}")]
    Queue(String),
    /// A concurrent job got there first; this one is tried again later.
    #[error("{0}; the job is tried again")]
    Raced(&'static str),
}

pub struct Processor {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub sender: Arc<dyn ChannelSender>,
    /// Where an acknowledgement that failed for now waits for its next attempt.
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
}

impl Processor {
    /// Handles one job. An error means "try again later": nothing half-done
    /// is visible, and a retry is safe.
    #[tracing::instrument(skip_all, fields(job = job_kind(job)))]
    pub async fn handle(&self, job: &Job) -> Result<Outcome, ProcessError> {
        match job {
            Job::Message(envelope) => self.receive(envelope).await,
            Job::Quarantine(payload) => {
                self.store.quarantine(payload).await?;
                tracing::warn!(channel = %payload.channel, id = %payload.id, "authentic payload quarantined");
                Ok(Outcome::Quarantined)
            }
            Job::Amend(amendment) => {
                let amended = self.store.amend_message(amendment).await?;
                match &amended {
                    Amended::Applied(thread) => {
                        tracing::info!(channel = %amendment.channel, %thread, "message amended")
                    }
                    // Edits and unsends come long after their message: one
                    // whose message is not stored has nothing left to change.
                    Amended::Unknown => tracing::info!(
                        channel = %amendment.channel,
                        "amendment of a message not stored; nothing to change"
                    ),
                }
                Ok(Outcome::Amended(amended))
            }
            Job::Acknowledge(delivery) => {
                Ok(Outcome::Acknowledgement(self.deliver(delivery).await?))
            }
            Job::Reply(reply) => Ok(Outcome::Replied(self.reply(reply).await?)),
        }
    }

    async fn receive(&self, envelope: &Envelope) -> Result<Outcome, ProcessError> {
        let now = self.clock.now();
        let (contact, known) = self.contact_of(envelope, now).await?;
        // A contact met just now has no thread yet, nor acknowledgements.
        let open = match known {
            Known::New => None,
            Known::Before => {
                self.store
                    .live_thread_of(&contact.id, envelope.channel)
                    .await?
            }
        };
        let opens = open.is_none();
        let thread = open.unwrap_or_else(|| Thread {
            id: envelope
                .reply_to
                .promised_reference()
                .cloned()
                .unwrap_or_else(ThreadId::generate),
            contact: contact.clone(),
            channel: envelope.channel,
            status: ThreadStatus::Open,
            opened_at: envelope.sent_at,
            last_message_at: now,
            message_count: 0,
            last_excerpt: String::new(),
            closed_at: None,
            snoozed_until: None,
            waiting_since: None,
            unacknowledged: false,
        });
        let reopens = Some(thread.status)
            .filter(|s| matches!(s, ThreadStatus::Answered | ThreadStatus::Snoozed));
        let owed = self
            .owed(envelope, &contact.id, known, &thread.id, now)
            .await?;
        let message = Message {
            id: MessageId::generate(),
            thread_id: thread.id.clone(),
            channel: envelope.channel,
            provider_id: envelope.provider_id.clone(),
            author: Author::Customer,
            sent_at: envelope.sent_at,
            // Our clock, not the provider's: a message redelivered late, or
            // stamped a second before a digest and stored after it, is new
            // to the next digest. Read last, as close to the write as can be.
            received_at: self.clock.now(),
            text: envelope.text.clone(),
            attachments: envelope.attachments.clone(),
            edited_at: None,
            deleted_at: None,
            acknowledgement: Some(match &owed {
                Owed::Nothing(skip) => Acknowledgement::skipped(skip.reason()),
                Owed::Acknowledgement(_) => Acknowledgement::pending(),
            }),
        };
        let delivery = |thread_id: ThreadId, outbound: Outbound| Delivery {
            thread_id,
            channel: envelope.channel,
            provider_id: envelope.provider_id.clone(),
            sent_at: envelope.sent_at,
            owed_since: message.received_at,
            attempt: 0,
            outbound,
        };
        // The first attempt at the acknowledgement follows at once: its
        // lease is taken with the message, from the moment it is stored.
        let leased_at = message.received_at;
        let appending = Appending {
            message: &message,
            contact: &contact.id,
            new_contact: (known == Known::New).then_some(&contact),
            new_thread: opens.then_some(&thread),
            first_attempt_until: match owed {
                Owed::Acknowledgement(_) => Some(delivery::later(leased_at, delivery::LEASE)),
                Owed::Nothing(_) => None,
            },
            reopens,
        };
        let appended = self.store.append_message(&appending).await?;
        if appended == Appended::ContactTaken {
            return Err(ProcessError::Raced(
                "the customer was added meanwhile by another of their messages",
            ));
        }
        if appended == Appended::Duplicate {
            tracing::info!(channel = %envelope.channel, "duplicate delivery");
            // Stored by an earlier try, which may have stopped before its
            // first attempt: the store's claim tells whether one is still
            // due. The acknowledgement is composed again, the same but for
            // the moment its promise is made from.
            let Some(stored) = self
                .store
                .thread_of_message(envelope.channel, envelope.provider_id.as_str())
                .await?
            else {
                return Ok(Outcome::Duplicate(None));
            };
            let Some(outbound) = self.shape(envelope, &stored, now) else {
                return Ok(Outcome::Duplicate(None));
            };
            let delivered = self.deliver(&delivery(stored, outbound)).await?;
            return Ok(Outcome::Duplicate(
                (delivered != Delivered::NotMine).then_some(delivered),
            ));
        }
        let acknowledgement = match owed {
            Owed::Nothing(skip) => Acknowledged::Skipped(skip),
            Owed::Acknowledgement(outbound) => Acknowledged::Attempted(
                self.attempt(&delivery(thread.id.clone(), outbound), leased_at)
                    .await?,
            ),
        };
        tracing::info!(channel = %envelope.channel, thread = %thread.id, ?acknowledgement, "message stored");
        Ok(Outcome::Stored {
            thread: thread.id,
            acknowledgement,
        })
    }

    /// Finds the contact by any of the envelope's addresses, learning the
    /// ones it did not know yet (a WhatsApp user's BSUID beside their phone);
    /// a contact not found is made, to be stored with the message.
    async fn contact_of(
        &self,
        envelope: &Envelope,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Contact, Known), ProcessError> {
        let addresses = envelope.channel_addresses();
        let Some(found) = self.store.find_contact(&addresses).await? else {
            let contact = Contact {
                id: ContactId::generate(),
                name: envelope.sender.name.clone(),
                addresses,
                created_at: now,
            };
            return Ok((contact, Known::New));
        };
        let mut contact = found.clone();
        for address in addresses {
            if !contact.addresses.contains(&address) {
                contact.addresses.push(address);
            }
        }
        if envelope.sender.name.is_some() {
            contact.name = envelope.sender.name.clone();
        }
        if contact != found {
            self.store.save_contact(&contact).await?;
        }
        Ok((contact, Known::Before))
    }

    /// What the message is owed, decided before it is stored (and stored
    /// with it).
    async fn owed(
        &self,
        envelope: &Envelope,
        contact: &ContactId,
        known: Known,
        thread: &ThreadId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Owed, ProcessError> {
        let earlier = match known {
            Known::New => Vec::new(),
            Known::Before => {
                self.store
                    .acknowledgements_to(contact, now - ack::lookback(&self.config))
                    .await?
            }
        };
        if let Err(skip) = ack::decide(&self.config, now, &earlier) {
            return Ok(Owed::Nothing(skip));
        }
        Ok(match self.shape(envelope, thread, now) {
            Some(outbound) => Owed::Acknowledgement(outbound),
            None => Owed::Nothing(Skip::ChannelNotEnabled),
        })
    }

    /// The acknowledgement, shaped for the envelope's channel; None when
    /// the channel is no longer enabled.
    fn shape(
        &self,
        envelope: &Envelope,
        thread: &ThreadId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Outbound> {
        let text = ack::compose(&self.config, now, envelope.sender.name.as_deref(), thread);
        channels::acknowledgement(&self.config, envelope, &text)
    }
}

/// Whether the contact was stored before this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Before,
    /// Met with this message: stored with it.
    New,
}

/// What a new message is owed.
enum Owed {
    Nothing(Skip),
    Acknowledgement(Outbound),
}

fn job_kind(job: &Job) -> &'static str {
    match job {
        Job::Message(_) => "message",
        Job::Quarantine(_) => "quarantine",
        Job::Amend(_) => "amendment",
        Job::Acknowledge(_) => "acknowledgement",
        Job::Reply(_) => "reply",
    }
}
