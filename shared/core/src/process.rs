//! The process side: one queued job at a time, the same code under SQS and
//! under the local worker. Idempotent on the provider's message id.

use std::sync::Arc;

use thiserror::Error;

use crate::ack::{self, Skip};
use crate::channels::{self, Outbound};
use crate::config::Config;
use crate::domain::{
    AcknowledgementRecord, Contact, ContactId, Envelope, Message, MessageId, Thread, ThreadId,
    ThreadStatus,
};
use crate::ports::{
    Amended, Appended, ChannelSender, Clock, Job, Mailer, SendError, Store, StoreError,
};

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored in a thread; `acknowledgement` says whether one went out.
    Stored {
        thread: ThreadId,
        acknowledgement: Acknowledged,
    },
    /// Seen before: nothing changed.
    Duplicate,
    Quarantined,
    /// A customer's change applied to the message it names, if stored.
    Amended(Amended),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledged {
    Sent(String),
    Skipped(Skip),
    /// The channel is no longer configured.
    NoChannel,
    /// Sending failed. The message is stored; the acknowledgement is not
    /// tried again, and only the log line records it.
    Failed(String),
}

#[derive(Debug, Error)]
pub enum ProcessError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Processor {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub sender: Arc<dyn ChannelSender>,
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
        }
    }

    async fn receive(&self, envelope: &Envelope) -> Result<Outcome, ProcessError> {
        let now = self.clock.now();
        let contact = self.contact_of(envelope, now).await?;
        let thread = match self
            .store
            .open_thread_of(&contact.id, envelope.channel)
            .await?
        {
            Some(thread) => thread,
            None => {
                let thread = Thread {
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
                };
                self.store.open_thread(&thread).await?;
                thread
            }
        };
        let message = Message {
            id: MessageId::generate(),
            thread_id: thread.id.clone(),
            channel: envelope.channel,
            provider_id: envelope.provider_id.clone(),
            sent_at: envelope.sent_at,
            // Our clock, not the provider's: a message redelivered late, or
            // stamped a second before a digest and stored after it, is new
            // to the next digest. Read last, as close to the write as can be.
            received_at: self.clock.now(),
            text: envelope.text.clone(),
            attachments: envelope.attachments.clone(),
            edited_at: None,
            deleted_at: None,
        };
        if self.store.append_message(&message).await? == Appended::Duplicate {
            tracing::info!(channel = %envelope.channel, "duplicate delivery ignored");
            return Ok(Outcome::Duplicate);
        }
        let acknowledgement = self
            .acknowledge(envelope, &contact.id, &thread.id, now)
            .await?;
        tracing::info!(channel = %envelope.channel, thread = %thread.id, ?acknowledgement, "message stored");
        Ok(Outcome::Stored {
            thread: thread.id,
            acknowledgement,
        })
    }

    /// Finds the contact by any of the envelope's addresses, learning the
    /// ones it did not know yet (a WhatsApp user's BSUID beside their phone).
    async fn contact_of(
        &self,
        envelope: &Envelope,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Contact, ProcessError> {
        let addresses = envelope.channel_addresses();
        let found = self.store.find_contact(&addresses).await?;
        let mut contact = found.clone().unwrap_or_else(|| Contact {
            id: ContactId::generate(),
            name: None,
            addresses: Vec::new(),
            created_at: now,
        });
        for address in addresses {
            if !contact.addresses.contains(&address) {
                contact.addresses.push(address);
            }
        }
        if envelope.sender.name.is_some() {
            contact.name = envelope.sender.name.clone();
        }
        if found.as_ref() != Some(&contact) {
            self.store.save_contact(&contact).await?;
        }
        Ok(contact)
    }

    async fn acknowledge(
        &self,
        envelope: &Envelope,
        contact: &ContactId,
        thread: &ThreadId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Acknowledged, ProcessError> {
        let earlier = self
            .store
            .acknowledgements_to(contact, now - ack::lookback(&self.config))
            .await?;
        if let Err(skip) = ack::decide(&self.config, now, &earlier) {
            return Ok(Acknowledged::Skipped(skip));
        }
        let text = ack::compose(&self.config, now, envelope.sender.name.as_deref(), thread);
        let Some(outbound) = channels::acknowledgement(&self.config, envelope, &text) else {
            return Ok(Acknowledged::NoChannel);
        };
        let sent = match &outbound {
            Outbound::Email(email) => self.mailer.send(email).await,
            Outbound::Api(request) => self.sender.send(request).await,
        };
        match sent {
            Ok(receipt) => {
                self.store
                    .record_acknowledgement(&AcknowledgementRecord {
                        thread_id: thread.clone(),
                        contact_id: contact.clone(),
                        channel: envelope.channel,
                        sent_at: now,
                        receipt: receipt.clone(),
                    })
                    .await?;
                Ok(Acknowledged::Sent(receipt))
            }
            // The message is stored, so retrying the job would find a
            // duplicate and never acknowledge: the failure is only logged.
            Err(e @ (SendError::Transient(_) | SendError::Rejected(_))) => {
                tracing::warn!(channel = %envelope.channel, error = %e, "acknowledgement not delivered");
                Ok(Acknowledged::Failed(e.to_string()))
            }
        }
    }
}

fn job_kind(job: &Job) -> &'static str {
    match job {
        Job::Message(_) => "message",
        Job::Quarantine(_) => "quarantine",
        Job::Amend(_) => "amendment",
    }
}
