//! Which queues hold mail, kept in memory beside the SQLite database.
//!
//! A client asks "which of my 2,000 queues have mail?" on every sync
//! ([`RelayStore::pending`](super::RelayStore::pending)). Probing the database's index
//! once per listed id costs about a microsecond each, which made an idle sync grow with
//! the number of conversations; a hash-set lookup costs a few dozen nanoseconds.
//!
//! The set is loaded from the database when the store opens and changed only by the
//! writer, after its transaction has committed, and before any caller of that commit
//! is answered (so a client told "delivered", or pushed "new mail", finds the queue in
//! the set). It only ever errs towards "has mail" for a moment: between a commit that
//! empties a queue and the update below, a client may fetch a queue and find nothing.
//! It holds receive ids that the database already holds, and nothing else.

use std::collections::HashSet;
use std::sync::RwLock;

use satchel_core::ReceiveId;

/// A change one write makes, applied after its transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MailChange {
    /// The queue now holds at least one message.
    Filled(ReceiveId),
    /// The queue is now empty, or gone.
    Emptied(ReceiveId),
}

/// The set of receive ids whose queue holds at least one message.
#[derive(Debug, Default)]
pub(crate) struct MailIndex {
    with_mail: RwLock<HashSet<[u8; 16]>>,
}

impl MailIndex {
    /// An index holding exactly `ids`.
    pub(crate) fn new(ids: impl IntoIterator<Item = ReceiveId>) -> Self {
        Self {
            with_mail: RwLock::new(ids.into_iter().map(|id| *id.as_bytes()).collect()),
        }
    }

    /// Applies the changes of one committed transaction, in order.
    pub(crate) fn apply(&self, changes: &[MailChange]) {
        if changes.is_empty() {
            return;
        }
        // A poisoned lock means a panic while holding it; the set itself is still a
        // valid set, and a wrong entry only costs one empty fetch.
        let mut set = self
            .with_mail
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for change in changes {
            match change {
                MailChange::Filled(id) => {
                    set.insert(*id.as_bytes());
                }
                MailChange::Emptied(id) => {
                    set.remove(id.as_bytes());
                }
            }
        }
    }

    /// Those of `ids` whose queue holds mail, in the order given.
    pub(crate) fn pending(&self, ids: &[ReceiveId]) -> Vec<ReceiveId> {
        let set = self
            .with_mail
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.iter()
            .filter(|id| set.contains(id.as_bytes()))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ReceiveId {
        ReceiveId::from_bytes([n; 16])
    }

    #[test]
    fn changes_apply_in_order() {
        let index = MailIndex::new([id(1)]);
        index.apply(&[
            MailChange::Filled(id(2)),
            MailChange::Emptied(id(1)),
            MailChange::Filled(id(3)),
            MailChange::Emptied(id(3)),
        ]);
        assert_eq!(index.pending(&[id(1), id(2), id(3), id(4)]), vec![id(2)]);
    }

    #[test]
    fn pending_keeps_the_callers_order_and_duplicates() {
        let index = MailIndex::new([id(1), id(2)]);
        assert_eq!(
            index.pending(&[id(2), id(9), id(1), id(2)]),
            vec![id(2), id(1), id(2)]
        );
    }
}
