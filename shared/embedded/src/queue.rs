//! The durable queue on SQLite. A job is committed before ingest answers
//! the provider, and deleted only after process has handled it: a crash in
//! between means it is handled again, which processing's idempotence allows.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use accueil_core::domain::Channel;
use accueil_core::ports::{Job, Queue, QueueError};

use crate::database::{time, Cached, Database, DatabaseError};

/// After this many failed attempts a job is set aside as a dead letter.
pub const MAX_ATTEMPTS: u32 = 5;

/// A job taken from the queue, hidden from other claims until its lease ends.
#[derive(Debug)]
pub struct Claimed {
    pub id: i64,
    pub attempts: u32,
    /// Whom it concerns (`Job::customer`), as queued.
    pub customer: Option<String>,
    /// None when the stored job can no longer be read (a newer format, a
    /// corrupted row): it is dead-lettered, never dropped.
    pub job: Option<Job>,
}

/// A job under way, as the next claim must respect it: its channel takes a
/// few at once, its customer one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Underway {
    pub channel: Channel,
    /// None for a job that runs alone on its channel.
    pub customer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub waiting: u64,
    pub dead: u64,
}

const COLUMNS: &str = "id, job, attempts, customer, available_at";

/// The job available first that may run beside those `underway`, at most
/// `per_channel` of a channel, one of a customer, and a job of no customer
/// alone; with its parameters: `now`, then the busy customers' keys.
///
/// With nothing under way, one step down `queue_by_availability`. Else one
/// search down `queue_by_channel` for each channel with room (and for the
/// jobs of none), then the earliest of those few: never a walk past a full
/// channel's backlog, however long. On a channel with jobs under way the
/// search steps over the busy customers' own queued jobs, and stops at a
/// job of no customer without taking it, so that it runs once those before
/// it are done, and before any after it.
fn claim_sql(now: String, underway: &[Underway], per_channel: usize) -> (String, Vec<String>) {
    let mut params = vec![now];
    if underway.is_empty() {
        return (
            format!(
                "SELECT {COLUMNS} FROM queue WHERE dead = 0 AND available_at <= ?1 \
                 ORDER BY available_at, id LIMIT 1"
            ),
            params,
        );
    }
    let mut searches = Vec::new();
    for &channel in Channel::ALL.iter() {
        let here: Vec<&Underway> = underway.iter().filter(|u| u.channel == channel).collect();
        if here.len() >= per_channel || here.iter().any(|u| u.customer.is_none()) {
            continue;
        }
        // Names from the registry, never from outside: safe to inline.
        let which = format!("channel = '{}'", channel.as_str());
        if here.is_empty() {
            searches.push(search(&which, ""));
            continue;
        }
        let first = params.len() + 1;
        params.extend(here.iter().filter_map(|u| u.customer.clone()));
        let placeholders: Vec<String> = (first..=params.len()).map(|n| format!("?{n}")).collect();
        searches.push(format!(
            "{} WHERE customer IS NOT NULL",
            search(
                &which,
                &format!(
                    " AND (customer IS NULL OR customer NOT IN ({}))",
                    placeholders.join(", ")
                ),
            )
        ));
    }
    searches.push(search("channel IS NULL", ""));
    (
        format!(
            "SELECT {COLUMNS} FROM ({}) ORDER BY available_at, id LIMIT 1",
            searches.join(" UNION ALL ")
        ),
        params,
    )
}

/// The first job available of `which`, further narrowed by `and`.
fn search(which: &str, and: &str) -> String {
    format!(
        "SELECT * FROM (SELECT {COLUMNS} FROM queue \
         WHERE dead = 0 AND {which} AND available_at <= ?1{and} ORDER BY available_at, id LIMIT 1)"
    )
}

fn delete(conn: &Connection, done: &[i64]) -> rusqlite::Result<()> {
    for id in done {
        conn.execute_cached("DELETE FROM queue WHERE id = ?1", [id])?;
    }
    Ok(())
}

const INSERT: &str = "INSERT INTO queue (job, channel, customer, enqueued_at, available_at) \
                      VALUES (?1, ?2, ?3, ?4, ?5)";

/// A job as a row of the queue.
pub(crate) struct Row {
    pub(crate) job: String,
    pub(crate) channel: &'static str,
    pub(crate) customer: Option<String>,
}

impl Row {
    pub(crate) fn of(job: &Job) -> Row {
        Row {
            job: serde_json::to_string(job).expect("jobs serialize"),
            channel: job.channel().as_str(),
            customer: job.customer(),
        }
    }

    pub(crate) fn insert(
        &self,
        conn: &Connection,
        enqueued_at: &str,
        available_at: &str,
    ) -> rusqlite::Result<()> {
        conn.execute_cached(
            INSERT,
            params![
                self.job,
                self.channel,
                self.customer,
                enqueued_at,
                available_at
            ],
        )?;
        Ok(())
    }
}

#[async_trait]
impl Queue for Database {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), QueueError> {
        let now = time(self.now());
        let rows = jobs.iter().map(|job| (Row::of(job), now.clone())).collect();
        let batch = self.arrivals.join(rows);
        let arrivals = self.arrivals.clone();
        self.off_thread(move |conn| Ok(arrivals.settle(conn, batch)))
            .await
            .map_err(|e| QueueError(e.to_string()))?
            .map_err(QueueError)?;
        self.enqueued.notify_one();
        Ok(())
    }

    async fn enqueue_later(&self, job: &Job, delay: std::time::Duration) -> Result<(), QueueError> {
        let row = Row::of(job);
        let now = self.now();
        let available = now + Duration::from_std(delay).unwrap_or_else(|_| Duration::minutes(15));
        self.with(move |conn| Ok(row.insert(conn, &time(now), &time(available))?))
            .await
            .map_err(|e| QueueError(e.to_string()))
    }
}

impl Database {
    /// Takes the job available first, leasing it for `lease`.
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Claimed>, DatabaseError> {
        self.claim_beside(now, lease, &[], 1, &[]).await
    }

    /// Takes the job available first that may run beside those
    /// `underway` (`claim_sql`), leasing it for `lease`; in the same
    /// transaction, deletes the jobs `done` since the last claim.
    pub(crate) async fn claim_beside(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        underway: &[Underway],
        per_channel: usize,
        done: &[i64],
    ) -> Result<Option<Claimed>, DatabaseError> {
        let (sql, params) = claim_sql(time(now), underway, per_channel);
        let done = done.to_vec();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            delete(&tx, &done)?;
            let row = tx
                .query_row_cached(&sql, params_from_iter(params), |r| {
                    Ok((
                        r.get(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u32>(2)?,
                        r.get(3)?,
                    ))
                })
                .optional()?;
            let Some((id, job, attempts, customer)) = row else {
                tx.commit()?;
                return Ok(None);
            };
            tx.execute_cached(
                "UPDATE queue SET attempts = attempts + 1, available_at = ?2 WHERE id = ?1",
                params![id, time(now + lease)],
            )?;
            tx.commit()?;
            Ok(Some(Claimed {
                id,
                attempts: attempts + 1,
                customer,
                job: serde_json::from_str(&job).ok(),
            }))
        })
        .await
    }

    /// Deletes the jobs handled.
    pub async fn complete(&self, done: &[i64]) -> Result<(), DatabaseError> {
        if done.is_empty() {
            return Ok(());
        }
        let done = done.to_vec();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            delete(&tx, &done)?;
            Ok(tx.commit()?)
        })
        .await
    }

    /// Records a failure: the job comes back after a backoff, or becomes a
    /// dead letter after `MAX_ATTEMPTS`.
    pub async fn fail(
        &self,
        claimed: &Claimed,
        error: String,
        now: DateTime<Utc>,
    ) -> Result<(), DatabaseError> {
        let (id, attempts) = (claimed.id, claimed.attempts);
        let dead = claimed.job.is_none() || attempts >= MAX_ATTEMPTS;
        let backoff = Duration::seconds(5 * 2i64.pow(attempts.min(10)));
        self.with(move |conn| {
            conn.execute_cached(
                "UPDATE queue SET last_error = ?2, dead = ?3, available_at = ?4 WHERE id = ?1",
                params![id, error, dead, time(now + backoff)],
            )?;
            Ok(())
        })
        .await
    }

    /// Makes every leased job available again, and ends every attempt's
    /// lease on an acknowledgement. Called at start: this process is the
    /// only consumer and the only sender, so a lease still running belongs
    /// to one that died, and its acknowledgement goes out now rather than
    /// when the lease would have run out.
    pub async fn release_leases(&self) -> Result<usize, DatabaseError> {
        let now = time(self.now());
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let jobs = tx.execute_cached(
                "UPDATE queue SET available_at = ?1 WHERE dead = 0 AND attempts > 0",
                [&now],
            )?;
            // Run out, not removed: the claim rule lets the next attempt
            // through only after a lease that ended (delivery::claim).
            tx.execute_cached(
                "UPDATE messages SET ack_leased_until = ?1 WHERE ack_leased_until > ?1",
                [&now],
            )?;
            tx.commit()?;
            Ok(jobs)
        })
        .await
    }

    /// Puts every dead letter back on the queue, due now, with its
    /// attempts counted afresh: once their cause is fixed, they go through.
    /// How many.
    pub async fn requeue_dead(&self) -> Result<usize, DatabaseError> {
        let now = time(self.now());
        self.with(move |conn| {
            Ok(conn.execute_cached(
                "UPDATE queue SET dead = 0, attempts = 0, available_at = ?1 WHERE dead = 1",
                [&now],
            )?)
        })
        .await
    }

    pub async fn queue_stats(&self) -> Result<QueueStats, DatabaseError> {
        self.with(|conn| {
            Ok(conn.query_row_cached(
                "SELECT coalesce(sum(dead = 0), 0), coalesce(sum(dead = 1), 0) FROM queue",
                [],
                |r| {
                    Ok(QueueStats {
                        waiting: r.get(0)?,
                        dead: r.get(1)?,
                    })
                },
            )?)
        })
        .await
    }

    /// Waits until a job is enqueued by this process (or `max` elapses:
    /// another process may have written to the same file).
    pub async fn wait_for_jobs(&self, max: std::time::Duration) {
        let _ = tokio::time::timeout(max, self.enqueued.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00.000000Z";

    fn underway(channel: Channel, customer: Option<&str>) -> Underway {
        Underway {
            channel,
            customer: customer.map(str::to_string),
        }
    }

    /// However long the backlog, a claim reads an index in its order and
    /// stops at the first job: it never sorts what waits, and never walks
    /// past a full channel's jobs.
    #[test]
    fn a_claim_walks_the_index_and_sorts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("accueil.db")).unwrap();
        let conn = database.connection.lock().unwrap();
        let plan = |underway: &[Underway]| -> Vec<String> {
            let (sql, params) = claim_sql(NOW.to_string(), underway, 2);
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(params_from_iter(params), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let idle = plan(&[]).join(" / ");
        assert!(idle.contains("USING INDEX queue_by_availability"), "{idle}");
        assert!(!idle.contains("TEMP B-TREE"), "{idle}");

        // WhatsApp full, Telegram with room beside one customer.
        let busy = plan(&[
            underway(Channel::Whatsapp, Some("from:a")),
            underway(Channel::Whatsapp, Some("from:b")),
            underway(Channel::Telegram, Some("from:c")),
        ]);
        let searches: Vec<&String> = busy
            .iter()
            .filter(|step| {
                step.contains(
                    "USING INDEX queue_by_channel (dead=? AND channel=? AND available_at<?)",
                )
            })
            .collect();
        // Each channel but WhatsApp, and the jobs of none.
        assert_eq!(searches.len(), Channel::ALL.len() - 1 + 1, "{busy:?}");
        assert!(
            !busy.iter().any(|step| step.starts_with("SCAN queue")),
            "{busy:?}"
        );
    }

    /// Which queued job the next claim takes, beside those under way.
    fn next(conn: &Connection, underway: &[Underway], per_channel: usize) -> Option<i64> {
        let (sql, params) = claim_sql(NOW.to_string(), underway, per_channel);
        conn.query_row(&sql, params_from_iter(params), |r| r.get(0))
            .optional()
            .unwrap()
    }

    #[test]
    fn a_claim_takes_another_customer_and_waits_behind_a_job_of_none() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("accueil.db")).unwrap();
        let conn = database.connection.lock().unwrap();
        let queued = [
            ("whatsapp", Some("from:a")),
            ("whatsapp", Some("from:a")),
            ("whatsapp", Some("from:b")),
            ("whatsapp", None),
            ("whatsapp", Some("from:c")),
            ("telegram", Some("from:d")),
        ];
        for (channel, customer) in queued {
            let row = Row {
                job: "{}".into(),
                channel,
                customer: customer.map(str::to_string),
            };
            row.insert(&conn, NOW, NOW).unwrap();
        }
        let (wa, tg) = (Channel::Whatsapp, Channel::Telegram);
        assert_eq!(next(&conn, &[], 8), Some(1));
        // A's second message waits for its first; B's goes ahead.
        assert_eq!(next(&conn, &[underway(wa, Some("from:a"))], 8), Some(3));
        // The job of no customer is next on WhatsApp: it waits for A and B,
        // and C's behind it waits too; Telegram goes on.
        let ab = [underway(wa, Some("from:a")), underway(wa, Some("from:b"))];
        assert_eq!(next(&conn, &ab, 8), Some(6));
        let abd = [ab[0].clone(), ab[1].clone(), underway(tg, Some("from:d"))];
        assert_eq!(next(&conn, &abd, 8), None);
        // A full channel waits; a job of no customer runs alone.
        assert_eq!(next(&conn, &[underway(wa, Some("from:x"))], 1), Some(6));
        assert_eq!(next(&conn, &[underway(wa, None)], 8), Some(6));
        conn.execute("DELETE FROM queue WHERE id <= 3", []).unwrap();
        assert_eq!(next(&conn, &[underway(tg, Some("from:d"))], 8), Some(4));
    }
}
