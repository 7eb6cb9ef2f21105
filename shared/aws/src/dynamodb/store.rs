//! `Store` on DynamoDB. Each business step is one request or one
//! transaction; nothing here scans the table.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, Select, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};

use accueil_core::domain::{
    excerpt, Acknowledgement, Amendment, Author, Change, Channel, ChannelAddress, Contact,
    ContactId, Message, MessageId, ProviderMessageId, Quarantined, Thread, ThreadChange, ThreadId,
    ThreadStatus, EXCERPT_CHARS,
};
use accueil_core::ports::{
    Amended, Appended, Appending, Claim, Forgotten, QuarantineEntry, Store, StoreError,
    ThreadWithMessages,
};

use super::acknowledgement;
use super::item::{
    get_list_s, get_n, get_opt_s, get_opt_time, get_s, get_time, item, n, parse_time, s, time, Item,
};
use super::schema::{GSI_STATUS, TTL_ATTRIBUTE};
use crate::describe;

/// Records of acknowledgements owed only serve the quiet period and the daily cap.
const ACK_RETENTION_DAYS: i64 = 3;
const QUARANTINE_RETENTION_DAYS: i64 = 90;
const DIGEST_RETENTION_DAYS: i64 = 400;
/// DynamoDB items stop at 400 KB: larger quarantined payloads are split.
const QUARANTINE_PART_BYTES: usize = 300 * 1024;

pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
}

/// Sends a conditional update: false, with nothing changed, when its
/// condition did not hold.
pub(super) async fn updated_if(request: UpdateItemFluentBuilder) -> Result<bool, StoreError> {
    match request.send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(unavailable(e)),
    }
}

pub(super) fn unavailable(e: impl std::error::Error + 'static) -> StoreError {
    StoreError::Unavailable(describe(&e))
}

/// Every item a query returns, across pages.
async fn all_items(query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
    query
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(unavailable)
}

pub(super) fn thread_pk(id: &str) -> String {
    format!("THREAD#{id}")
}

pub(super) fn contact_pk(id: &str) -> String {
    format!("CONTACT#{id}")
}

/// The contact id in a contact item's key, `contact_pk` undone.
fn contact_id_in(pk: &str) -> Result<&str, StoreError> {
    pk.strip_prefix("CONTACT#")
        .ok_or_else(|| StoreError::Corrupt(format!("contact key {pk:?}")))
}

pub(super) fn provider_pk(channel: Channel, provider_id: &str) -> String {
    format!("PROVIDER#{channel}#{provider_id}")
}

pub(super) fn status_key(status: ThreadStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

fn expires(at: DateTime<Utc>, days: i64) -> AttributeValue {
    n((at + Duration::days(days)).timestamp())
}

/// True when a transaction failed because the condition of item `index` held false.
pub(super) fn condition_failed_at<R>(
    e: &SdkError<TransactWriteItemsError, R>,
    index: usize,
) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .get(index)
            .and_then(|r| r.code())
            .is_some_and(|code| code == "ConditionalCheckFailed"),
        _ => false,
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    fn put(&self, item: Item) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .expect("table and item are set")
    }

    /// A put that fails if the item already exists.
    pub(super) fn put_new(&self, item: Item) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("table and item are set")
    }

    /// A new contact and its addresses, each address taken only if no
    /// contact holds it: the contact first, then one step per address.
    fn contact_puts(&self, contact: &Contact) -> Vec<TransactWriteItem> {
        let mut steps = vec![TransactWriteItem::builder()
            .put(self.put_new(contact_item(contact)))
            .build()];
        for address in &contact.addresses {
            let owner = self.put_new(item([
                ("pk", s(format!("ADDRESS#{}", address.key()))),
                ("sk", s("ADDRESS")),
                ("contact_id", s(contact.id.as_str())),
            ]));
            steps.push(TransactWriteItem::builder().put(owner).build());
        }
        steps
    }

    /// A new thread's item, with the contact's pointer to their live thread
    /// on its channel and their membership record.
    fn thread_puts(&self, thread_item: Item, thread: &Thread) -> [TransactWriteItem; 3] {
        let contact = contact_pk(thread.contact.id.as_str());
        // One live thread per contact and channel, even under concurrent deliveries.
        let pointer = self.put_new(item([
            ("pk", s(&contact)),
            ("sk", s(format!("OPEN#{}", thread.channel))),
            ("thread_id", s(thread.id.as_str())),
        ]));
        let membership = self.put(item([
            ("pk", s(&contact)),
            ("sk", s(format!("THREAD#{}", thread.id))),
            ("thread_id", s(thread.id.as_str())),
        ]));
        [
            TransactWriteItem::builder()
                .put(self.put_new(thread_item))
                .build(),
            TransactWriteItem::builder().put(pointer).build(),
            TransactWriteItem::builder().put(membership).build(),
        ]
    }

    pub(super) fn key(pk: String, sk: &str) -> Item {
        item([("pk", s(pk)), ("sk", s(sk))])
    }

    pub(super) async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// The item saying which contact an address belongs to, under its key or
    /// the key an earlier version gave it.
    async fn address_item(&self, address: &ChannelAddress) -> Result<Option<Item>, StoreError> {
        for key in [Some(address.key()), address.former_key()]
            .into_iter()
            .flatten()
        {
            if let Some(found) = self.get(format!("ADDRESS#{key}"), "ADDRESS").await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every item of a partition whose sort key starts with `prefix` (all of
    /// them when it is empty).
    async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk));
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        all_items(query.consistent_read(true)).await
    }

    async fn load_contact(&self, id: &str) -> Result<Option<Contact>, StoreError> {
        self.get(contact_pk(id), "CONTACT")
            .await?
            .map(|found| contact_of(id, &found))
            .transpose()
    }

    /// Contacts by id, read 100 at a time (BatchGetItem's limit) rather
    /// than one request each: the digest lists every waiting thread's contact.
    async fn load_contacts(&self, ids: &[&str]) -> Result<HashMap<String, Contact>, StoreError> {
        let mut contacts = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let keys = chunk
                .iter()
                .map(|id| Self::key(contact_pk(id), "CONTACT"))
                .collect();
            let mut wanted = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(unavailable)?,
            );
            for attempt in 0..BATCH_SENDS {
                let Some(keys) = wanted.take() else { break };
                back_off(attempt).await;
                let mut out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(unavailable)?;
                let found = out.responses.as_mut().and_then(|r| r.remove(&self.table));
                for found in found.unwrap_or_default() {
                    let id = contact_id_in(get_s(&found, "pk")?)?;
                    contacts.insert(id.to_string(), contact_of(id, &found)?);
                }
                wanted = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|left| !left.keys.is_empty());
            }
            if wanted.is_some() {
                return Err(StoreError::Unavailable("contacts left unread".into()));
            }
        }
        Ok(contacts)
    }

    async fn thread_from(&self, found: &Item) -> Result<Thread, StoreError> {
        let contact_id = get_s(found, "contact_id")?;
        let contact = self.load_contact(contact_id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("thread without its contact {contact_id}"))
        })?;
        thread_of(found, contact)
    }

    async fn threads_with_status(&self, status: ThreadStatus) -> Result<Vec<Thread>, StoreError> {
        let items = all_items(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(GSI_STATUS)
                .key_condition_expression("gsi1pk = :status")
                .expression_attribute_values(":status", s(status_key(status)))
                .scan_index_forward(true),
        )
        .await?;
        let contact_ids = items
            .iter()
            .map(|found| get_s(found, "contact_id"))
            .collect::<Result<Vec<_>, _>>()?;
        // Each contact read once, however many threads it has.
        let mut unique = contact_ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let contacts = self.load_contacts(&unique).await?;
        items
            .iter()
            .zip(contact_ids)
            .map(|(found, contact_id)| {
                let contact = contacts.get(contact_id).ok_or_else(|| {
                    StoreError::Corrupt(format!("thread without its contact {contact_id}"))
                })?;
                thread_of(found, contact.clone())
            })
            .collect()
    }

    /// Updates the message's thread if `condition` holds; false if it did not.
    async fn update_thread_if<const N: usize>(
        &self,
        m: &Message,
        update: &str,
        condition: &str,
        values: [(&str, &String); N],
    ) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(thread_pk(m.thread_id.as_str()), "THREAD")))
            .update_expression(update)
            .condition_expression(condition);
        for (name, value) in values {
            request = request.expression_attribute_values(name, s(value));
        }
        updated_if(request).await
    }

    /// Deletes keys in batches of 25, retrying what DynamoDB leaves unprocessed.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    WriteRequest::builder()
                        .delete_request(
                            aws_sdk_dynamodb::types::DeleteRequest::builder()
                                .set_key(Some(k.clone()))
                                .build()
                                .expect("the key is set"),
                        )
                        .build()
                })
                .collect();
            for attempt in 0..BATCH_SENDS {
                if requests.is_empty() {
                    break;
                }
                back_off(attempt).await;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable("deletions left unprocessed".into()));
            }
        }
        Ok(())
    }
}

/// How often a batch request is sent, what DynamoDB left unprocessed under
/// load sent again each time, before the rest is given up on.
const BATCH_SENDS: u32 = 8;

/// Waits before sending again what a batch request left unprocessed: longer
/// each time, nothing before the first send.
async fn back_off(attempt: u32) {
    if attempt > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
    }
}

fn contact_of(id: &str, found: &Item) -> Result<Contact, StoreError> {
    let addresses = get_list_s(found, "addresses")?
        .iter()
        .map(|k| {
            ChannelAddress::parse_key(k)
                .ok_or_else(|| StoreError::Corrupt(format!("address {k:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Contact {
        id: ContactId::parse(id).map_err(|_| StoreError::Corrupt("contact id".into()))?,
        name: get_opt_s(found, "name").map(str::to_string),
        addresses,
        created_at: get_time(found, "created_at")?,
    })
}

fn thread_of(found: &Item, contact: Contact) -> Result<Thread, StoreError> {
    Ok(Thread {
        id: ThreadId::parse(get_s(found, "id")?)
            .map_err(|_| StoreError::Corrupt("thread id".into()))?,
        contact,
        channel: Channel::parse(get_s(found, "channel")?)
            .ok_or_else(|| StoreError::Corrupt("channel".into()))?,
        status: ThreadStatus::parse(get_s(found, "status")?)
            .ok_or_else(|| StoreError::Corrupt("thread status".into()))?,
        opened_at: get_time(found, "opened_at")?,
        last_message_at: get_time(found, "last_message_at")?,
        message_count: get_n(found, "message_count")?,
        last_excerpt: get_s(found, "last_excerpt")?.to_string(),
        closed_at: get_opt_time(found, "closed_at")?,
        snoozed_until: get_opt_time(found, "snoozed_until")?,
        waiting_since: get_opt_time(found, "waiting_since")?,
        unacknowledged: get_opt_n(found, "acks_failed")? > 0 && get_opt_n(found, "acks_sent")? == 0,
    })
}

/// A counter `ADD` made, or zero before the first.
fn get_opt_n(found: &Item, key: &str) -> Result<u32, StoreError> {
    match found.contains_key(key) {
        true => get_n(found, key),
        false => Ok(0),
    }
}

fn contact_item(contact: &Contact) -> Item {
    let keys: Vec<AttributeValue> = contact.addresses.iter().map(|a| s(a.key())).collect();
    let mut it = item([
        ("pk", s(contact_pk(contact.id.as_str()))),
        ("sk", s("CONTACT")),
        ("addresses", AttributeValue::L(keys)),
        ("created_at", s(time(contact.created_at))),
    ]);
    if let Some(name) = &contact.name {
        it.insert("name".into(), s(name));
    }
    it
}

/// The record that the contact was owed an acknowledgement when `m` was
/// stored, for the quiet period and the daily cap.
fn owed_item(contact: &ContactId, m: &Message) -> Item {
    item([
        ("pk", s(contact_pk(contact.as_str()))),
        ("sk", s(format!("ACK#{}#{}", time(m.received_at), m.id))),
        ("thread_id", s(m.thread_id.as_str())),
        ("channel", s(m.channel.as_str())),
        ("sent_at", s(time(m.received_at))),
        (TTL_ATTRIBUTE, expires(m.received_at, ACK_RETENTION_DAYS)),
    ])
}

fn thread_item(t: &Thread) -> Item {
    let mut it = item([
        ("pk", s(thread_pk(t.id.as_str()))),
        ("sk", s("THREAD")),
        ("id", s(t.id.as_str())),
        ("contact_id", s(t.contact.id.as_str())),
        ("channel", s(t.channel.as_str())),
        ("status", s(t.status.as_str())),
        ("opened_at", s(time(t.opened_at))),
        ("last_message_at", s(time(t.last_message_at))),
        ("message_count", n(t.message_count)),
        ("last_excerpt", s(&t.last_excerpt)),
        ("gsi1pk", s(status_key(t.status))),
        ("gsi1sk", s(format!("{}#{}", time(t.opened_at), t.id))),
    ]);
    if let Some(closed) = t.closed_at {
        it.insert("closed_at".into(), s(time(closed)));
    }
    if let Some(until) = t.snoozed_until {
        it.insert("snoozed_until".into(), s(time(until)));
    }
    if let Some(since) = t.waiting_since {
        it.insert("waiting_since".into(), s(time(since)));
    }
    it
}

/// A message's items: its provider id, put only if new (the first step of
/// its transaction, so that a cancel there means a duplicate), and the
/// message with what it is owed (or, for the owner's reply, its delivery).
pub(super) fn message_puts(
    store: &DynamoStore,
    m: &Message,
    first_attempt_until: Option<DateTime<Utc>>,
) -> [TransactWriteItem; 2] {
    // A thread's messages in the order they were sent.
    // WhatsApp stamps whole seconds: within one, the order they came.
    let message_sk = format!("MSG#{}#{}#{}", time(m.sent_at), time(m.received_at), m.id);
    let mut provider = item([
        ("pk", s(provider_pk(m.channel, m.provider_id.as_str()))),
        ("sk", s("PROVIDER")),
        ("thread_id", s(m.thread_id.as_str())),
        ("message_id", s(m.id.as_str())),
        ("message_sk", s(&message_sk)),
    ]);
    let mut stored = item([
        ("pk", s(thread_pk(m.thread_id.as_str()))),
        ("sk", s(&message_sk)),
        ("id", s(m.id.as_str())),
        ("channel", s(m.channel.as_str())),
        ("provider_id", s(m.provider_id.as_str())),
        ("sent_at", s(time(m.sent_at))),
        ("received_at", s(time(m.received_at))),
        ("text", s(&m.text)),
        (
            "attachments",
            s(serde_json::to_string(&m.attachments).expect("attachments serialize")),
        ),
    ]);
    if m.author == Author::Owner {
        // Settling a reply counts nothing on the thread, and marks it
        // answered unless the customer wrote after it was written.
        provider.insert("written_at".into(), s(time(m.sent_at)));
        stored.insert("author".into(), s(m.author.as_str()));
    }
    if let Some(ack) = &m.acknowledgement {
        stored.extend(
            acknowledgement::attributes(ack, first_attempt_until)
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
    }
    [
        TransactWriteItem::builder()
            .put(store.put_new(provider))
            .build(),
        TransactWriteItem::builder().put(store.put(stored)).build(),
    ]
}

#[async_trait]
impl Store for DynamoStore {
    async fn find_contact(
        &self,
        addresses: &[ChannelAddress],
    ) -> Result<Option<Contact>, StoreError> {
        for address in addresses {
            if let Some(found) = self.address_item(address).await? {
                return self.load_contact(get_s(&found, "contact_id")?).await;
            }
        }
        Ok(None)
    }

    async fn create_contact(&self, contact: &Contact) -> Result<bool, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(self.contact_puts(contact)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // An address is taken: nothing was written.
            Err(e) if (1..=contact.addresses.len()).any(|i| condition_failed_at(&e, i)) => {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn save_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(contact_item(contact)))
            .send()
            .await
            .map_err(unavailable)?;
        for address in &contact.addresses {
            // An address already owned by another contact stays with it.
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item([
                    ("pk", s(format!("ADDRESS#{}", address.key()))),
                    ("sk", s("ADDRESS")),
                    ("contact_id", s(contact.id.as_str())),
                ])))
                .condition_expression("attribute_not_exists(pk) OR contact_id = :id")
                .expression_attribute_values(":id", s(contact.id.as_str()))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }

    async fn live_thread_of(
        &self,
        contact: &ContactId,
        channel: Channel,
    ) -> Result<Option<Thread>, StoreError> {
        let Some(pointer) = self
            .get(contact_pk(contact.as_str()), &format!("OPEN#{channel}"))
            .await?
        else {
            return Ok(None);
        };
        let id = get_s(&pointer, "thread_id")?;
        match self.get(thread_pk(id), "THREAD").await? {
            Some(found) => Ok(Some(self.thread_from(&found).await?)),
            None => Ok(None),
        }
    }

    async fn open_thread(&self, thread: &Thread) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(self.thread_puts(thread_item(thread), thread).into()))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn append_message(&self, appending: &Appending<'_>) -> Result<Appended, StoreError> {
        let m = appending.message;
        let mut steps = message_puts(self, m, appending.first_attempt_until).to_vec();
        match appending.new_thread {
            // A thread opened by this message is written as it is with it:
            // one item cannot be both put and updated in a transaction.
            Some(thread) => {
                let mut opened = thread_item(thread);
                opened.insert("message_count".into(), n(thread.message_count + 1));
                opened.insert(
                    "last_message_at".into(),
                    s(time(thread.last_message_at.max(m.received_at))),
                );
                opened.insert("last_excerpt".into(), s(excerpt(&m.text, EXCERPT_CHARS)));
                opened.insert("last_sent_at".into(), s(time(m.sent_at)));
                steps.extend(self.thread_puts(opened, thread));
            }
            None => steps.push(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(Self::key(thread_pk(m.thread_id.as_str()), "THREAD")))
                            .update_expression("ADD message_count :one")
                            .expression_attribute_values(":one", n(1))
                            .build()
                            .expect("table, key and expression are set"),
                    )
                    .build(),
            ),
        }
        // What it is owed, counted for the contact in the same step.
        if m.acknowledgement
            .as_ref()
            .is_some_and(Acknowledgement::is_pending)
        {
            steps.push(
                TransactWriteItem::builder()
                    .put(self.put(owed_item(appending.contact, m)))
                    .build(),
            );
        }
        let contact_at = steps.len();
        if let Some(contact) = appending.new_contact {
            steps.extend(self.contact_puts(contact));
        }
        let contact_steps = contact_at..steps.len();
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(steps))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if condition_failed_at(&e, 0) => return Ok(Appended::Duplicate),
            Err(e) if contact_steps.clone().any(|i| condition_failed_at(&e, i)) => {
                return Ok(Appended::ContactTaken)
            }
            Err(e) => return Err(unavailable(e)),
        }
        if appending.new_thread.is_some() {
            return Ok(Appended::New);
        }
        if let Some(was) = appending.reopens {
            self.reopen_for(m, was).await?;
        }
        // Messages can arrive out of order: the one sent last sets the
        // excerpt, the one stored last the activity. Both, in one request,
        // when it is the latest on both counts, as it nearly always is.
        let (stored, sent) = (time(m.received_at), time(m.sent_at));
        let excerpt = excerpt(&m.text, EXCERPT_CHARS);
        // A thread item from before `last_sent_at` has, in `last_message_at`,
        // the sent time of its excerpt's message; a new one has no excerpt yet.
        let later_sent = "attribute_exists(pk) AND (last_sent_at <= :sent OR (attribute_not_exists(last_sent_at) AND (last_excerpt = :none OR last_message_at <= :sent)))";
        let later_stored = "attribute_exists(pk) AND last_message_at <= :stored";
        let none = String::new();
        if self
            .update_thread_if(
                m,
                "SET last_message_at = :stored, last_excerpt = :e, last_sent_at = :sent",
                &format!("({later_stored}) AND ({later_sent})"),
                [
                    (":stored", &stored),
                    (":sent", &sent),
                    (":e", &excerpt),
                    (":none", &none),
                ],
            )
            .await?
        {
            return Ok(Appended::New);
        }
        // The thread item is never made anew here (`attribute_exists`): a
        // contact forgotten meanwhile does not get their text back.
        self.update_thread_if(
            m,
            "SET last_message_at = :stored",
            later_stored,
            [(":stored", &stored)],
        )
        .await?;
        self.update_thread_if(
            m,
            "SET last_excerpt = :e, last_sent_at = :sent",
            later_sent,
            [(":sent", &sent), (":e", &excerpt), (":none", &none)],
        )
        .await?;
        Ok(Appended::New)
    }

    async fn acknowledgements_to(
        &self,
        contact: &ContactId,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let items = all_items(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(contact_pk(contact.as_str())))
                .expression_attribute_values(":from", s(format!("ACK#{}", time(since))))
                .expression_attribute_values(":to", s("ACK#~"))
                .consistent_read(true),
        )
        .await?;
        items.iter().map(|i| get_time(i, "sent_at")).collect()
    }

    async fn claim_acknowledgement(
        &self,
        channel: Channel,
        provider_id: &ProviderMessageId,
        attempt: u32,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        self.claim(channel, provider_id, attempt, now, lease).await
    }

    async fn settle_acknowledgement(
        &self,
        thread: &ThreadId,
        channel: Channel,
        provider_id: &ProviderMessageId,
        outcome: &Acknowledgement,
    ) -> Result<(), StoreError> {
        self.settle(thread, channel, provider_id, outcome).await
    }

    async fn threads_by_wait(&self, status: ThreadStatus) -> Result<Vec<Thread>, StoreError> {
        self.threads_with_status(status).await
    }

    async fn threads(&self) -> Result<Vec<Thread>, StoreError> {
        let mut all = Vec::new();
        for status in ThreadStatus::ALL {
            all.extend(self.threads_with_status(status).await?);
        }
        all.sort_by(|a, b| {
            b.last_message_at
                .cmp(&a.last_message_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(all)
    }

    async fn thread(&self, id: &ThreadId) -> Result<Option<ThreadWithMessages>, StoreError> {
        let Some(found) = self.get(thread_pk(id.as_str()), "THREAD").await? else {
            return Ok(None);
        };
        let thread = self.thread_from(&found).await?;
        let mut messages = Vec::new();
        for m in self.query_prefix(thread_pk(id.as_str()), "MSG#").await? {
            messages.push(Message {
                id: MessageId::parse(get_s(&m, "id")?)
                    .map_err(|_| StoreError::Corrupt("message id".into()))?,
                thread_id: thread.id.clone(),
                channel: Channel::parse(get_s(&m, "channel")?)
                    .ok_or_else(|| StoreError::Corrupt("channel".into()))?,
                provider_id: ProviderMessageId::parse(get_s(&m, "provider_id")?)
                    .map_err(|_| StoreError::Corrupt("provider id".into()))?,
                // Customers' messages carry none.
                author: match get_opt_s(&m, "author") {
                    None => Author::Customer,
                    Some(author) => {
                        Author::parse(author).ok_or_else(|| StoreError::Corrupt("author".into()))?
                    }
                },
                // Stored before the two times were kept: the one it has is the sender's.
                sent_at: match get_opt_time(&m, "sent_at")? {
                    Some(sent) => sent,
                    None => get_time(&m, "received_at")?,
                },
                received_at: get_time(&m, "received_at")?,
                text: get_s(&m, "text")?.to_string(),
                attachments: serde_json::from_str(get_s(&m, "attachments")?)
                    .map_err(|_| StoreError::Corrupt("attachments".into()))?,
                edited_at: get_opt_time(&m, "edited_at")?,
                deleted_at: get_opt_time(&m, "deleted_at")?,
                acknowledgement: acknowledgement::read(&m)?,
            });
        }
        Ok(Some(ThreadWithMessages { thread, messages }))
    }

    async fn amend_message(&self, amendment: &Amendment) -> Result<Amended, StoreError> {
        let a = amendment;
        let Some(provider) = self
            .get(provider_pk(a.channel, a.provider_id.as_str()), "PROVIDER")
            .await?
        else {
            return Ok(Amended::Unknown);
        };
        let thread_id = get_s(&provider, "thread_id")?.to_string();
        let message_id = get_s(&provider, "message_id")?.to_string();
        let Some(thread) = self.get(thread_pk(&thread_id), "THREAD").await? else {
            return Ok(Amended::Unknown);
        };
        let count_before: u32 = get_n(&thread, "message_count")?;
        // A thread holds a few messages: reading them all finds this one
        // and the excerpt that stands after the change.
        let mut messages = self.query_prefix(thread_pk(&thread_id), "MSG#").await?;
        let Some(target) = messages
            .iter_mut()
            .find(|m| get_opt_s(m, "id") == Some(message_id.as_str()))
        else {
            return Ok(Amended::Unknown);
        };
        let applied = Amended::Applied(
            ThreadId::parse(&thread_id).map_err(|_| StoreError::Corrupt("thread id".into()))?,
        );
        // A withdrawn message stays withdrawn: a late edit does not bring it back.
        if target.contains_key("deleted_at") {
            return Ok(applied);
        }
        let (text, attachments, stamp) = match &a.change {
            Change::Edited { text, attachments } => (
                text.clone(),
                serde_json::to_string(attachments).expect("attachments serialize"),
                "edited_at",
            ),
            Change::Deleted => (String::new(), "[]".to_string(), "deleted_at"),
        };
        target.insert("text".into(), s(&text));
        target.insert(stamp.into(), s(time(a.at)));
        let message = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(thread_pk(&thread_id), get_s(target, "sk")?)))
            .update_expression(format!("SET #text = :t, attachments = :a, {stamp} = :at"))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleted_at)")
            .expression_attribute_names("#text", "text")
            .expression_attribute_values(":t", s(&text))
            .expression_attribute_values(":a", s(attachments))
            .expression_attribute_values(":at", s(time(a.at)))
            .build()
            .expect("table, key and expression are set");
        // The excerpt is the latest message still there; the count, those still there.
        let live: Vec<&Item> = messages
            .iter()
            .filter(|m| !m.contains_key("deleted_at") && !m.contains_key("author"))
            .collect();
        let mut thread_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(thread_pk(&thread_id), "THREAD")))
            .condition_expression("message_count = :before")
            .expression_attribute_values(":before", n(count_before))
            .expression_attribute_values(":count", n(live.len()));
        thread_update = match live.last() {
            Some(latest) => thread_update
                .update_expression(
                    "SET last_excerpt = :e, last_sent_at = :sent, message_count = :count",
                )
                .expression_attribute_values(
                    ":e",
                    s(excerpt(get_s(latest, "text")?, EXCERPT_CHARS)),
                )
                .expression_attribute_values(":sent", s(get_s(latest, "sent_at")?)),
            None => thread_update
                .update_expression(
                    "SET last_excerpt = :e, message_count = :count REMOVE last_sent_at",
                )
                .expression_attribute_values(":e", s("")),
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(message).build())
            .transact_items(
                TransactWriteItem::builder()
                    .update(
                        thread_update
                            .build()
                            .expect("table, key and expression are set"),
                    )
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(applied),
            // Withdrawn meanwhile by a redelivery of the same change.
            Err(e) if condition_failed_at(&e, 0) => Ok(applied),
            // A message joined the thread meanwhile: the job is tried again.
            Err(e) if condition_failed_at(&e, 1) => Err(StoreError::Unavailable(
                "the thread changed while a message was amended".into(),
            )),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn thread_of_message(
        &self,
        channel: Channel,
        provider_id: &str,
    ) -> Result<Option<ThreadId>, StoreError> {
        match self
            .get(provider_pk(channel, provider_id), "PROVIDER")
            .await?
        {
            Some(found) => Ok(Some(
                ThreadId::parse(get_s(&found, "thread_id")?)
                    .map_err(|_| StoreError::Corrupt("thread id".into()))?,
            )),
            None => Ok(None),
        }
    }

    async fn change_thread(
        &self,
        id: &ThreadId,
        change: ThreadChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.change(id, change, at).await
    }

    async fn append_reply(
        &self,
        reply: &Message,
        first_attempt_until: DateTime<Utc>,
    ) -> Result<Appended, StoreError> {
        self.put_reply(reply, first_attempt_until).await
    }

    async fn quarantine(&self, payload: &Quarantined) -> Result<(), StoreError> {
        let bytes = payload.payload.as_bytes();
        let mut parts = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let mut end = (start + QUARANTINE_PART_BYTES).min(bytes.len());
            while !payload.payload.is_char_boundary(end) {
                end -= 1;
            }
            parts.push(&payload.payload[start..end]);
            start = end;
        }
        for (i, part) in parts.iter().enumerate() {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item([
                    ("pk", s(format!("QUARANTINE#{}", payload.id))),
                    ("sk", s(format!("PART#{i:04}"))),
                    ("data", s(*part)),
                    (
                        TTL_ATTRIBUTE,
                        expires(payload.received_at, QUARANTINE_RETENTION_DAYS),
                    ),
                ])))
                .send()
                .await
                .map_err(unavailable)?;
        }
        // Written last, so a listed payload always has all its parts.
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item([
                ("pk", s("QUARANTINE")),
                (
                    "sk",
                    s(format!("{}#{}", time(payload.received_at), payload.id)),
                ),
                ("id", s(&payload.id)),
                ("channel", s(payload.channel.as_str())),
                ("reason", s(&payload.reason)),
                ("parts", n(parts.len())),
                (
                    TTL_ATTRIBUTE,
                    expires(payload.received_at, QUARANTINE_RETENTION_DAYS),
                ),
            ])))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn quarantined_since(&self, since: Option<DateTime<Utc>>) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk > :since")
            .expression_attribute_values(":pk", s("QUARANTINE"))
            // Sort keys start with a year: "0" is before all of them.
            .expression_attribute_values(":since", s(since.map(time).unwrap_or_else(|| "0".into())))
            .select(Select::Count)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            total += page.map_err(unavailable)?.count as u64;
        }
        Ok(total)
    }

    async fn quarantine_entries(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        let items = all_items(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s("QUARANTINE"))
                .scan_index_forward(false),
        )
        .await?;
        items
            .iter()
            .map(|i| {
                let sk = get_s(i, "sk")?;
                let (at, _) = sk
                    .split_once('#')
                    .ok_or_else(|| StoreError::Corrupt(format!("quarantine key {sk:?}")))?;
                Ok(QuarantineEntry {
                    id: get_s(i, "id")?.to_string(),
                    channel: Channel::parse(get_s(i, "channel")?)
                        .ok_or_else(|| StoreError::Corrupt("channel".into()))?,
                    received_at: parse_time(at, "sk")?,
                    reason: get_s(i, "reason")?.to_string(),
                })
            })
            .collect()
    }

    async fn quarantined_payload(&self, id: &str) -> Result<Option<String>, StoreError> {
        // Parts sort by their number: PART#0000, PART#0001…
        let parts = self
            .query_prefix(format!("QUARANTINE#{id}"), "PART#")
            .await?;
        if parts.is_empty() {
            return Ok(None);
        }
        parts
            .iter()
            .map(|p| get_s(p, "data"))
            .collect::<Result<String, _>>()
            .map(Some)
    }

    async fn last_digest_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("DIGEST"))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        out.items()
            .first()
            .map(|i| get_time(i, "sent_at"))
            .transpose()
    }

    async fn record_digest(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item([
                ("pk", s("DIGEST")),
                ("sk", s(time(at))),
                ("sent_at", s(time(at))),
                (TTL_ATTRIBUTE, expires(at, DIGEST_RETENTION_DAYS)),
            ])))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn forget_contact(
        &self,
        address: &ChannelAddress,
    ) -> Result<Option<Forgotten>, StoreError> {
        let Some(owner) = self.address_item(address).await? else {
            return Ok(None);
        };
        let contact_id = get_s(&owner, "contact_id")?.to_string();
        let contact = self.load_contact(&contact_id).await?;
        let mut keys = Vec::new();
        let mut forgotten = Forgotten::default();
        for entry in self.query_prefix(contact_pk(&contact_id), "").await? {
            let sk = get_s(&entry, "sk")?.to_string();
            if let Some(thread_id) = sk.strip_prefix("THREAD#") {
                forgotten.threads += 1;
                for member in self.query_prefix(thread_pk(thread_id), "").await? {
                    if let (Some(channel), Some(provider_id)) = (
                        get_opt_s(&member, "channel"),
                        get_opt_s(&member, "provider_id"),
                    ) {
                        forgotten.messages += 1;
                        let channel = Channel::parse(channel)
                            .ok_or_else(|| StoreError::Corrupt("channel".into()))?;
                        keys.push(Self::key(provider_pk(channel, provider_id), "PROVIDER"));
                    }
                    keys.push(Self::key(thread_pk(thread_id), get_s(&member, "sk")?));
                }
            }
            keys.push(Self::key(contact_pk(&contact_id), &sk));
        }
        let mut addresses: Vec<String> = Vec::new();
        let known = contact.map(|c| c.addresses).unwrap_or_default();
        for a in known.iter().chain([address]) {
            // An address stored by an earlier version may sit under its former key.
            for key in [Some(a.key()), a.former_key()].into_iter().flatten() {
                if !addresses.contains(&key) {
                    addresses.push(key);
                }
            }
        }
        keys.extend(
            addresses
                .into_iter()
                .map(|a| Self::key(format!("ADDRESS#{a}"), "ADDRESS")),
        );
        self.delete_all(keys).await?;
        Ok(Some(forgotten))
    }
}
