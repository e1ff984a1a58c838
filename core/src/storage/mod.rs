//! Persistence: storage traits, an in-memory implementation, encrypted export, and the
//! receive/send logic that works over any store.

pub mod export;
pub mod memory;
pub mod protocol;
pub mod receive;
pub mod traits;
