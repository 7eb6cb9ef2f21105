//! A database written by an earlier version opens, reads and takes new
//! messages: nothing a user had is lost on an upgrade.

use accueil_core::domain::{
    Acknowledgement, Address, Author, Channel, ChannelAddress, Message, MessageId,
    ProviderMessageId, ThreadChange, ThreadId, ThreadStatus, UserId,
};
use accueil_core::ports::{Appended, Appending, Store};
use accueil_embedded::Database;
use chrono::{DateTime, Duration, Utc};

/// The tables as the version before both message times wrote them: one
/// time per message, the provider's, and threads without `last_sent_at`.
const BEFORE_BOTH_TIMES: &str = r#"
CREATE TABLE contacts (id TEXT PRIMARY KEY, name TEXT, created_at TEXT NOT NULL);
CREATE TABLE threads (
    id TEXT PRIMARY KEY, contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    channel TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at TEXT NOT NULL, last_message_at TEXT NOT NULL, message_count INTEGER NOT NULL,
    last_excerpt TEXT NOT NULL, closed_at TEXT
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY, thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    channel TEXT NOT NULL, provider_id TEXT NOT NULL, received_at TEXT NOT NULL,
    text TEXT NOT NULL, attachments TEXT NOT NULL, UNIQUE (channel, provider_id)
);
CREATE INDEX messages_by_thread ON messages(thread_id, received_at);
CREATE TABLE contact_addresses (
    address TEXT PRIMARY KEY, contact_id TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    position INTEGER NOT NULL
);
INSERT INTO contacts VALUES ('C-ZYVYH7NZDV', 'Zoé', '2026-11-22T20:29:21.000000Z');
INSERT INTO contact_addresses VALUES ('whatsapp:bsuid:FR.100000000000000042', 'C-ZYVYH7NZDV', 0);
INSERT INTO threads VALUES ('T-XW69ZYS9CS', 'C-ZYVYH7NZDV', 'whatsapp', 'open',
    '2026-11-22T20:29:21.000000Z', '2026-11-22T20:29:21.000000Z', 1, 'Bonjour', NULL);
INSERT INTO messages VALUES ('M-DEFJ7M7TNE', 'T-XW69ZYS9CS', 'whatsapp', 'wamid.OLD',
    '2026-11-22T20:29:21.000000Z', 'Bonjour', '[]');
"#;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_database_from_before_both_message_times_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accueil.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(BEFORE_BOTH_TIMES)
        .unwrap();

    let database = Database::open(&path).unwrap();
    let id = ThreadId::parse("T-XW69ZYS9CS").unwrap();
    let old = database.thread(&id).await.unwrap().unwrap();
    // Its WhatsApp user id, keyed `bsuid:` then, still finds its contact.
    let user = ChannelAddress::new(
        Channel::Whatsapp,
        Address::UserId(UserId::parse("FR.100000000000000042").unwrap()),
    );
    let contact = database.find_contact(&[user]).await.unwrap().unwrap();
    assert_eq!(contact.id.as_str(), "C-ZYVYH7NZDV");
    assert_eq!(
        contact.addresses[0].key(),
        "whatsapp:id:FR.100000000000000042"
    );
    // Its one time was the sender's, and stands for both.
    let then = at("2026-11-22T20:29:21Z");
    assert_eq!(old.messages.len(), 1);
    assert_eq!(
        (old.messages[0].sent_at, old.messages[0].received_at),
        (then, then)
    );

    // First, an old thread whose excerpt is its last message: one sent
    // earlier does not replace it.
    let earlier = Message {
        id: MessageId::generate(),
        thread_id: id.clone(),
        channel: Channel::Whatsapp,
        provider_id: ProviderMessageId::parse("wamid.EARLIER").unwrap(),
        author: Author::Customer,
        sent_at: then - Duration::minutes(5),
        received_at: then + Duration::hours(2),
        text: "Avant".into(),
        attachments: Vec::new(),
        edited_at: None,
        deleted_at: None,
        acknowledgement: Some(Acknowledgement::skipped("quiet_period")),
    };
    assert_eq!(
        database
            .append_message(&Appending::to(&earlier, &contact.id))
            .await
            .unwrap(),
        Appended::New
    );
    assert_eq!(
        database
            .thread(&id)
            .await
            .unwrap()
            .unwrap()
            .thread
            .last_excerpt,
        "Bonjour"
    );

    let stored = then + Duration::days(1);
    let next = Message {
        id: MessageId::generate(),
        thread_id: id.clone(),
        channel: Channel::Whatsapp,
        provider_id: ProviderMessageId::parse("wamid.NEW").unwrap(),
        author: Author::Customer,
        sent_at: then + Duration::hours(1),
        received_at: stored,
        text: "Encore moi".into(),
        attachments: Vec::new(),
        edited_at: None,
        deleted_at: None,
        acknowledgement: Some(Acknowledgement::pending()),
    };
    assert_eq!(
        database
            .append_message(&Appending::to(&next, &contact.id))
            .await
            .unwrap(),
        Appended::New
    );
    // What it is owed counts for its contact; the old message owed nothing known.
    assert_eq!(
        database
            .acknowledgements_to(&contact.id, then)
            .await
            .unwrap(),
        vec![stored]
    );
    assert_eq!(old.messages[0].acknowledgement, None);
    let upgraded = database.thread(&id).await.unwrap().unwrap();
    assert_eq!(upgraded.thread.message_count, 3);
    assert_eq!(upgraded.thread.last_message_at, stored);
    assert_eq!(upgraded.thread.last_excerpt, "Encore moi");
    assert_eq!(upgraded.messages[2], next);
    // A redelivery sent before the old excerpt's message does not take it.
    let older = Message {
        id: MessageId::generate(),
        provider_id: ProviderMessageId::parse("wamid.OLDER").unwrap(),
        author: Author::Customer,
        sent_at: then - Duration::hours(1),
        received_at: stored + Duration::minutes(1),
        text: "Plus ancien".into(),
        ..next.clone()
    };
    database
        .append_message(&Appending::to(&older, &contact.id))
        .await
        .unwrap();
    let upgraded = database.thread(&id).await.unwrap().unwrap();
    assert_eq!(upgraded.thread.last_excerpt, "Encore moi");
    // Its table, rebuilt for the owner's statuses, kept every message and
    // takes them.
    assert_eq!(upgraded.messages.len(), 4);
    let until = then + Duration::days(30);
    assert!(database
        .change_thread(&id, ThreadChange::Snooze { until }, stored)
        .await
        .unwrap());
    let upgraded = database.thread(&id).await.unwrap().unwrap();
    assert_eq!(upgraded.thread.status, ThreadStatus::Snoozed);
    // And it is still one live thread per contact and channel.
    let other = accueil_core::domain::Thread {
        id: ThreadId::generate(),
        ..upgraded.thread.clone()
    };
    assert!(database.open_thread(&other).await.is_err());
    drop(database);
    // Opening again changes nothing more.
    let again = Database::open(&path).unwrap();
    assert_eq!(again.thread(&id).await.unwrap().unwrap(), upgraded);
    let foreign_keys: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(foreign_keys, 0);
}
