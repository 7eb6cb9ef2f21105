//! The local equivalent of SQS feeding the process function: a loop that
//! claims jobs from the SQLite queue and hands them to the processor, the
//! channels side by side, so that one slow channel never holds up the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{self, JoinSet};

use accueil_core::domain::Channel;
use accueil_core::process::Processor;

use crate::queue::Claimed;
use crate::Database;

/// How long a claimed job stays hidden; longer than any processing takes.
const LEASE_SECONDS: i64 = 60;
/// How often to look for jobs another process wrote to the file.
const POLL: Duration = Duration::from_millis(500);

/// The jobs under way, at most one of each channel: a channel whose API
/// hangs keeps only its own jobs waiting, and a customer's burst of
/// messages stays in order, each deciding its acknowledgement after the
/// one before was stored (the quiet period holds).
#[derive(Default)]
struct Running {
    tasks: JoinSet<()>,
    channels: HashMap<task::Id, Channel>,
}

impl Running {
    /// The channels with a job under way: their jobs wait on the queue.
    fn busy(&self) -> Vec<Channel> {
        self.channels.values().copied().collect()
    }

    fn spawn(
        &mut self,
        channel: Channel,
        job: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let id = self.tasks.spawn(job).id();
        self.channels.insert(id, channel);
    }

    /// Forgets a finished task, whether it ended or panicked.
    fn finished(&mut self, done: Result<(task::Id, ()), task::JoinError>) {
        let id = match done {
            Ok((id, ())) => id,
            // A job that panicked stays leased, and is tried again after a restart.
            Err(e) => {
                tracing::error!(error = %e, "a job stopped unexpectedly");
                e.id()
            }
        };
        self.channels.remove(&id);
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
            return;
        }
        match claim(&database, &running.busy()).await {
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

async fn claim(
    database: &Database,
    busy: &[Channel],
) -> Result<Option<Claimed>, crate::DatabaseError> {
    database
        .claim(
            database.now(),
            chrono::Duration::seconds(LEASE_SECONDS),
            busy,
        )
        .await
}

/// Runs the claimed job beside the other channels' jobs.
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
    let (database, processor) = (database.clone(), processor.clone());
    running.spawn(channel, async move {
        if let Err(e) = handle(&database, &processor, &claimed).await {
            tracing::error!(error = %e, "queue unavailable");
        }
    });
}

/// Handles one claimed job: done, or back on the queue after a backoff.
async fn handle(
    database: &Database,
    processor: &Processor,
    claimed: &Claimed,
) -> Result<(), crate::DatabaseError> {
    let Some(job) = &claimed.job else {
        tracing::error!(
            queue_id = claimed.id,
            "unreadable job set aside as a dead letter"
        );
        return database
            .fail(claimed, "unreadable job".into(), database.now())
            .await;
    };
    match processor.handle(job).await {
        Ok(_) => database.complete(claimed.id).await,
        Err(e) => {
            tracing::warn!(queue_id = claimed.id, attempts = claimed.attempts, error = %e, "job failed; will retry");
            database.fail(claimed, e.to_string(), database.now()).await
        }
    }
}

/// Handles one job if there is one; true if it did.
pub async fn drain_one(
    database: &Database,
    processor: &Processor,
) -> Result<bool, crate::DatabaseError> {
    let Some(claimed) = claim(database, &[]).await? else {
        return Ok(false);
    };
    handle(database, processor, &claimed).await?;
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
