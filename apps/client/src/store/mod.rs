//! The client's durable store.

mod schema;
mod sqlite;

pub use sqlite::{ContactRecord, MessageRecord, SqliteStore, StoreError};
