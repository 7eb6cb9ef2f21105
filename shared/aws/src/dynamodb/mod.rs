//! The thread store on one DynamoDB table. The design — every item, key and
//! access pattern — is in `TABLE.md` beside this crate.

mod acknowledgement;
mod item;
mod schema;
mod store;
mod thread;

pub use schema::{create_table, GSI_STATUS};
pub use store::DynamoStore;
