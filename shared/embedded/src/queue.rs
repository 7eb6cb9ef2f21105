//! The durable queue on SQLite. A job is committed before ingest answers
//! the provider, and deleted only after process has handled it: a crash in
//! between means it is handled again, which processing's idempotence allows.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};

use accueil_core::domain::Channel;
use accueil_core::ports::{Job, Queue, QueueError};

use crate::database::{time, Database, DatabaseError};

/// After this many failed attempts a job is set aside as a dead letter.
pub const MAX_ATTEMPTS: u32 = 5;

/// A job taken from the queue, hidden from other claims until its lease ends.
#[derive(Debug)]
pub struct Claimed {
    pub id: i64,
    pub attempts: u32,
    /// None when the stored job can no longer be read (a newer format, a
    /// corrupted row): it is dead-lettered, never dropped.
    pub job: Option<Job>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub waiting: u64,
    pub dead: u64,
}

/// The job available first, leaving the `busy` channels' jobs where they
/// are. With none busy, one step down `queue_by_availability`; with some,
/// one step down `queue_by_channel` for each other channel (and for the
/// jobs of none), then the earliest of those few: never a walk past the
/// busy channels' backlog, however long.
fn claim_sql(busy: &[Channel]) -> String {
    if busy.is_empty() {
        return "SELECT id, job, attempts FROM queue WHERE dead = 0 AND available_at <= ?1 \
                ORDER BY available_at, id LIMIT 1"
            .to_string();
    }
    // Names from the registry, never from outside: safe to inline.
    let firsts: Vec<String> = Channel::ALL
        .iter()
        .filter(|c| !busy.contains(c))
        .map(|c| format!("channel = '{}'", c.as_str()))
        .chain(["channel IS NULL".to_string()])
        .map(|which| {
            format!(
                "SELECT * FROM (SELECT id, job, attempts, available_at FROM queue \
                 WHERE dead = 0 AND {which} AND available_at <= ?1 ORDER BY available_at, id LIMIT 1)"
            )
        })
        .collect();
    format!(
        "SELECT id, job, attempts FROM ({}) ORDER BY available_at, id LIMIT 1",
        firsts.join(" UNION ALL ")
    )
}

const INSERT: &str =
    "INSERT INTO queue (job, channel, enqueued_at, available_at) VALUES (?1, ?2, ?3, ?4)";

/// A job as a row: its JSON and its channel.
fn row(job: &Job) -> (String, &'static str) {
    let json = serde_json::to_string(job).expect("jobs serialize");
    (json, job.channel().as_str())
}

#[async_trait]
impl Queue for Database {
    async fn enqueue(&self, jobs: &[Job]) -> Result<(), QueueError> {
        let now = time(self.now());
        let rows = jobs
            .iter()
            .map(|job| {
                let (json, channel) = row(job);
                (json, channel, now.clone())
            })
            .collect();
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
        let (job, channel) = row(job);
        let now = self.now();
        let available = now + Duration::from_std(delay).unwrap_or_else(|_| Duration::minutes(15));
        self.with(move |conn| {
            conn.execute(INSERT, params![job, channel, time(now), time(available)])?;
            Ok(())
        })
        .await
        .map_err(|e| QueueError(e.to_string()))
    }
}

impl Database {
    /// Takes the job available first, leasing it for `lease`, leaving the
    /// jobs of the `busy` channels where they are.
    pub async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        busy: &[Channel],
    ) -> Result<Option<Claimed>, DatabaseError> {
        let sql = claim_sql(busy);
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let row: Option<(i64, String, u32)> = tx
                .query_row(&sql, [time(now)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((id, job, attempts)) = row else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE queue SET attempts = attempts + 1, available_at = ?2 WHERE id = ?1",
                params![id, time(now + lease)],
            )?;
            tx.commit()?;
            Ok(Some(Claimed {
                id,
                attempts: attempts + 1,
                job: serde_json::from_str(&job).ok(),
            }))
        })
        .await
    }

    pub async fn complete(&self, id: i64) -> Result<(), DatabaseError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM queue WHERE id = ?1", [id])?;
            Ok(())
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
            conn.execute(
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
            let jobs = tx.execute(
                "UPDATE queue SET available_at = ?1 WHERE dead = 0 AND attempts > 0",
                [&now],
            )?;
            // Run out, not removed: the claim rule lets the next attempt
            // through only after a lease that ended (delivery::claim).
            tx.execute(
                "UPDATE messages SET ack_leased_until = ?1 WHERE ack_leased_until > ?1",
                [&now],
            )?;
            tx.commit()?;
            Ok(jobs)
        })
        .await
    }

    pub async fn queue_stats(&self) -> Result<QueueStats, DatabaseError> {
        self.with(|conn| {
            Ok(conn.query_row(
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

    /// However long the backlog, a claim reads an index in its order and
    /// stops at the first job: it never sorts what waits, and never walks
    /// past a busy channel's jobs.
    #[test]
    fn a_claim_walks_the_index_and_sorts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(&dir.path().join("accueil.db")).unwrap();
        let conn = database.connection.lock().unwrap();
        let plan = |busy: &[Channel]| -> Vec<String> {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {}", claim_sql(busy)))
                .unwrap()
                .query_map(["2026-01-01T00:00:00.000000Z"], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let idle = plan(&[]).join(" / ");
        assert!(idle.contains("USING INDEX queue_by_availability"), "{idle}");
        assert!(!idle.contains("TEMP B-TREE"), "{idle}");

        let busy = plan(&[Channel::Whatsapp, Channel::Telegram]);
        let searches: Vec<&String> = busy
            .iter()
            .filter(|step| {
                step.contains(
                    "USING INDEX queue_by_channel (dead=? AND channel=? AND available_at<?)",
                )
            })
            .collect();
        // Each other channel, and the jobs of none.
        assert_eq!(searches.len(), Channel::ALL.len() - 2 + 1, "{busy:?}");
        assert!(
            !busy.iter().any(|step| step.starts_with("SCAN queue")),
            "{busy:?}"
        );
    }
}
