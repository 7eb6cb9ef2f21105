//! Group commit for ingest: the jobs of webhooks that arrive while the
//! database is busy are committed together, one sync of the log for all of
//! them, and each caller learns how its own batch fared. Under a provider's
//! replay, dozens of webhooks then cost one sync instead of one each.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::Connection;

use crate::queue::Row;

/// A job's row and when it was queued: available from then.
pub(crate) type Arrival = (Row, String);

#[derive(Default)]
pub(crate) struct Arrivals(Mutex<State>);

#[derive(Default)]
struct State {
    /// Rows waiting for the next commit: the open batch's.
    rows: Vec<Arrival>,
    /// The open batch; those before it are settled, in order.
    open: u64,
    /// Callers with rows in the open batch.
    callers: usize,
    /// Batches whose commit failed, with how many of their callers have
    /// not been told yet.
    failed: HashMap<u64, (String, usize)>,
}

impl Arrivals {
    /// Adds a caller's rows to the open batch; that batch.
    pub(crate) fn join(&self, rows: Vec<Arrival>) -> u64 {
        let mut state = self.0.lock().unwrap();
        state.rows.extend(rows);
        state.callers += 1;
        state.open
    }

    /// With the connection held: commits the open batch if `batch` is still
    /// it (and so every row that joined it), else reads how it fared.
    /// Batches settle one at a time, in order, under the connection's lock.
    pub(crate) fn settle(&self, conn: &mut Connection, batch: u64) -> Result<(), String> {
        let mut state = self.0.lock().unwrap();
        if batch == state.open {
            let rows = std::mem::take(&mut state.rows);
            let others = std::mem::take(&mut state.callers) - 1;
            state.open += 1;
            drop(state);
            let committed = commit(conn, rows).map_err(|e| e.to_string());
            if let Err(e) = &committed {
                if others > 0 {
                    self.0
                        .lock()
                        .unwrap()
                        .failed
                        .insert(batch, (e.clone(), others));
                }
            }
            return committed;
        }
        match state.failed.get_mut(&batch) {
            None => Ok(()),
            Some((error, untold)) => {
                let error = error.clone();
                *untold -= 1;
                if *untold == 0 {
                    state.failed.remove(&batch);
                }
                Err(error)
            }
        }
    }
}

/// One transaction, on disk when it returns: the provider is told 200
/// after this, so its commit syncs the log (and every commit before it).
fn commit(conn: &mut Connection, rows: Vec<Arrival>) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    let inserted = (|| {
        let tx = conn.transaction()?;
        for (row, at) in rows {
            row.insert(&tx, &at, &at)?;
        }
        tx.commit()
    })();
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    inserted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u32) -> Arrival {
        (
            Row {
                job: format!("{{\"n\":{n}}}"),
                channel: "whatsapp",
                customer: Some(format!("from:phone:+336{n:08}")),
            },
            "2026-01-01T00:00:00.000000Z".into(),
        )
    }

    fn connection(with_queue: bool) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        if with_queue {
            conn.execute_batch(
                "CREATE TABLE queue (id INTEGER PRIMARY KEY, job TEXT, channel TEXT, customer TEXT, enqueued_at TEXT, available_at TEXT)",
            )
            .unwrap();
        }
        conn
    }

    #[test]
    fn callers_arriving_together_are_committed_together_and_each_told() {
        let arrivals = Arrivals::default();
        let mut conn = connection(true);
        let batches: Vec<u64> = (0..3).map(|n| arrivals.join(vec![row(n)])).collect();
        assert_eq!(batches, [0, 0, 0]);
        assert_eq!(arrivals.settle(&mut conn, 0), Ok(()));
        // A later arrival starts the next batch.
        assert_eq!(arrivals.join(vec![row(3)]), 1);
        let rows: u32 = conn
            .query_row("SELECT count(*) FROM queue", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3, "one commit for the three");
        assert_eq!(arrivals.settle(&mut conn, 0), Ok(()));
        assert_eq!(arrivals.settle(&mut conn, 0), Ok(()));
        assert_eq!(arrivals.settle(&mut conn, 1), Ok(()));
    }

    #[test]
    fn every_caller_of_a_batch_that_failed_is_told_so() {
        let arrivals = Arrivals::default();
        let mut conn = connection(false);
        for n in 0..3 {
            arrivals.join(vec![row(n)]);
        }
        for _ in 0..3 {
            let told = arrivals.settle(&mut conn, 0);
            assert!(told.unwrap_err().contains("no such table"));
        }
        assert!(arrivals.0.lock().unwrap().failed.is_empty());
    }
}
