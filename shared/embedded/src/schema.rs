//! The SQLite schema. Times are stored as fixed-width RFC 3339 UTC text so
//! that comparing strings compares instants.

pub const SCHEMA: &str = r#"
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
-- A commit is on disk at the next sync of the log, not at once: a power
-- cut can undo the worker's last steps, which its queue then runs again.
-- What ingest answers 200 for is synced before the answer (`enqueue`).
PRAGMA synchronous = NORMAL;
-- A checkpoint copies the log into the file and syncs both, each page
-- once however often it was written since. Every 10,000 pages of log (40 MB
-- at most) rather than SQLite's 1,000, a drain is about a tenth faster and
-- accepting webhooks a few percent slower (bench/README.md).
PRAGMA wal_autocheckpoint = 10000;

CREATE TABLE IF NOT EXISTS contacts (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    created_at  TEXT NOT NULL
);

-- A contact's channel addresses (`whatsapp:phone:+336…`): how a new message finds its contact.
CREATE TABLE IF NOT EXISTS contact_addresses (
    address     TEXT PRIMARY KEY,
    contact_id  TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS contact_addresses_by_contact ON contact_addresses(contact_id);

-- threads: THREADS below, made after this.

CREATE TABLE IF NOT EXISTS messages (
    id           TEXT PRIMARY KEY,
    thread_id    TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    channel      TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    -- By our clock: when it was stored.
    received_at  TEXT NOT NULL,
    text         TEXT NOT NULL,
    attachments  TEXT NOT NULL,
    -- By the provider's clock: when the customer sent it.
    sent_at      TEXT NOT NULL,
    -- By the provider's clock: when the customer changed or withdrew it.
    edited_at    TEXT,
    deleted_at   TEXT,
    -- The acknowledgement it was owed (NULL: stored before they were
    -- recorded): pending, sent, failed or skipped, and the lease of the
    -- attempt under way.
    ack_state         TEXT,
    ack_reason        TEXT,
    ack_receipt       TEXT,
    ack_attempts      INTEGER NOT NULL DEFAULT 0,
    ack_leased_until  TEXT,
    -- 'customer', or 'owner' for a reply, whose ack_* columns are then
    -- its own delivery.
    author       TEXT NOT NULL DEFAULT 'customer',
    -- Providers deliver twice: the second copy is refused here.
    UNIQUE (channel, provider_id)
);

-- When each contact was owed an acknowledgement, for the quiet period and
-- the daily cap. `receipt` is empty since receipts are kept on the message.
CREATE TABLE IF NOT EXISTS acknowledgements (
    thread_id   TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    contact_id  TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    channel     TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    receipt     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS acknowledgements_by_contact ON acknowledgements(contact_id, sent_at);

CREATE TABLE IF NOT EXISTS quarantine (
    id           TEXT PRIMARY KEY,
    channel      TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    payload      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS digests (
    sent_at  TEXT NOT NULL
);

-- The durable queue between ingest and process. A row leaves only once
-- processed; a claimed row whose lease ran out is claimed again.
CREATE TABLE IF NOT EXISTS queue (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    -- The channel it concerns, and whom (`Job::customer`): the worker runs
    -- a few jobs of each channel at once, one of each customer's.
    channel       TEXT,
    customer      TEXT,
    enqueued_at   TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    available_at  TEXT NOT NULL,
    last_error    TEXT,
    dead          INTEGER NOT NULL DEFAULT 0
);
"#;

/// The threads table. A database from before the owner could answer
/// allowed only 'open' and 'closed': `migrate` rebuilds its table from
/// this one (`{table}` is its name).
pub const THREADS: &str = "CREATE TABLE IF NOT EXISTS {table} (
    id               TEXT PRIMARY KEY,
    contact_id       TEXT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'answered', 'snoozed', 'closed')),
    opened_at        TEXT NOT NULL,
    -- Stored time (our clock) of the latest message.
    last_message_at  TEXT NOT NULL,
    message_count    INTEGER NOT NULL,
    last_excerpt     TEXT NOT NULL,
    closed_at        TEXT,
    -- Sent time of the message the excerpt is from (NULL: no message yet).
    last_sent_at     TEXT,
    -- Acknowledgements of its messages delivered, and failed for good.
    acks_sent        INTEGER NOT NULL DEFAULT 0,
    acks_failed      INTEGER NOT NULL DEFAULT 0,
    -- A snoozed thread is back in the digest from then.
    snoozed_until    TEXT,
    -- Sent time of the customer's first message after the owner's last
    -- reply (NULL: they wait since opened_at).
    waiting_since    TEXT
)";

/// Columns added since the first schema, for databases made before them:
/// (table, column, definition, what fills it in existing rows). A database
/// from before kept one time per message, the sender's, and so both take it.
pub const ADDED_COLUMNS: [(&str, &str, &str, Option<&str>); 16] = [
    (
        "messages",
        "sent_at",
        "TEXT NOT NULL DEFAULT ''",
        Some("received_at"),
    ),
    // Before, `last_message_at` was the sent time of the excerpt's message.
    (
        "threads",
        "last_sent_at",
        "TEXT",
        Some("CASE WHEN message_count > 0 THEN last_message_at END"),
    ),
    // Customers' edits and unsends, since Telegram and Instagram.
    ("messages", "edited_at", "TEXT", None),
    ("messages", "deleted_at", "TEXT", None),
    // Acknowledgements owed until delivered.
    ("messages", "ack_state", "TEXT", None),
    ("messages", "ack_reason", "TEXT", None),
    ("messages", "ack_receipt", "TEXT", None),
    (
        "messages",
        "ack_attempts",
        "INTEGER NOT NULL DEFAULT 0",
        None,
    ),
    ("messages", "ack_leased_until", "TEXT", None),
    ("threads", "acks_sent", "INTEGER NOT NULL DEFAULT 0", None),
    ("threads", "acks_failed", "INTEGER NOT NULL DEFAULT 0", None),
    ("queue", "channel", "TEXT", None),
    // Jobs queued before it have none: each runs alone on its channel.
    ("queue", "customer", "TEXT", None),
    // The owner's replies and snoozes.
    ("threads", "snoozed_until", "TEXT", None),
    ("threads", "waiting_since", "TEXT", None),
    (
        "messages",
        "author",
        "TEXT NOT NULL DEFAULT 'customer'",
        None,
    ),
];

/// Address keys an earlier version spelled otherwise (`ChannelAddress::former_key`):
/// user ids were `bsuid:` when only WhatsApp had them.
pub const REKEYED: &str =
    "UPDATE contact_addresses SET address = replace(address, ':bsuid:', ':id:')
    WHERE address LIKE '%:bsuid:%';";

/// After the columns exist: at most one live thread per contact and
/// channel (new messages join it); threads by status in waiting order (the
/// digest); a thread's messages in the order they were
/// sent; the queue's jobs in the order they become available, all and by
/// channel, so that a claim is one step down an index however long the
/// backlog; the few
/// acknowledgements under an attempt's lease, which a start releases
/// without reading every message.
pub const INDEXES: &str =
    "DROP INDEX IF EXISTS one_open_thread;
CREATE UNIQUE INDEX IF NOT EXISTS one_live_thread ON threads(contact_id, channel) WHERE status <> 'closed';
DROP INDEX IF EXISTS open_threads_by_wait;
CREATE INDEX IF NOT EXISTS threads_by_status ON threads(status, opened_at);
CREATE INDEX IF NOT EXISTS messages_by_thread_sent ON messages(thread_id, sent_at);
CREATE INDEX IF NOT EXISTS messages_leased ON messages(ack_leased_until) WHERE ack_leased_until IS NOT NULL;
DROP INDEX IF EXISTS messages_by_thread;
CREATE INDEX IF NOT EXISTS queue_by_availability ON queue(dead, available_at, id);
CREATE INDEX IF NOT EXISTS queue_by_channel ON queue(dead, channel, available_at, id);
DROP INDEX IF EXISTS queue_ready;";
