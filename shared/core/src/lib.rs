//! Accueil's core: the domain, the channels, the acknowledgement policy, the
//! digest and the ports. It knows nothing of AWS or SQLite; adapters
//! implement `ports` and the binaries wire them together.

pub mod ack;
pub mod channels;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod domain;
pub mod email;
pub mod hours;
pub mod ingest;
pub mod outbound;
pub mod owner;
pub mod ports;
pub mod process;
pub mod webhook;
pub mod wording;
