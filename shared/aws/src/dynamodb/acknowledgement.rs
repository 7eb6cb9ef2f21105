//! A message's acknowledgement on DynamoDB: the `ack_*` attributes of its
//! message item, found through its provider item, and the thread's counts
//! of those delivered and failed.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use accueil_core::delivery;
use accueil_core::domain::{AckState, Acknowledgement, Channel, ProviderMessageId, ThreadId};
use accueil_core::ports::{Claim, StoreError};

use super::item::{get_n, get_opt_s, get_opt_time, n, s, time, Item};
use super::store::{condition_failed_at, provider_pk, thread_pk, unavailable, DynamoStore};

fn state_of(text: &str) -> Result<AckState, StoreError> {
    AckState::parse(text).ok_or_else(|| StoreError::Corrupt("acknowledgement state".into()))
}

/// The attributes a new message item carries for what it is owed, the
/// first attempt leased until `first_attempt_until` if it is pending.
pub(super) fn attributes(
    ack: &Acknowledgement,
    first_attempt_until: Option<DateTime<Utc>>,
) -> Vec<(&'static str, AttributeValue)> {
    let first_attempt = first_attempt_until.filter(|_| ack.is_pending());
    let attempts = ack.attempts + u32::from(first_attempt.is_some());
    let mut attributes = vec![
        ("ack_state", s(ack.state.as_str())),
        ("ack_attempts", n(attempts)),
    ];
    if let Some(until) = first_attempt {
        attributes.push(("ack_leased_until", s(time(until))));
    }
    if let Some(reason) = &ack.reason {
        attributes.push(("ack_reason", s(reason)));
    }
    if let Some(receipt) = &ack.receipt {
        attributes.push(("ack_receipt", s(receipt)));
    }
    attributes
}

/// The acknowledgement a message item records; None on items stored before.
pub(super) fn read(message: &Item) -> Result<Option<Acknowledgement>, StoreError> {
    let Some(state) = get_opt_s(message, "ack_state") else {
        return Ok(None);
    };
    Ok(Some(Acknowledgement {
        state: state_of(state)?,
        reason: get_opt_s(message, "ack_reason").map(str::to_string),
        receipt: get_opt_s(message, "ack_receipt").map(str::to_string),
        attempts: get_n(message, "ack_attempts")?,
    }))
}

impl DynamoStore {
    /// The key of the message item of a provider's message, if stored with
    /// an acknowledgement (earlier provider items have no `message_sk`), and
    /// for the owner's reply, when it was written.
    async fn message_key(
        &self,
        channel: Channel,
        provider_id: &ProviderMessageId,
    ) -> Result<Option<(String, String, Option<String>)>, StoreError> {
        let Some(provider) = self
            .get(provider_pk(channel, provider_id.as_str()), "PROVIDER")
            .await?
        else {
            return Ok(None);
        };
        Ok(
            match (
                get_opt_s(&provider, "thread_id"),
                get_opt_s(&provider, "message_sk"),
            ) {
                (Some(thread), Some(sk)) => Some((
                    thread_pk(thread),
                    sk.to_string(),
                    get_opt_s(&provider, "written_at").map(str::to_string),
                )),
                _ => None,
            },
        )
    }

    pub(super) async fn claim(
        &self,
        channel: Channel,
        provider_id: &ProviderMessageId,
        attempt: u32,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        let Some((pk, sk, _)) = self.message_key(channel, provider_id).await? else {
            return Ok(Claim::Settled);
        };
        let Some(message) = self.get(pk.clone(), &sk).await? else {
            return Ok(Claim::Settled);
        };
        let Some(ack) = read(&message)? else {
            return Ok(Claim::Settled);
        };
        let leased_until = get_opt_time(&message, "ack_leased_until")?;
        let claim = delivery::claim(ack.state, ack.attempts, leased_until, attempt, now);
        if claim != Claim::Claimed {
            return Ok(claim);
        }
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        // Taken only if nobody took it since it was read.
        let lease_unchanged = match leased_until {
            Some(_) => "ack_leased_until = :seen_lease",
            None => "attribute_not_exists(ack_leased_until)",
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, &sk)))
            .update_expression("SET ack_attempts = :next, ack_leased_until = :until")
            .condition_expression(format!(
                "ack_state = :pending AND ack_attempts = :seen AND {lease_unchanged}"
            ))
            .expression_attribute_values(":next", n(attempt + 1))
            .expression_attribute_values(":until", s(time(until)))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":seen", n(ack.attempts));
        if let Some(seen) = leased_until {
            update = update.expression_attribute_values(":seen_lease", s(time(seen)));
        }
        match update.send().await {
            Ok(_) => Ok(Claim::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Claim::Busy)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    pub(super) async fn settle(
        &self,
        thread: &ThreadId,
        channel: Channel,
        provider_id: &ProviderMessageId,
        outcome: &Acknowledgement,
    ) -> Result<(), StoreError> {
        let Some((pk, sk, reply)) = self.message_key(channel, provider_id).await? else {
            return Ok(());
        };
        let mut set = vec!["ack_state = :state", "ack_attempts = :attempts"];
        let mut remove = vec!["ack_leased_until"];
        let mut values: Item = [
            (":pending", s("pending")),
            (":state", s(outcome.state.as_str())),
            (":attempts", n(outcome.attempts)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match &outcome.reason {
            Some(reason) => {
                set.push("ack_reason = :reason");
                values.insert(":reason".into(), s(reason));
            }
            None => remove.push("ack_reason"),
        }
        match &outcome.receipt {
            Some(receipt) => {
                set.push("ack_receipt = :receipt");
                values.insert(":receipt".into(), s(receipt));
            }
            None => remove.push("ack_receipt"),
        }
        let message = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, &sk)))
            .update_expression(format!(
                "SET {} REMOVE {}",
                set.join(", "),
                remove.join(", ")
            ))
            .condition_expression("ack_state = :pending")
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and expression are set");
        // The thread counts its customers' acknowledgements, not the owner's replies.
        let counter = match outcome.state {
            _ if reply.is_some() => None,
            AckState::Sent => Some("acks_sent"),
            AckState::Failed => Some("acks_failed"),
            AckState::Pending | AckState::Skipped => None,
        };
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(message).build());
        if let Some(counter) = counter {
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key(thread_pk(thread.as_str()), "THREAD")))
                .update_expression(format!("ADD {counter} :one"))
                // A thread forgotten meanwhile is not made anew.
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":one", n(1))
                .build()
                .expect("table, key and expression are set");
            transaction =
                transaction.transact_items(TransactWriteItem::builder().update(count).build());
        }
        match transaction.send().await {
            Ok(_) => {}
            // Settled already, or the message or its thread forgotten.
            Err(e) if condition_failed_at(&e, 0) || condition_failed_at(&e, 1) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        // Apart from the settling: a failure here leaves the thread waiting
        // in the digest, its reply shown sent, never a reply unrecorded.
        match (reply, outcome.state) {
            (Some(written), AckState::Sent) => self.answered(thread.as_str(), &written).await,
            _ => Ok(()),
        }
    }
}
