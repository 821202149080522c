//! Stable hashes: the same value in every build, on every machine and after every
//! restart (unlike std's `DefaultHasher`), for anything that is persisted or must route
//! the same way across restarts (stream lanes, message ids, partition spreading).
//!
//! Owns: FNV-1a. Not for adversarial input (no keyed hashing here).

const OFFSET_BASIS_64: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME_64: u64 = 0x0100_0000_01b3;
const OFFSET_BASIS_128: u128 = 0x6c62272e07bb014262b821756295c58d;
const PRIME_128: u128 = 0x0000000001000000000000000000013b;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(OFFSET_BASIS_64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(PRIME_64)
    })
}

/// 128-bit FNV-1a over length-prefixed parts, so that `("ab", "c")` and `("a", "bc")`
/// differ.
pub fn fnv1a_128(parts: &[&[u8]]) -> u128 {
    let mut hash = OFFSET_BASIS_128;
    for part in parts {
        let len = (part.len() as u64).to_le_bytes();
        for byte in len.iter().chain(part.iter()) {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(PRIME_128);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Published FNV-1a test vectors.
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
        assert_ne!(fnv1a_128(&[b"ab", b"c"]), fnv1a_128(&[b"a", b"bc"]));
    }
}
