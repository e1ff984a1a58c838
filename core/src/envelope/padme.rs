//! Padmé padding (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
//! Communication with PURBs", PETS 2019).
//!
//! A length `L` is rounded up so that only its top `⌊log2 ⌊log2 L⌋⌋ + 1` bits may be
//! non-zero. The overhead is at most about 12 % and the number of distinct padded
//! lengths up to `L` is `O(log log L)` per power of two, so a length leaks
//! `O(log log L)` bits instead of `O(log L)`.
//!
//! Plaintexts are padded with one `0x80` byte followed by zeros (ISO/IEC 7816-4), up to
//! `padme(max(len + 1, MIN_PADDED_LEN))`, so the marker always fits, unpadding is
//! unambiguous, and all short messages ("ok", "thanks") share one 32-byte bucket.

/// The Padmé length for `len` (lengths 0 and 1 are returned unchanged).
///
/// ```
/// use satchel_core::padme;
/// assert_eq!(padme(100), 104);
/// assert_eq!(padme(1025), 1088);
/// assert!(padme(65_537) - 65_537 < 65_537 / 8);
/// ```
#[must_use]
pub fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // ⌊log2 len⌋
    let s = u32::BITS - 1 - e.leading_zeros() + 1; // ⌊log2 e⌋ + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (len + mask) & !mask
}

/// The smallest padded length: every plaintext of up to 31 bytes pads to 32.
pub const MIN_PADDED_LEN: usize = 32;

/// The padded length of a plaintext of `len` bytes (marker byte included).
#[must_use]
pub fn padded_len(len: usize) -> usize {
    padme(len.saturating_add(1).max(MIN_PADDED_LEN))
}

/// Appends `plaintext || 0x80 || 0x00…` padded to [`padded_len`].
pub(crate) fn pad_into(plaintext: &[u8], out: &mut Vec<u8>) {
    let target = padded_len(plaintext.len());
    out.reserve(target);
    out.extend_from_slice(plaintext);
    out.push(0x80);
    out.resize(out.len() + (target - plaintext.len() - 1), 0);
}

/// The padding marker was missing: the bytes were not produced by [`pad_into`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPadding;

/// Strips the padding added by [`pad_into`], in place.
pub(crate) fn unpad(buffer: &mut Vec<u8>) -> Result<(), BadPadding> {
    let marker = buffer.iter().rposition(|&b| b != 0).ok_or(BadPadding)?;
    if buffer.get(marker) != Some(&0x80) {
        return Err(BadPadding);
    }
    buffer.truncate(marker);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
mod tests {
    use super::*;

    #[test]
    fn padme_matches_the_paper_definition() {
        // Straight transcription of the paper's pseudocode, with floating-point logs.
        for len in 2usize..5_000 {
            let e = (len as f64).log2().floor() as u32;
            let s = (e as f64).log2().floor() as u32 + 1;
            let mask = (1usize << (e - s)) - 1;
            assert_eq!(padme(len), (len + mask) & !mask, "len {len}");
        }
    }

    #[test]
    fn padme_bounds_overhead_and_is_monotone() {
        let mut previous = 0;
        for len in 0usize..200_000 {
            let padded = padme(len);
            assert!(padded >= len);
            assert!(padded >= previous);
            if len >= 16 {
                assert!((padded - len) * 8 <= len, "len {len} padded {padded}");
            }
            previous = padded;
        }
    }

    #[test]
    fn pad_round_trips_and_rejects_garbage() {
        for len in 0..300 {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            let mut buffer = Vec::new();
            pad_into(&plaintext, &mut buffer);
            assert_eq!(buffer.len(), padme((len + 1).max(MIN_PADDED_LEN)));
            unpad(&mut buffer).unwrap();
            assert_eq!(buffer, plaintext);
        }
        assert_eq!(unpad(&mut vec![0, 0, 0]), Err(BadPadding));
        assert_eq!(unpad(&mut vec![]), Err(BadPadding));
        assert_eq!(unpad(&mut vec![1, 2, 0x81]), Err(BadPadding));
    }
}
