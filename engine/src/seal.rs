//! Encryption at rest: the one place where stored values are sealed before they reach
//! fjall and opened after they come back.
//!
//! With a key ([`SealKey`], 256 bits, given by `EngineConfig::seal_key`), every value the
//! engine writes to the `items` keyspace (items and index entries), the `streams`
//! keyspace (change records) and the `system` keyspace (other subsystems' records) is
//! sealed with AES-256-GCM, and so are the function store's files (`Seal::seal_bytes`): a fresh random 96-bit nonce per
//! value and the value's storage key as associated data, so a sealed value moved to
//! another key fails to open like a tampered one. A sealed value is
//!
//! ```text
//! [SEALED_TAG = 0xE5][nonce: 12 bytes][ciphertext][GCM tag: 16 bytes]
//! ```
//!
//! A clear value never starts with `0xE5` (items start with their codec's format
//! version 1, change records with their version 1 or 2, system records are JSON, text
//! or small big-endian counters, wasm starts with `\0asm`, compiled code with ELF's
//! `\x7f` and manifests with `{`), so a reader tells the two apart by the first byte
//! and a key added to a directory that was written without one still reads the old
//! clear values while sealing every new write. Keys stay in clear: their order is
//! the table's order, which Query, Scan and the stream's shards read by range.
//!
//! Random nonces bound how much one key should seal: below about 2^32 values the chance
//! of a repeated nonce (which would break GCM) stays negligible. Eddy has no key
//! rotation yet; the README says so.
//!
//! Without a key, [`Seal::seal`] and [`Seal::open`] hand the value back as it is (a
//! reference count, no copy), so the default path costs nothing. A directory that was
//! ever opened with a key holds a sealed check value in `meta` ([`CHECK_KEY`]):
//! [`Seal::check_directory`] refuses to open it without a key or with another key, so
//! no read ever meets a sealed value it cannot open.
//!
//! It owns the sealed format, the key file's format and the directory check; it must
//! not know which keyspace or operation a value belongs to.

use std::path::Path;
use std::sync::Arc;

use fjall::{Keyspace, Slice};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// The first byte of every sealed value.
pub const SEALED_TAG: u8 = 0xE5;
/// The key's length: AES-256.
pub const SEAL_KEY_BYTES: usize = 32;
/// GCM's authentication tag.
const AUTH_TAG_BYTES: usize = 16;
/// What sealing adds to a value: the format tag, the nonce and the authentication tag.
pub const SEAL_OVERHEAD_BYTES: usize = 1 + NONCE_LEN + AUTH_TAG_BYTES;
/// The `meta` key of the check value that says the directory is sealed, and with which
/// key.
pub(crate) const CHECK_KEY: &[u8] = b"seal_check";
/// The clear text of the check value.
const CHECK_TEXT: &[u8] = b"eddy sealed data directory, format 1";
/// The longest key file read: 64 hex digits and some whitespace.
const KEY_FILE_BYTES_MAX: u64 = 4096;

/// A 256-bit encryption key. Its `Debug` form never shows the key.
#[derive(Clone)]
pub struct SealKey(Arc<LessSafeKey>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

impl SealKey {
    pub fn from_bytes(bytes: &[u8; SEAL_KEY_BYTES]) -> SealKey {
        let key = UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256 takes a 32-byte key");
        SealKey(Arc::new(LessSafeKey::new(key)))
    }

    /// Parses a key file's contents: exactly 64 hexadecimal digits (the 32 key bytes),
    /// optionally surrounded by whitespace such as a final newline. Text is chosen over
    /// raw bytes so that `openssl rand -hex 32 > key` makes one and an editor cannot
    /// silently change it.
    pub fn parse(text: &[u8]) -> std::result::Result<SealKey, String> {
        let text = std::str::from_utf8(text)
            .map_err(|_| "the key file must hold 64 hexadecimal digits".to_string())?
            .trim();
        if text.len() != 2 * SEAL_KEY_BYTES || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "the key file must hold 64 hexadecimal digits (a 256-bit key), found {} characters",
                text.len()
            ));
        }
        let mut bytes = [0u8; SEAL_KEY_BYTES];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| "the key file must hold 64 hexadecimal digits".to_string())?;
        }
        Ok(SealKey::from_bytes(&bytes))
    }

    /// Reads and parses the key file at `path` (see [`SealKey::parse`]).
    pub fn load(path: &Path) -> std::result::Result<SealKey, String> {
        use std::io::Read;
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
        let mut text = Vec::new();
        file.take(KEY_FILE_BYTES_MAX)
            .read_to_end(&mut text)
            .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
        SealKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Seals and opens stored values; a no-op without a key. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Seal {
    key: Option<SealKey>,
}

/// A sealed value that does not open: tampered, moved, or sealed with another key.
fn unopenable() -> Error {
    Error::Storage(
        "a stored value fails its authentication: the data directory was changed or \
         sealed with another encryption key"
            .into(),
    )
}

impl Seal {
    pub fn new(key: Option<SealKey>) -> Seal {
        Seal { key }
    }

    /// Whether values are sealed.
    pub fn is_on(&self) -> bool {
        self.key.is_some()
    }

    /// The stored form of `clear`, kept under `key`. Without a key, `clear` itself.
    #[inline]
    pub(crate) fn seal(&self, key: &[u8], clear: &Slice) -> Slice {
        match &self.key {
            None => clear.clone(),
            Some(k) => Slice::from(seal_with(k, key, clear)),
        }
    }

    /// The clear form of `stored`, read under `key`. Without a key, `stored` itself (the
    /// directory check made sure no sealed value is there).
    #[inline]
    pub(crate) fn open(&self, key: &[u8], stored: Slice) -> Result<Slice> {
        match &self.key {
            Some(k) if stored.first() == Some(&SEALED_TAG) => {
                open_with(k, key, &stored).map(Slice::from)
            }
            _ => Ok(stored),
        }
    }

    /// [`Seal::seal`] for bytes kept outside fjall (the function store's files), `key`
    /// naming them.
    pub fn seal_bytes(&self, key: &[u8], clear: &[u8]) -> Vec<u8> {
        match &self.key {
            None => clear.to_vec(),
            Some(k) => seal_with(k, key, clear),
        }
    }

    /// [`Seal::open`] for bytes kept outside fjall. Without a key a sealed value is an
    /// error here, since no directory check covers those files.
    pub fn open_bytes(&self, key: &[u8], stored: Vec<u8>) -> Result<Vec<u8>> {
        if stored.first() != Some(&SEALED_TAG) {
            return Ok(stored);
        }
        match &self.key {
            Some(k) => open_with(k, key, &stored),
            None => Err(Error::Storage(
                "a stored value is encrypted and no encryption key was given".into(),
            )),
        }
    }

    /// Checks that this seal can open the directory whose `meta` keyspace is given, and
    /// marks a directory sealed the first time it is opened with a key. A directory
    /// written without a key may be opened with one (its clear values stay readable,
    /// new ones are sealed); a sealed directory cannot be opened without its key.
    pub(crate) fn check_directory(&self, meta: &Keyspace) -> Result<()> {
        match (&self.key, meta.get(CHECK_KEY)?) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(Error::Storage(
                "the data directory is encrypted and no encryption key was given".into(),
            )),
            (Some(_), Some(stored)) => match self.open(CHECK_KEY, stored) {
                Ok(clear) if clear.as_ref() == CHECK_TEXT => Ok(()),
                _ => Err(Error::Storage(
                    "the encryption key does not open this data directory (it was sealed \
                     with another key)"
                        .into(),
                )),
            },
            (Some(k), None) => {
                meta.insert(CHECK_KEY, seal_with(k, CHECK_KEY, CHECK_TEXT))?;
                Ok(())
            }
        }
    }
}

fn seal_with(k: &SealKey, key: &[u8], clear: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    // The system's random source failing is a broken machine; sealing with a repeated
    // nonce would give the key away, so it must not go on.
    SystemRandom::new()
        .fill(&mut nonce)
        .expect("the system random source failed");
    let mut out = Vec::with_capacity(clear.len() + SEAL_OVERHEAD_BYTES);
    out.push(SEALED_TAG);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(clear);
    let tag =
        k.0.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(key),
            &mut out[1 + NONCE_LEN..],
        )
        .expect("AES-GCM seals any value under 64 GiB");
    out.extend_from_slice(tag.as_ref());
    out
}

fn open_with(k: &SealKey, key: &[u8], stored: &[u8]) -> Result<Vec<u8>> {
    if stored.len() < SEAL_OVERHEAD_BYTES {
        return Err(unopenable());
    }
    let nonce: [u8; NONCE_LEN] = stored[1..1 + NONCE_LEN]
        .try_into()
        .map_err(|_| unopenable())?;
    let mut buf = stored[1 + NONCE_LEN..].to_vec();
    let clear_len =
        k.0.open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(key),
            &mut buf,
        )
        .map_err(|_| unopenable())?
        .len();
    buf.truncate(clear_len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SealKey {
        SealKey::from_bytes(&[b; SEAL_KEY_BYTES])
    }

    #[test]
    fn round_trip_adds_tag_nonce_and_auth_tag() {
        let seal = Seal::new(Some(key(7)));
        let clear = Slice::from(b"\x01the marker value".as_slice());
        let sealed = seal.seal(b"k1", &clear);
        assert_eq!(sealed.first(), Some(&SEALED_TAG));
        assert_eq!(sealed.len(), clear.len() + SEAL_OVERHEAD_BYTES);
        assert!(!sealed.windows(6).any(|w| w == b"marker"));
        assert_eq!(seal.open(b"k1", sealed.clone()).unwrap(), clear);
        // A fresh nonce each time: the same value seals differently.
        assert_ne!(seal.seal(b"k1", &clear), sealed);
        // The empty value seals too.
        let empty = seal.seal(b"k", &Slice::from(b"".as_slice()));
        assert_eq!(seal.open(b"k", empty).unwrap().len(), 0);
    }

    #[test]
    fn tampering_moving_and_truncating_are_refused() {
        let seal = Seal::new(Some(key(7)));
        let sealed = seal.seal(b"k1", &Slice::from(b"\x01value".as_slice()));
        for at in 1..sealed.len() {
            let mut bad = sealed.to_vec();
            bad[at] ^= 0x01;
            let e = seal.open(b"k1", Slice::from(bad)).unwrap_err();
            assert!(e.to_string().contains("fails its authentication"), "{e}");
        }
        assert!(
            seal.open(b"k2", sealed.clone()).is_err(),
            "moved to another key"
        );
        let short = Slice::from(&sealed[..SEAL_OVERHEAD_BYTES - 1]);
        assert!(seal.open(b"k1", short).is_err());
    }

    #[test]
    fn wrong_key_is_refused() {
        let sealed = Seal::new(Some(key(7))).seal(b"k", &Slice::from(b"\x01v".as_slice()));
        assert!(Seal::new(Some(key(8))).open(b"k", sealed.clone()).is_err());
        let bytes = Seal::new(Some(key(7))).seal_bytes(b"f", b"\0asm");
        assert!(
            Seal::new(Some(key(8)))
                .open_bytes(b"f", bytes.clone())
                .is_err()
        );
        let e = Seal::new(None).open_bytes(b"f", bytes).unwrap_err();
        assert!(e.to_string().contains("no encryption key"), "{e}");
    }

    #[test]
    fn without_a_key_values_pass_through_and_clear_values_open_with_one() {
        let clear = Slice::from(b"\x01value".as_slice());
        let off = Seal::new(None);
        assert_eq!(off.seal(b"k", &clear), clear);
        assert_eq!(off.open(b"k", clear.clone()).unwrap(), clear);
        // A value written before the key was added still reads.
        let on = Seal::new(Some(key(1)));
        assert_eq!(on.open(b"k", clear.clone()).unwrap(), clear);
        assert_eq!(on.open_bytes(b"f", b"\0asm".to_vec()).unwrap(), b"\0asm");
    }

    #[test]
    fn key_file_is_64_hex_digits() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
        let a = SealKey::parse(hex.as_bytes()).unwrap();
        let b = SealKey::parse(hex.trim().to_lowercase().as_bytes()).unwrap();
        let sealed = Seal::new(Some(a)).seal_bytes(b"x", b"v");
        assert_eq!(
            Seal::new(Some(b)).open_bytes(b"x", sealed).unwrap(),
            b"v".to_vec()
        );
        for bad in ["", "abc", &"0".repeat(63), &"0".repeat(65), &"g".repeat(64)] {
            let e = SealKey::parse(bad.as_bytes()).unwrap_err();
            assert!(e.contains("64 hexadecimal digits"), "{bad}: {e}");
        }
        assert!(SealKey::parse(&[0xff; 64]).is_err());
        assert_eq!(
            format!("{:?}", SealKey::parse(hex.as_bytes()).unwrap()),
            "SealKey(..)"
        );
    }

    #[test]
    fn directory_check() {
        let dir = tempfile::tempdir().unwrap();
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let meta = db
            .keyspace("meta", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        Seal::new(None).check_directory(&meta).unwrap();
        Seal::new(Some(key(3))).check_directory(&meta).unwrap();
        Seal::new(Some(key(3))).check_directory(&meta).unwrap();
        let e = Seal::new(Some(key(4))).check_directory(&meta).unwrap_err();
        assert!(
            e.to_string().contains("does not open this data directory"),
            "{e}"
        );
        let e = Seal::new(None).check_directory(&meta).unwrap_err();
        assert!(e.to_string().contains("no encryption key was given"), "{e}");
    }
}

#[cfg(test)]
mod engine_tests;
