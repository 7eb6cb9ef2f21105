//! Delivering the acknowledgement a stored message is owed, or the owner's
//! reply (`owner::reply`, stored as a message of its own): attempts that
//! survive crashes and restarts, retried on the queue with a growing delay
//! until one is delivered, refused, or no longer worth sending.
//!
//! The message and what it is owed are stored together, with the lease of
//! the first attempt, which follows at once; each later attempt takes a
//! lease of its own (`claim_acknowledgement`), so that two deliveries of
//! the same job never send at once, and none sends after a send was
//! recorded. Only a crash between the provider's acceptance and that
//! record can send twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::channels::{self, Channel, Outbound};
use crate::config::Config;
use crate::domain::{AckState, Acknowledgement, ProviderMessageId, ThreadId};
use crate::ports::{Claim, Job, SendError};
use crate::process::{ProcessError, Processor};

/// How long an attempt holds its acknowledgement: far longer than a send
/// takes (the senders' timeouts are 10 to 30 seconds). A holder that
/// crashed loses it when it ends.
pub const LEASE: Duration = Duration::from_secs(60);

/// The first retry waits about this long; each next one twice as long.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// An acknowledgement or a reply on its way, as a job: composed once, when
/// its message was stored, and carried until delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub thread_id: ThreadId,
    pub channel: Channel,
    /// The customer's message it acknowledges.
    pub provider_id: ProviderMessageId,
    /// When the customer sent it: a provider's reply window starts there.
    pub sent_at: DateTime<Utc>,
    /// When it was stored: `[ack] give_up_after` counts from there.
    pub owed_since: DateTime<Utc>,
    /// Attempts made before this one.
    pub attempt: u32,
    pub outbound: Outbound,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Sent(String),
    /// Failed for good: refused, or no longer worth retrying.
    Failed(String),
    /// Failed for now; the next attempt is on the queue.
    Retrying(String),
    /// Another attempt holds it right now, or it was settled before.
    NotMine,
}

impl Delivery {
    /// The last moment an attempt is worth making.
    pub fn deadline(&self, config: &Config) -> DateTime<Utc> {
        let give_up = later(self.owed_since, config.ack.give_up_after);
        match channels::reply_window(self.channel) {
            Some(window) => give_up.min(later(self.sent_at, window)),
            None => give_up,
        }
    }
}

/// How long to wait before the next attempt, after `attempts` failed: it
/// doubles from about a second up to `[ack] retry_max_delay`, with jitter
/// (between half and all of it), so that many acknowledgements failing
/// together do not come back together.
pub fn retry_delay(config: &Config, attempts: u32, jitter: f64) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)));
    let nominal = doubled.min(config.ack.retry_max_delay);
    nominal.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// The claim rule both stores apply to an acknowledgement as stored: its
/// state, the attempts made, and the lease of the attempt under way (None
/// once settled). Attempt `attempt + 1` goes ahead while the acknowledgement
/// is pending and no lease runs, if `attempt` attempts were made, or
/// `attempt + 1` by a holder whose lease ran out.
pub fn claim(
    state: AckState,
    attempts: u32,
    leased_until: Option<DateTime<Utc>>,
    attempt: u32,
    now: DateTime<Utc>,
) -> Claim {
    if state != AckState::Pending {
        return Claim::Settled;
    }
    match leased_until {
        Some(until) if until > now => Claim::Busy,
        Some(_) if attempts == attempt + 1 => Claim::Claimed,
        _ if attempts == attempt => Claim::Claimed,
        _ => Claim::Settled,
    }
}

/// `at` plus `d`; the end of time when that is past it (a configured
/// `give_up_after` of a thousand years).
pub(crate) fn later(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Processor {
    /// One attempt at the delivery. An error means "try the job again
    /// later": the store or the queue failed, or another attempt at the
    /// same acknowledgement is under way.
    #[tracing::instrument(skip_all, fields(channel = %delivery.channel, attempt = delivery.attempt + 1))]
    pub(crate) async fn deliver(&self, delivery: &Delivery) -> Result<Delivered, ProcessError> {
        let now = self.clock.now();
        let claim = self
            .store
            .claim_acknowledgement(
                delivery.channel,
                &delivery.provider_id,
                delivery.attempt,
                now,
                LEASE,
            )
            .await?;
        match claim {
            Claim::Claimed => {}
            Claim::Settled => return Ok(Delivered::NotMine),
            // Its holder either finishes or crashes and loses the lease: a
            // later try of this job finds out which.
            Claim::Busy => {
                return Err(ProcessError::Raced(
                    "another attempt at this acknowledgement is under way",
                ))
            }
        }
        self.attempt(delivery, now).await
    }

    /// The attempt itself, its lease held since `now`: claimed by
    /// `deliver`, or taken with the message when it was stored.
    pub(crate) async fn attempt(
        &self,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<Delivered, ProcessError> {
        let attempts = delivery.attempt + 1;
        if now > delivery.deadline(&self.config) {
            let reason = "no longer worth sending: the provider's reply window or [ack] give_up_after has passed".to_string();
            return self
                .settle(
                    delivery,
                    Acknowledgement::failed(reason.clone(), delivery.attempt),
                )
                .await
                .map(|()| Delivered::Failed(reason));
        }
        let sent = match &delivery.outbound {
            Outbound::Email(email) => self.mailer.send(email).await,
            Outbound::Api(request) => self.sender.send(request).await,
        };
        match sent {
            Ok(receipt) => {
                self.settle(delivery, Acknowledgement::sent(receipt.clone(), attempts))
                    .await?;
                tracing::info!(attempts, "acknowledgement delivered");
                Ok(Delivered::Sent(receipt))
            }
            Err(SendError::Rejected(reason)) => {
                tracing::warn!(attempts, %reason, "acknowledgement refused");
                self.settle(delivery, Acknowledgement::failed(reason.clone(), attempts))
                    .await?;
                Ok(Delivered::Failed(reason))
            }
            Err(SendError::Transient(reason)) => {
                let delay = retry_delay(&self.config, attempts, fastrand::f64());
                if later(now, delay) > delivery.deadline(&self.config) {
                    let reason = format!("still failing when retrying ended: {reason}");
                    tracing::warn!(attempts, %reason, "acknowledgement given up");
                    self.settle(delivery, Acknowledgement::failed(reason.clone(), attempts))
                        .await?;
                    return Ok(Delivered::Failed(reason));
                }
                // The next attempt is queued before this one is recorded: a
                // crash in between leaves this job to be tried again, never
                // an acknowledgement that nothing will retry.
                let next = Delivery {
                    attempt: attempts,
                    ..delivery.clone()
                };
                self.queue
                    .enqueue_later(&Job::Acknowledge(next), delay)
                    .await
                    .map_err(|e| ProcessError::Queue(e.to_string()))?;
                tracing::info!(attempts, ?delay, %reason, "acknowledgement not delivered yet; will retry");
                self.settle(
                    delivery,
                    Acknowledgement::retrying(reason.clone(), attempts),
                )
                .await?;
                Ok(Delivered::Retrying(reason))
            }
        }
    }

    async fn settle(
        &self,
        delivery: &Delivery,
        outcome: Acknowledgement,
    ) -> Result<(), ProcessError> {
        debug_assert!(outcome.state != AckState::Skipped);
        self.store
            .settle_acknowledgement(
                &delivery.thread_id,
                delivery.channel,
                &delivery.provider_id,
                &outcome,
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LocalSecrets;

    fn config() -> Config {
        Config::parse(crate::config::DEMO, &LocalSecrets).unwrap()
    }

    #[test]
    fn one_attempt_at_a_time_and_none_after_a_settled_one() {
        let now = Utc::now();
        let later = Some(now + chrono::Duration::seconds(30));
        let ran_out = Some(now - chrono::Duration::seconds(1));
        use AckState::*;
        // The first attempt; then a second delivery of the same job meanwhile.
        assert_eq!(claim(Pending, 0, None, 0, now), Claim::Claimed);
        assert_eq!(claim(Pending, 1, later, 0, now), Claim::Busy);
        // Its holder crashed: the job, tried again, takes it over.
        assert_eq!(claim(Pending, 1, ran_out, 0, now), Claim::Claimed);
        // It failed for now: the next attempt is the next job's, not this one's.
        assert_eq!(claim(Pending, 1, None, 0, now), Claim::Settled);
        assert_eq!(claim(Pending, 1, None, 1, now), Claim::Claimed);
        // A job from before a later attempt.
        assert_eq!(claim(Pending, 3, ran_out, 0, now), Claim::Settled);
        for settled in [Sent, Failed, Skipped] {
            assert_eq!(claim(settled, 0, None, 0, now), Claim::Settled);
        }
    }

    #[test]
    fn retries_double_from_a_second_up_to_the_maximum_with_jitter() {
        let c = config();
        let longest: Vec<_> = (1..=10)
            .map(|a| retry_delay(&c, a, 1.0).as_secs())
            .collect();
        assert_eq!(longest, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
        assert_eq!(retry_delay(&c, 1, 0.0), Duration::from_millis(500));
        assert_eq!(retry_delay(&c, 30, 0.0), Duration::from_secs(60));
        assert_eq!(retry_delay(&c, u32::MAX, 1.0), Duration::from_secs(120));
    }
}
