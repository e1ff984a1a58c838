//! Message keys kept for messages that have not arrived yet (out of order or lost).
//!
//! Keys are grouped by receiving chain (its header key and *epoch*, the count of
//! receiving DH steps). The store is bounded twice:
//! * at most [`super::RatchetConfig::max_skipped_keys`] keys in all: when full, the
//!   oldest keys are evicted first;
//! * at most [`super::RatchetConfig::max_skipped_chains`] chains: keys of older chains
//!   expire.
//!
//! A chain's header key is kept (for as long as the chain is one of the newest
//! `max_skipped_chains`) even when none of its keys is left, so that a duplicate of an
//! old message is still recognised and reported as a duplicate. A message whose key was
//! evicted from a kept chain is reported as a duplicate too (the two look alike); one from
//! an expired chain cannot be recognised at all and fails like a forgery.

use std::collections::VecDeque;

use super::header::{Header, HeaderKey};
use crate::crypto::secret::Secret32;

pub(crate) struct SkippedChain {
    pub(crate) header_key: HeaderKey,
    pub(crate) epoch: u64,
    /// Ascending by index.
    pub(crate) keys: Vec<(u32, Secret32)>,
}

/// The bounded store; chains ordered oldest first.
#[derive(Default)]
pub(crate) struct SkippedKeys {
    pub(crate) chains: VecDeque<SkippedChain>,
}

impl SkippedKeys {
    pub(crate) fn len(&self) -> usize {
        self.chains.iter().map(|c| c.keys.len()).sum()
    }

    /// Finds the chain whose header key decrypts `encrypted_header`, newest first.
    pub(crate) fn find_header(
        &self,
        encrypted_header: &[u8],
        aad: &[u8],
        except: Option<&HeaderKey>,
    ) -> Option<(usize, Header)> {
        self.chains
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, chain)| Some(&chain.header_key) != except)
            .find_map(|(position, chain)| {
                Header::decrypt(&chain.header_key, encrypted_header, aad)
                    .map(|header| (position, header))
            })
    }

    /// The position of the chain with this epoch, if it is recorded.
    pub(crate) fn chain_for_epoch(&self, epoch: u64) -> Option<usize> {
        self.chains.iter().position(|chain| chain.epoch == epoch)
    }

    pub(crate) fn key(&self, chain: usize, index: u32) -> Option<&Secret32> {
        let chain = self.chains.get(chain)?;
        let found = chain.keys.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        chain.keys.get(found).map(|(_, key)| key)
    }

    pub(crate) fn remove(&mut self, chain: usize, index: u32) {
        if let Some(stored) = self.chains.get_mut(chain) {
            stored.keys.retain(|(i, _)| *i != index);
        }
    }

    /// Adds keys skipped in the chain (`header_key`, `epoch`), then enforces both bounds.
    pub(crate) fn insert(
        &mut self,
        header_key: &HeaderKey,
        epoch: u64,
        keys: Vec<(u32, Secret32)>,
        max_keys: usize,
        max_chains: usize,
    ) {
        match self.chains.iter_mut().find(|chain| chain.epoch == epoch) {
            Some(chain) => {
                chain.keys.extend(keys);
                chain.keys.sort_by_key(|(index, _)| *index);
            }
            None => {
                self.chains.push_back(SkippedChain {
                    header_key: header_key.clone(),
                    epoch,
                    keys,
                });
                self.chains
                    .make_contiguous()
                    .sort_by_key(|chain| chain.epoch);
            }
        }
        while self.chains.len() > max_chains {
            self.chains.pop_front();
        }
        let mut excess = self.len().saturating_sub(max_keys);
        while excess > 0 {
            let Some(oldest) = self.chains.iter_mut().find(|chain| !chain.keys.is_empty()) else {
                break;
            };
            let drop = excess.min(oldest.keys.len());
            oldest.keys.drain(..drop);
            excess -= drop;
        }
    }
}
