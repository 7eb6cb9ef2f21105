//! The local equivalent of SQS feeding the process function: a loop that
//! claims jobs from the SQLite queue and hands them to the processor, the
//! channels side by side, so that one slow channel never holds up the
//! others, and a few customers of each channel at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{self, JoinSet};

use accueil_core::process::Processor;

use crate::queue::{Claimed, Underway};
use crate::Database;

/// How long a claimed job stays hidden; longer than any processing takes.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// How often to look for jobs another process wrote to the file.
const POLL: Duration = Duration::from_millis(500);
/// How many jobs of one channel run at once. While a job waits for its
/// channel's API, the others use the database: a replay from thousands of
/// customers drained about 1.3 times faster than one at a time
/// (bench/README.md). A channel whose API hangs holds this many jobs, and
/// none of another channel's.
const PER_CHANNEL: usize = 8;

/// The jobs under way, at most `PER_CHANNEL` of a channel and one of a
/// customer: a customer's burst of messages stays in order, each deciding
/// its acknowledgement after the one before was stored (the quiet period
/// holds).
#[derive(Default)]
struct Running {
    tasks: JoinSet<Option<i64>>,
    underway: HashMap<task::Id, Underway>,
    /// Jobs handled whose rows the next claim deletes, in its transaction.
    done: Vec<i64>,
}

impl Running {
    /// What runs: its kin wait on the queue.
    fn underway(&self) -> Vec<Underway> {
        self.underway.values().cloned().collect()
    }

    fn spawn(
        &mut self,
        underway: Underway,
        job: impl std::future::Future<Output = Option<i64>> + Send + 'static,
    ) {
        let id = self.tasks.spawn(job).id();
        self.underway.insert(id, underway);
    }

    /// Forgets a finished task, whether it ended or panicked.
    fn finished(&mut self, done: Result<(task::Id, Option<i64>), task::JoinError>) {
        let id = match done {
            Ok((id, handled)) => {
                self.done.extend(handled);
                id
            }
            // A job that panicked stays leased, and is tried again after a restart.
            Err(e) => {
                tracing::error!(error = %e, "a job stopped unexpectedly");
                e.id()
            }
        };
        self.underway.remove(&id);
    }
}

/// Runs until `stop` turns true. Jobs left when it stops stay queued; those
/// under way are finished first.
pub async fn run(database: Database, processor: Arc<Processor>, mut stop: watch::Receiver<bool>) {
    match database.release_leases().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            jobs = n,
            "jobs interrupted by an earlier stop are queued again"
        ),
        Err(e) => tracing::error!(error = %e, "could not release old leases"),
    }
    let mut running = Running::default();
    loop {
        while let Some(done) = running.tasks.try_join_next_with_id() {
            running.finished(done);
        }
        if *stop.borrow() {
            while let Some(done) = running.tasks.join_next_with_id().await {
                running.finished(done);
            }
            if let Err(e) = database.complete(&running.done).await {
                tracing::error!(error = %e, "queue unavailable");
            }
            return;
        }
        let claimed = database
            .claim_beside(
                database.now(),
                LEASE,
                &running.underway(),
                PER_CHANNEL,
                &running.done,
            )
            .await;
        if claimed.is_ok() {
            running.done.clear();
        }
        match claimed {
            Ok(Some(claimed)) => {
                start(&database, &processor, claimed, &mut running).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "queue unavailable"),
        }
        tokio::select! {
            _ = database.wait_for_jobs(POLL) => {}
            Some(done) = running.tasks.join_next_with_id() => running.finished(done),
            _ = stop.changed() => {}
        }
    }
}

/// Runs the claimed job beside the others.
async fn start(
    database: &Database,
    processor: &Arc<Processor>,
    claimed: Claimed,
    running: &mut Running,
) {
    let Some(channel) = claimed.job.as_ref().map(|j| j.channel()) else {
        // Unreadable: set aside at once, nothing to run.
        if let Err(e) = handle(database, processor, &claimed).await {
            tracing::error!(error = %e, "queue unavailable");
        }
        return;
    };
    let underway = Underway {
        channel,
        customer: claimed.customer.clone(),
    };
    let (database, processor) = (database.clone(), processor.clone());
    running.spawn(underway, async move {
        match handle(&database, &processor, &claimed).await {
            Ok(handled) => handled,
            Err(e) => {
                tracing::error!(error = %e, "queue unavailable");
                None
            }
        }
    });
}

/// Handles one claimed job: its id once done, to be deleted (a crash
/// before that runs it again, which processing's idempotence allows), or
/// None when it is back on the queue after a backoff.
async fn handle(
    database: &Database,
    processor: &Processor,
    claimed: &Claimed,
) -> Result<Option<i64>, crate::DatabaseError> {
    let Some(job) = &claimed.job else {
        tracing::error!(
            queue_id = claimed.id,
            "unreadable job set aside as a dead letter"
        );
        database
            .fail(claimed, "unreadable job".into(), database.now())
            .await?;
        return Ok(None);
    };
    match processor.handle(job).await {
        Ok(_) => Ok(Some(claimed.id)),
        Err(e) => {
            tracing::warn!(queue_id = claimed.id, attempts = claimed.attempts, error = %e, "job failed; will retry");
            database
                .fail(claimed, e.to_string(), database.now())
                .await?;
            Ok(None)
        }
    }
}

/// Handles one job if there is one; true if it did.
pub async fn drain_one(
    database: &Database,
    processor: &Processor,
) -> Result<bool, crate::DatabaseError> {
    let Some(claimed) = database.claim(database.now(), LEASE).await? else {
        return Ok(false);
    };
    if let Some(done) = handle(database, processor, &claimed).await? {
        database.complete(&[done]).await?;
    }
    Ok(true)
}

/// Handles every job available now, one after the other; for `accueil`
/// commands and tests.
pub async fn drain(
    database: &Database,
    processor: &Processor,
) -> Result<usize, crate::DatabaseError> {
    let mut handled = 0;
    while drain_one(database, processor).await? {
        handled += 1;
    }
    Ok(handled)
}
