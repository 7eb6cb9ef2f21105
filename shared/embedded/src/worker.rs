//! The local equivalent of SQS feeding the process function: a loop that
//! claims jobs from the SQLite queue and hands them to the processor.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use accueil_core::process::Processor;

use crate::Database;

/// How long a claimed job stays hidden; longer than any processing takes.
const LEASE_SECONDS: i64 = 60;
/// How often to look for jobs another process wrote to the file.
const POLL: Duration = Duration::from_millis(500);

/// Runs until `stop` turns true. Jobs left when it stops stay queued.
pub async fn run(database: Database, processor: Arc<Processor>, mut stop: watch::Receiver<bool>) {
    match database.release_leases().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            jobs = n,
            "jobs interrupted by an earlier stop are queued again"
        ),
        Err(e) => tracing::error!(error = %e, "could not release old leases"),
    }
    loop {
        if *stop.borrow() {
            return;
        }
        match drain_one(&database, &processor).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "queue unavailable"),
        }
        tokio::select! {
            _ = database.wait_for_jobs(POLL) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Handles one job if there is one; true if it did.
pub async fn drain_one(
    database: &Database,
    processor: &Processor,
) -> Result<bool, crate::DatabaseError> {
    let Some(claimed) = database
        .claim(Utc::now(), chrono::Duration::seconds(LEASE_SECONDS))
        .await?
    else {
        return Ok(false);
    };
    let Some(job) = &claimed.job else {
        tracing::error!(
            queue_id = claimed.id,
            "unreadable job set aside as a dead letter"
        );
        database
            .fail(&claimed, "unreadable job".into(), Utc::now())
            .await?;
        return Ok(true);
    };
    match processor.handle(job).await {
        Ok(_) => database.complete(claimed.id).await?,
        Err(e) => {
            tracing::warn!(queue_id = claimed.id, attempts = claimed.attempts, error = %e, "job failed; will retry");
            database.fail(&claimed, e.to_string(), Utc::now()).await?;
        }
    }
    Ok(true)
}

/// Handles every job available now; for `accueil` commands and tests.
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
