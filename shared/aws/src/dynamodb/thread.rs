//! What the owner does to a thread on DynamoDB: its status changed (done,
//! reopen, snooze, answered once a reply is sent) with its open pointer,
//! the owner's reply stored, and a customer's message reopening it.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use accueil_core::domain::{Message, ThreadChange, ThreadId, ThreadStatus};
use accueil_core::ports::{Appended, StoreError};

use super::item::{get_s, s, time, Item};
use super::store::{
    condition_failed_at, contact_pk, message_puts, status_key, thread_pk, unavailable, updated_if,
    DynamoStore,
};

impl DynamoStore {
    pub(super) async fn change(
        &self,
        id: &ThreadId,
        change: ThreadChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(found) = self.get(thread_pk(id.as_str()), "THREAD").await? else {
            return Ok(false);
        };
        let status = ThreadStatus::parse(get_s(&found, "status")?)
            .ok_or_else(|| StoreError::Corrupt("thread status".into()))?;
        use ThreadStatus::*;
        let (to, applies) = match change {
            ThreadChange::Close => (Closed, status != Closed),
            ThreadChange::Reopen => (Open, status != Open),
            ThreadChange::Snooze { .. } => (Snoozed, status != Closed),
        };
        if !applies {
            return Ok(false);
        }
        let mut set = vec!["#status = :to", "gsi1pk = :gsi"];
        let mut remove = Vec::new();
        let mut values: Item = [
            (":to", s(to.as_str())),
            (":seen", s(status.as_str())),
            (":gsi", s(status_key(to))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match change {
            ThreadChange::Close => {
                set.push("closed_at = :at");
                values.insert(":at".into(), s(time(at)));
                remove.push("snoozed_until");
            }
            ThreadChange::Snooze { until } => {
                set.push("snoozed_until = :until");
                values.insert(":until".into(), s(time(until)));
            }
            ThreadChange::Reopen => remove.extend(["closed_at", "snoozed_until"]),
        }
        let expression = match remove.is_empty() {
            true => format!("SET {}", set.join(", ")),
            false => format!("SET {} REMOVE {}", set.join(", "), remove.join(", ")),
        };
        // Only from the status read: a concurrent change wins, this one is refused.
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(thread_pk(id.as_str()), "THREAD")))
            .update_expression(expression)
            .condition_expression("#status = :seen")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and expression are set");
        // The open pointer is how a customer's next message finds a live
        // thread: gone when it closes (if it is still this thread's), back
        // when it reopens (if no other thread took it meanwhile).
        let pointer_key = Self::key(
            contact_pk(get_s(&found, "contact_id")?),
            &format!("OPEN#{}", get_s(&found, "channel")?),
        );
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        if to == Closed {
            let pointer = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(pointer_key))
                .condition_expression("attribute_not_exists(pk) OR thread_id = :id")
                .expression_attribute_values(":id", s(id.as_str()))
                .build()
                .expect("table and key are set");
            transaction =
                transaction.transact_items(TransactWriteItem::builder().delete(pointer).build());
        } else if status == Closed {
            let mut pointer = pointer_key;
            pointer.insert("thread_id".into(), s(id.as_str()));
            transaction = transaction.transact_items(
                TransactWriteItem::builder()
                    .put(self.put_new(pointer))
                    .build(),
            );
        }
        match transaction.send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed_at(&e, 0) || condition_failed_at(&e, 1) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The owner's reply with its provider item, on condition that its
    /// thread is still there (not forgotten meanwhile): one transaction.
    pub(super) async fn put_reply(
        &self,
        reply: &Message,
        first_attempt_until: DateTime<Utc>,
    ) -> Result<Appended, StoreError> {
        let thread_there = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                thread_pk(reply.thread_id.as_str()),
                "THREAD",
            )))
            .condition_expression("attribute_exists(pk)")
            .build()
            .expect("table, key and condition are set");
        let mut steps = message_puts(self, reply, Some(first_attempt_until)).to_vec();
        steps.push(
            TransactWriteItem::builder()
                .condition_check(thread_there)
                .build(),
        );
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(steps))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Appended::New),
            Err(e) if condition_failed_at(&e, 0) || condition_failed_at(&e, 2) => {
                Ok(Appended::Duplicate)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The customer wrote to a thread read answered or snoozed: open again
    /// (an answered one waiting from this message), if it is still so.
    pub(super) async fn reopen_for(
        &self,
        m: &Message,
        was: ThreadStatus,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(thread_pk(m.thread_id.as_str()), "THREAD")))
            .condition_expression("#status = :was")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":was", s(was.as_str()))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":gsi", s(status_key(ThreadStatus::Open)));
        update = match was {
            ThreadStatus::Answered => update
                .update_expression("SET #status = :open, gsi1pk = :gsi, waiting_since = :since")
                .expression_attribute_values(":since", s(time(m.sent_at))),
            _ => {
                update.update_expression("SET #status = :open, gsi1pk = :gsi REMOVE snoozed_until")
            }
        };
        // Changed meanwhile (closed, reopened by the owner): left as it is.
        updated_if(update).await.map(|_| ())
    }

    /// The owner's reply was sent: the thread is answered, unless it was
    /// closed or the customer wrote (was stored) after `written`.
    pub(super) async fn answered(&self, thread: &str, written: &str) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(thread_pk(thread), "THREAD")))
            .update_expression("SET #status = :answered, gsi1pk = :gsi REMOVE snoozed_until")
            .condition_expression(
                "(#status = :open OR #status = :snoozed) AND last_message_at <= :written",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":answered", s("answered"))
            .expression_attribute_values(":gsi", s(status_key(ThreadStatus::Answered)))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":snoozed", s("snoozed"))
            .expression_attribute_values(":written", s(written));
        updated_if(update).await.map(|_| ())
    }
}
