//! The thread store on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use accueil_core::delivery;
use accueil_core::domain::{
    excerpt, AckState, Acknowledgement, Amendment, Author, Change, Channel, ChannelAddress,
    Contact, ContactId, Message, MessageId, ProviderMessageId, Quarantined, Thread, ThreadChange,
    ThreadId, ThreadStatus, EXCERPT_CHARS,
};
use accueil_core::ports::{
    Amended, Appended, Appending, Claim, Forgotten, QuarantineEntry, Store, StoreError,
    ThreadWithMessages,
};

use crate::database::{parse_time, time, Cached, Database, DatabaseError};

fn corrupt(what: &str) -> DatabaseError {
    DatabaseError::Sql(rusqlite::Error::InvalidColumnType(
        0,
        what.to_string(),
        rusqlite::types::Type::Text,
    ))
}

fn load_contact(conn: &Connection, id: &str) -> Result<Option<Contact>, DatabaseError> {
    let row = conn
        .query_row_cached(
            "SELECT id, name, created_at FROM contacts WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((id, name, created_at)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT address FROM contact_addresses WHERE contact_id = ?1 ORDER BY position",
    )?;
    let addresses = stmt
        .query_map([&id], |r| r.get::<_, String>(0))?
        .map(|key| {
            let key = key?;
            ChannelAddress::parse_key(&key).ok_or_else(|| corrupt("contact address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Contact {
        id: ContactId::parse(&id).map_err(|_| corrupt("contact id"))?,
        name,
        addresses,
        created_at: parse_time(&created_at)?,
    }))
}

/// The columns a thread is made with; read back with its counts of
/// acknowledgements delivered and failed.
const THREAD_COLUMNS: &str = "id, contact_id, channel, status, opened_at, last_message_at, message_count, last_excerpt, closed_at, snoozed_until, waiting_since";

struct ThreadRow {
    id: String,
    contact_id: String,
    channel: String,
    status: String,
    opened_at: String,
    last_message_at: String,
    message_count: u32,
    last_excerpt: String,
    closed_at: Option<String>,
    snoozed_until: Option<String>,
    waiting_since: Option<String>,
    acks_sent: u32,
    acks_failed: u32,
}

impl ThreadRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<ThreadRow> {
        Ok(ThreadRow {
            id: r.get(0)?,
            contact_id: r.get(1)?,
            channel: r.get(2)?,
            status: r.get(3)?,
            opened_at: r.get(4)?,
            last_message_at: r.get(5)?,
            message_count: r.get(6)?,
            last_excerpt: r.get(7)?,
            closed_at: r.get(8)?,
            snoozed_until: r.get(9)?,
            waiting_since: r.get(10)?,
            acks_sent: r.get(11)?,
            acks_failed: r.get(12)?,
        })
    }

    fn into_thread(self, conn: &Connection) -> Result<Thread, DatabaseError> {
        let contact = load_contact(conn, &self.contact_id)?
            .ok_or_else(|| corrupt("thread without contact"))?;
        Ok(Thread {
            id: ThreadId::parse(&self.id).map_err(|_| corrupt("thread id"))?,
            contact,
            channel: Channel::parse(&self.channel).ok_or_else(|| corrupt("channel"))?,
            status: ThreadStatus::parse(&self.status).ok_or_else(|| corrupt("thread status"))?,
            opened_at: parse_time(&self.opened_at)?,
            last_message_at: parse_time(&self.last_message_at)?,
            message_count: self.message_count,
            last_excerpt: self.last_excerpt,
            closed_at: self.closed_at.as_deref().map(parse_time).transpose()?,
            snoozed_until: self.snoozed_until.as_deref().map(parse_time).transpose()?,
            waiting_since: self.waiting_since.as_deref().map(parse_time).transpose()?,
            unacknowledged: self.acks_failed > 0 && self.acks_sent == 0,
        })
    }
}

fn query_threads(
    conn: &Connection,
    sql_tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Thread>, DatabaseError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {THREAD_COLUMNS}, acks_sent, acks_failed FROM threads {sql_tail}"
    ))?;
    let rows = stmt
        .query_map(params, ThreadRow::read)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|r| r.into_thread(conn)).collect()
}

fn ack_state(text: &str) -> Result<AckState, DatabaseError> {
    AckState::parse(text).ok_or_else(|| corrupt("acknowledgement state"))
}

/// Stores a new contact with its addresses; false, having written only
/// the contact, when another contact holds one of them (the caller's
/// transaction must then be dropped).
fn insert_contact(tx: &Transaction<'_>, contact: &Contact) -> Result<bool, DatabaseError> {
    tx.execute_cached(
        "INSERT INTO contacts (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![contact.id.as_str(), contact.name, time(contact.created_at)],
    )?;
    for (position, address) in contact.addresses.iter().enumerate() {
        let taken = tx
            .query_row_cached(
                "SELECT 1 FROM contact_addresses WHERE address = ?1",
                [address.key()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Ok(false);
        }
        tx.execute_cached(
            "INSERT INTO contact_addresses (address, contact_id, position) VALUES (?1, ?2, ?3)",
            params![address.key(), contact.id.as_str(), position as i64],
        )?;
    }
    Ok(true)
}

fn insert_thread(conn: &Connection, t: &Thread) -> Result<(), DatabaseError> {
    conn.execute_cached(
        &format!(
            "INSERT INTO threads ({THREAD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            t.id.as_str(),
            t.contact.id.as_str(),
            t.channel.as_str(),
            t.status.as_str(),
            time(t.opened_at),
            time(t.last_message_at),
            t.message_count,
            t.last_excerpt,
            t.closed_at.map(time),
            t.snoozed_until.map(time),
            t.waiting_since.map(time),
        ],
    )?;
    Ok(())
}

/// Adds the message to its thread, with the acknowledgement it is owed
/// (its first attempt leased until `first_attempt_until`, if given),
/// unless its provider id was stored before (then nothing is written).
fn insert_message(
    tx: &Transaction<'_>,
    m: &Message,
    first_attempt_until: Option<DateTime<Utc>>,
) -> Result<bool, DatabaseError> {
    let ack = m.acknowledgement.as_ref();
    let pending = ack.is_some_and(Acknowledgement::is_pending);
    let first_attempt = first_attempt_until.filter(|_| pending);
    let attempts = ack.map_or(0, |a| a.attempts) + u32::from(first_attempt.is_some());
    let inserted = tx.execute_cached(
        "INSERT OR IGNORE INTO messages (id, thread_id, channel, provider_id, sent_at, received_at, text, attachments,
            ack_state, ack_reason, ack_receipt, ack_attempts, ack_leased_until, author)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            m.id.as_str(),
            m.thread_id.as_str(),
            m.channel.as_str(),
            m.provider_id.as_str(),
            time(m.sent_at),
            time(m.received_at),
            m.text,
            serde_json::to_string(&m.attachments).expect("attachments serialize"),
            ack.map(|a| a.state.as_str()),
            ack.and_then(|a| a.reason.as_deref()),
            ack.and_then(|a| a.receipt.as_deref()),
            attempts,
            first_attempt.map(time),
            m.author.as_str(),
        ],
    )?;
    Ok(inserted == 1)
}

/// Applies the owner's change to a thread, if it applies where the thread
/// stands (`ThreadChange`).
fn change_status(
    tx: &Transaction<'_>,
    id: &str,
    change: ThreadChange,
    at: DateTime<Utc>,
) -> Result<bool, DatabaseError> {
    let (set, from, value) = match change {
        ThreadChange::Close => (
            "status = 'closed', closed_at = ?2, snoozed_until = NULL",
            "'open', 'answered', 'snoozed'",
            Some(time(at)),
        ),
        ThreadChange::Reopen => (
            "status = 'open', closed_at = NULL, snoozed_until = NULL",
            "'answered', 'snoozed', 'closed'",
            None,
        ),
        ThreadChange::Snooze { until } => (
            "status = 'snoozed', snoozed_until = ?2",
            "'open', 'answered', 'snoozed'",
            Some(time(until)),
        ),
    };
    let sql = format!("UPDATE threads SET {set} WHERE id = ?1 AND status IN ({from})");
    let values = std::iter::once(id.to_string()).chain(value);
    match tx.execute_cached(&sql, rusqlite::params_from_iter(values)) {
        Ok(changed) => Ok(changed == 1),
        // Reopening a closed thread of a contact who has another live one
        // on the channel: that one is where the conversation goes on.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Adds a customer's message to its thread as `insert_message` does, and
/// keeps the thread's count, excerpt and activity, and what the contact
/// was owed, true.
fn insert_customer_message(
    tx: &Transaction<'_>,
    m: &Message,
    contact: &str,
    first_attempt_until: Option<DateTime<Utc>>,
    reopens: Option<ThreadStatus>,
) -> Result<Appended, DatabaseError> {
    if !insert_message(tx, m, first_attempt_until)? {
        return Ok(Appended::Duplicate);
    }
    let pending = m
        .acknowledgement
        .as_ref()
        .is_some_and(Acknowledgement::is_pending);
    match reopens {
        // The owner's answer is behind them: they wait from this message.
        Some(ThreadStatus::Answered) => tx.execute_cached(
            "UPDATE threads SET status = 'open', waiting_since = ?2
             WHERE id = ?1 AND status = 'answered'",
            params![m.thread_id.as_str(), time(m.sent_at)],
        )?,
        Some(ThreadStatus::Snoozed) => tx.execute_cached(
            "UPDATE threads SET status = 'open', snoozed_until = NULL
             WHERE id = ?1 AND status = 'snoozed'",
            [m.thread_id.as_str()],
        )?,
        _ => 0,
    };
    // Messages can arrive out of order: the one sent last sets
    // the excerpt, the one stored last the activity.
    tx.execute_cached(
        "UPDATE threads SET message_count = message_count + 1,
            last_excerpt = CASE WHEN last_sent_at IS NULL OR ?3 >= last_sent_at THEN ?4 ELSE last_excerpt END,
            last_sent_at = CASE WHEN last_sent_at IS NULL OR ?3 >= last_sent_at THEN ?3 ELSE last_sent_at END,
            last_message_at = max(last_message_at, ?2)
         WHERE id = ?1",
        params![m.thread_id.as_str(), time(m.received_at), time(m.sent_at), excerpt(&m.text, EXCERPT_CHARS)],
    )?;
    if pending {
        tx.execute_cached(
            "INSERT INTO acknowledgements (thread_id, contact_id, channel, sent_at, receipt) VALUES (?1, ?2, ?3, ?4, '')",
            params![m.thread_id.as_str(), contact, m.channel.as_str(), time(m.received_at)],
        )?;
    }
    Ok(Appended::New)
}

#[async_trait]
impl Store for Database {
    async fn find_contact(
        &self,
        addresses: &[ChannelAddress],
    ) -> Result<Option<Contact>, StoreError> {
        let keys: Vec<String> = addresses.iter().map(ChannelAddress::key).collect();
        Ok(self
            .with(move |conn| {
                for key in keys {
                    let id: Option<String> = conn
                        .query_row_cached(
                            "SELECT contact_id FROM contact_addresses WHERE address = ?1",
                            [&key],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if let Some(id) = id {
                        return load_contact(conn, &id);
                    }
                }
                Ok(None)
            })
            .await?)
    }

    async fn create_contact(&self, contact: &Contact) -> Result<bool, StoreError> {
        let contact = contact.clone();
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                // Dropped unfinished, the transaction writes nothing.
                if !insert_contact(&tx, &contact)? {
                    return Ok(false);
                }
                tx.commit()?;
                Ok(true)
            })
            .await?)
    }

    async fn save_contact(&self, contact: &Contact) -> Result<(), StoreError> {
        let contact = contact.clone();
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                tx.execute_cached(
                    "INSERT INTO contacts (id, name, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                    params![contact.id.as_str(), contact.name, time(contact.created_at)],
                )?;
                for (position, address) in contact.addresses.iter().enumerate() {
                    // An address already owned by another contact stays with it.
                    tx.execute_cached(
                        "INSERT OR IGNORE INTO contact_addresses (address, contact_id, position) VALUES (?1, ?2, ?3)",
                        params![address.key(), contact.id.as_str(), position as i64],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?)
    }

    async fn live_thread_of(
        &self,
        contact: &ContactId,
        channel: Channel,
    ) -> Result<Option<Thread>, StoreError> {
        let (contact, channel) = (contact.to_string(), channel.as_str());
        Ok(self
            .with(move |conn| {
                Ok(query_threads(
                    conn,
                    "WHERE contact_id = ?1 AND channel = ?2 AND status <> 'closed'",
                    params![contact, channel],
                )?
                .pop())
            })
            .await?)
    }

    async fn open_thread(&self, thread: &Thread) -> Result<(), StoreError> {
        let thread = thread.clone();
        Ok(self.with(move |conn| insert_thread(conn, &thread)).await?)
    }

    async fn append_message(&self, appending: &Appending<'_>) -> Result<Appended, StoreError> {
        let m = appending.message.clone();
        let contact = appending.contact.to_string();
        let new_contact = appending.new_contact.cloned();
        let new_thread = appending.new_thread.cloned();
        let first_attempt_until = appending.first_attempt_until;
        let reopens = appending.reopens;
        Ok(self
            .with(move |conn| {
                // One transaction: dropped unfinished, it writes nothing.
                let tx = conn.transaction()?;
                if let Some(new_contact) = &new_contact {
                    if !insert_contact(&tx, new_contact)? {
                        return Ok(Appended::ContactTaken);
                    }
                }
                if let Some(new_thread) = &new_thread {
                    insert_thread(&tx, new_thread)?;
                }
                let appended =
                    insert_customer_message(&tx, &m, &contact, first_attempt_until, reopens)?;
                if appended == Appended::New {
                    tx.commit()?;
                }
                Ok(appended)
            })
            .await?)
    }

    async fn amend_message(&self, amendment: &Amendment) -> Result<Amended, StoreError> {
        let a = amendment.clone();
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                let found: Option<(String, String)> = tx
                    .query_row_cached(
                        "SELECT id, thread_id FROM messages WHERE channel = ?1 AND provider_id = ?2",
                        params![a.channel.as_str(), a.provider_id.as_str()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((message, thread)) = found else {
                    return Ok(Amended::Unknown);
                };
                // A withdrawn message stays withdrawn: a late edit does not bring it back.
                match &a.change {
                    Change::Edited { text, attachments } => tx.execute_cached(
                        "UPDATE messages SET text = ?2, attachments = ?3, edited_at = ?4
                         WHERE id = ?1 AND deleted_at IS NULL",
                        params![
                            message,
                            text,
                            serde_json::to_string(attachments).expect("attachments serialize"),
                            time(a.at)
                        ],
                    )?,
                    Change::Deleted => tx.execute_cached(
                        "UPDATE messages SET text = '', attachments = '[]', deleted_at = ?2
                         WHERE id = ?1 AND deleted_at IS NULL",
                        params![message, time(a.at)],
                    )?,
                };
                // The excerpt is the latest message still there; the count, those still there.
                let latest: Option<(String, String)> = tx
                    .query_row_cached(
                        "SELECT text, sent_at FROM messages
                         WHERE thread_id = ?1 AND deleted_at IS NULL AND author = 'customer'
                         ORDER BY sent_at DESC, received_at DESC, id DESC LIMIT 1",
                        [&thread],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let (text, sent_at) = latest.map_or((String::new(), None), |(t, s)| (t, Some(s)));
                tx.execute_cached(
                    "UPDATE threads SET last_excerpt = ?2, last_sent_at = ?3,
                        message_count = (SELECT count(*) FROM messages
                            WHERE thread_id = ?1 AND deleted_at IS NULL AND author = 'customer')
                     WHERE id = ?1",
                    params![thread, excerpt(&text, EXCERPT_CHARS), sent_at],
                )?;
                tx.commit()?;
                let thread = ThreadId::parse(&thread).map_err(|_| corrupt("thread id"))?;
                Ok(Amended::Applied(thread))
            })
            .await?)
    }

    async fn acknowledgements_to(
        &self,
        contact: &ContactId,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let contact = contact.to_string();
        Ok(self
            .with(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT sent_at FROM acknowledgements WHERE contact_id = ?1 AND sent_at >= ?2 ORDER BY sent_at",
                )?;
                let times = stmt
                    .query_map(params![contact, time(since)], |r| r.get::<_, String>(0))?
                    .map(|t| Ok(parse_time(&t?)?))
                    .collect::<Result<Vec<_>, DatabaseError>>()?;
                Ok(times)
            })
            .await?)
    }

    async fn claim_acknowledgement(
        &self,
        channel: Channel,
        provider_id: &ProviderMessageId,
        attempt: u32,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        let provider_id = provider_id.as_str().to_string();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let stored: Option<(Option<String>, u32, Option<String>)> = tx
                    .query_row_cached(
                        "SELECT ack_state, ack_attempts, ack_leased_until FROM messages WHERE channel = ?1 AND provider_id = ?2",
                        params![channel.as_str(), provider_id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some((Some(state), attempts, leased_until)) = stored else {
                    return Ok(Claim::Settled);
                };
                let leased_until = leased_until.as_deref().map(parse_time).transpose()?;
                let claim = delivery::claim(ack_state(&state)?, attempts, leased_until, attempt, now);
                if claim == Claim::Claimed {
                    tx.execute_cached(
                        "UPDATE messages SET ack_attempts = ?3, ack_leased_until = ?4 WHERE channel = ?1 AND provider_id = ?2",
                        params![channel.as_str(), provider_id, attempt + 1, time(until)],
                    )?;
                }
                tx.commit()?;
                Ok(claim)
            })
            .await?)
    }

    async fn settle_acknowledgement(
        &self,
        thread: &ThreadId,
        channel: Channel,
        provider_id: &ProviderMessageId,
        outcome: &Acknowledgement,
    ) -> Result<(), StoreError> {
        let (thread, provider_id, o) = (
            thread.to_string(),
            provider_id.as_str().to_string(),
            outcome.clone(),
        );
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                // Who wrote the message, and when: only a customer's counts on
                // the thread; an owner's reply sent makes it answered.
                let settled: Option<(String, String)> = tx
                    .query_row_cached(
                        "UPDATE messages SET ack_state = ?3, ack_reason = ?4, ack_receipt = ?5, ack_attempts = ?6, ack_leased_until = NULL
                         WHERE channel = ?1 AND provider_id = ?2 AND ack_state = 'pending'
                         RETURNING author, sent_at",
                        params![channel.as_str(), provider_id, o.state.as_str(), o.reason, o.receipt, o.attempts],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let counter = match o.state {
                    AckState::Sent => Some("acks_sent"),
                    AckState::Failed => Some("acks_failed"),
                    AckState::Pending | AckState::Skipped => None,
                };
                match (counter, settled) {
                    (Some(counter), Some((author, _))) if author == Author::Customer.as_str() => {
                        tx.execute_cached(
                            &format!("UPDATE threads SET {counter} = {counter} + 1 WHERE id = ?1"),
                            [&thread],
                        )?;
                    }
                    // The owner's reply went out: the thread is answered,
                    // unless the customer wrote after it was written.
                    (Some("acks_sent"), Some((_, written_at))) => {
                        tx.execute_cached(
                            "UPDATE threads SET status = 'answered', snoozed_until = NULL
                             WHERE id = ?1 AND status IN ('open', 'snoozed') AND NOT EXISTS
                             (SELECT 1 FROM messages WHERE thread_id = ?1 AND author = 'customer' AND received_at > ?2)",
                            params![thread, written_at],
                        )?;
                    }
                    _ => {}
                }
                tx.commit()?;
                Ok(())
            })
            .await?)
    }

    async fn threads_by_wait(&self, status: ThreadStatus) -> Result<Vec<Thread>, StoreError> {
        Ok(self
            .with(move |conn| {
                query_threads(
                    conn,
                    "WHERE status = ?1 ORDER BY opened_at, id",
                    [status.as_str()],
                )
            })
            .await?)
    }

    async fn threads(&self) -> Result<Vec<Thread>, StoreError> {
        Ok(self
            .with(|conn| query_threads(conn, "ORDER BY last_message_at DESC, id", []))
            .await?)
    }

    async fn thread(&self, id: &ThreadId) -> Result<Option<ThreadWithMessages>, StoreError> {
        let id = id.to_string();
        Ok(self
            .with(move |conn| {
                let Some(thread) = query_threads(conn, "WHERE id = ?1", [&id])?.pop() else {
                    return Ok(None);
                };
                let mut stmt = conn.prepare_cached(
                    "SELECT id, thread_id, channel, provider_id, sent_at, received_at, text, attachments,
                            edited_at, deleted_at, ack_state, ack_reason, ack_receipt, ack_attempts, author
                     FROM messages WHERE thread_id = ?1 ORDER BY sent_at, received_at, id",
                )?;
                let rows = stmt
                    .query_map([&id], |r| {
                        Ok((
                            (
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                            ),
                            (r.get::<_, String>(4)?, r.get::<_, String>(5)?),
                            (r.get::<_, String>(6)?, r.get::<_, String>(7)?),
                            (
                                r.get::<_, Option<String>>(8)?,
                                r.get::<_, Option<String>>(9)?,
                            ),
                            (
                                r.get::<_, Option<String>>(10)?,
                                r.get::<_, Option<String>>(11)?,
                                r.get::<_, Option<String>>(12)?,
                                r.get::<_, u32>(13)?,
                            ),
                            r.get::<_, String>(14)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut messages = Vec::with_capacity(rows.len());
                let optional = |t: Option<String>| t.as_deref().map(parse_time).transpose();
                for ((mid, channel, provider_id), (sent_at, received_at), (text, attachments), (edited_at, deleted_at), (state, reason, receipt, attempts), author) in rows {
                    let acknowledgement = match state {
                        Some(state) => Some(Acknowledgement {
                            state: ack_state(&state)?,
                            reason,
                            receipt,
                            attempts,
                        }),
                        None => None,
                    };
                    messages.push(Message {
                        id: MessageId::parse(&mid).map_err(|_| corrupt("message id"))?,
                        thread_id: thread.id.clone(),
                        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel"))?,
                        provider_id: ProviderMessageId::parse(&provider_id)
                            .map_err(|_| corrupt("provider id"))?,
                        author: Author::parse(&author).ok_or_else(|| corrupt("author"))?,
                        sent_at: parse_time(&sent_at)?,
                        received_at: parse_time(&received_at)?,
                        text,
                        attachments: serde_json::from_str(&attachments)
                            .map_err(|_| corrupt("attachments"))?,
                        edited_at: optional(edited_at)?,
                        deleted_at: optional(deleted_at)?,
                        acknowledgement,
                    });
                }
                Ok(Some(ThreadWithMessages { thread, messages }))
            })
            .await?)
    }

    async fn thread_of_message(
        &self,
        channel: Channel,
        provider_id: &str,
    ) -> Result<Option<ThreadId>, StoreError> {
        let provider_id = provider_id.to_string();
        Ok(self
            .with(move |conn| {
                let id: Option<String> = conn
                    .query_row_cached(
                        "SELECT thread_id FROM messages WHERE channel = ?1 AND provider_id = ?2",
                        params![channel.as_str(), provider_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                id.map(|id| ThreadId::parse(&id).map_err(|_| corrupt("thread id")))
                    .transpose()
            })
            .await?)
    }

    async fn change_thread(
        &self,
        id: &ThreadId,
        change: ThreadChange,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                let changed = change_status(&tx, &id, change, at)?;
                tx.commit()?;
                Ok(changed)
            })
            .await?)
    }

    async fn append_reply(
        &self,
        reply: &Message,
        first_attempt_until: DateTime<Utc>,
    ) -> Result<Appended, StoreError> {
        let reply = reply.clone();
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                let thread_there = tx
                    .query_row_cached(
                        "SELECT 1 FROM threads WHERE id = ?1",
                        [reply.thread_id.as_str()],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !thread_there || !insert_message(&tx, &reply, Some(first_attempt_until))? {
                    return Ok(Appended::Duplicate);
                }
                tx.commit()?;
                Ok(Appended::New)
            })
            .await?)
    }

    async fn quarantine(&self, payload: &Quarantined) -> Result<(), StoreError> {
        let q = payload.clone();
        Ok(self
            .with(move |conn| {
                // Keyed by id so that a redelivered job keeps one copy.
                conn.execute_cached(
                    "INSERT OR IGNORE INTO quarantine (id, channel, received_at, reason, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![q.id, q.channel.as_str(), time(q.received_at), q.reason, q.payload],
                )?;
                Ok(())
            })
            .await?)
    }

    async fn quarantined_since(&self, since: Option<DateTime<Utc>>) -> Result<u64, StoreError> {
        let since = since.map(time).unwrap_or_default();
        Ok(self
            .with(move |conn| {
                Ok(conn.query_row_cached(
                    "SELECT count(*) FROM quarantine WHERE received_at > ?1",
                    [since],
                    |r| r.get(0),
                )?)
            })
            .await?)
    }

    async fn quarantine_entries(&self) -> Result<Vec<QuarantineEntry>, StoreError> {
        Ok(self
            .with(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, channel, received_at, reason FROM quarantine ORDER BY received_at DESC, id",
                )?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.into_iter()
                    .map(|(id, channel, received_at, reason)| {
                        Ok(QuarantineEntry {
                            id,
                            channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel"))?,
                            received_at: parse_time(&received_at)?,
                            reason,
                        })
                    })
                    .collect()
            })
            .await?)
    }

    async fn quarantined_payload(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_string();
        Ok(self
            .with(move |conn| {
                Ok(conn
                    .query_row_cached("SELECT payload FROM quarantine WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()?)
            })
            .await?)
    }

    async fn last_digest_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .with(|conn| {
                let last: Option<String> =
                    conn.query_row_cached("SELECT max(sent_at) FROM digests", [], |r| r.get(0))?;
                Ok(last.as_deref().map(parse_time).transpose()?)
            })
            .await?)
    }

    async fn record_digest(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(self
            .with(move |conn| {
                conn.execute_cached("INSERT INTO digests (sent_at) VALUES (?1)", [time(at)])?;
                Ok(())
            })
            .await?)
    }

    async fn forget_contact(
        &self,
        address: &ChannelAddress,
    ) -> Result<Option<Forgotten>, StoreError> {
        let key = address.key();
        Ok(self
            .with(move |conn| {
                let tx = conn.transaction()?;
                let id: Option<String> = tx
                    .query_row_cached("SELECT contact_id FROM contact_addresses WHERE address = ?1", [&key], |r| r.get(0))
                    .optional()?;
                let Some(id) = id else {
                    return Ok(None);
                };
                let messages: usize = tx.query_row_cached(
                    "SELECT count(*) FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE contact_id = ?1)",
                    [&id],
                    |r| r.get(0),
                )?;
                tx.execute_cached("DELETE FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE contact_id = ?1)", [&id])?;
                tx.execute_cached("DELETE FROM acknowledgements WHERE contact_id = ?1", [&id])?;
                let threads = tx.execute_cached("DELETE FROM threads WHERE contact_id = ?1", [&id])?;
                tx.execute_cached("DELETE FROM contact_addresses WHERE contact_id = ?1", [&id])?;
                tx.execute_cached("DELETE FROM contacts WHERE id = ?1", [&id])?;
                tx.commit()?;
                Ok(Some(Forgotten { threads, messages }))
            })
            .await?)
    }
}
