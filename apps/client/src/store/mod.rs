//! The client's durable store.

mod schema;
mod sqlite;

pub use sqlite::{MessageRecord, SqliteStore, StoreError};
