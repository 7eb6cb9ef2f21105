//! Accueil on one machine: a SQLite file holds the threads and the durable
//! queue, and acknowledgements and digests land as files in an outbox.

mod arrivals;
mod database;
mod outbox;
mod queue;
mod schema;
mod store;
pub mod worker;

pub use database::{Database, DatabaseError};
pub use outbox::Outbox;
pub use queue::{Claimed, QueueStats};
