//! The component inside a Lambda deployment package: `Code.ZipFile` is either the
//! component itself (a plain `.wasm`) or a zip archive holding it. Only what a
//! deployment package needs is read: the central directory, and one entry stored or
//! deflated, checked against its CRC-32; ZIP64, encryption and multi-disk archives are
//! refused with a message that says so.
//!
//! Owns reading the archive within its limits. Must not know what a component is
//! beyond its file name.

use std::io::Read;

use eddy_triggers::COMPONENT_BYTES_MAX;

/// Entries an archive's central directory may list (the directory is walked once).
pub(super) const ZIP_ENTRIES_MAX: usize = 10_000;
/// The end-of-central-directory record is within this many bytes of the end (22 bytes
/// and a comment of at most 65,535).
const EOCD_SEARCH_BYTES_MAX: usize = 22 + 65_535;

/// Lambda's message for an archive it cannot read.
pub(super) const UNZIP_FAILED: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";

/// Why no component came out of `Code.ZipFile`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ZipError {
    /// The archive is not readable (Lambda's "Could not unzip uploaded file").
    Unreadable(String),
    /// The archive is readable but does not say which component to deploy.
    NoComponent(String),
}

/// Whether `bytes` is a zip archive (a local file header or an empty archive's end
/// record), rather than a component.
pub(super) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 2)
        .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

struct Entry {
    name: String,
    method: usize,
    flags: usize,
    crc: u32,
    compressed: usize,
    size: usize,
    local_offset: usize,
}

/// The component in the archive: the entry named `handler` when there is one (a
/// deployment may name its file in `Handler`), else the one `.wasm` file.
pub(super) fn component(archive: &[u8], handler: Option<&str>) -> Result<Vec<u8>, ZipError> {
    let bad = |why: &str| ZipError::Unreadable(why.to_owned());
    let search_from = archive.len().saturating_sub(EOCD_SEARCH_BYTES_MAX);
    let eocd = (search_from..archive.len().saturating_sub(21))
        .rev()
        .find(|&i| archive[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| bad("no end of central directory record"))?;
    let disk = u16_at(archive, eocd + 4).ok_or_else(|| bad("truncated"))?;
    let entries = u16_at(archive, eocd + 10).ok_or_else(|| bad("truncated"))?;
    let directory = u32_at(archive, eocd + 16).ok_or_else(|| bad("truncated"))?;
    if disk != 0 {
        return Err(bad("multi-disk archives are not supported"));
    }
    if entries == 0xFFFF || directory == 0xFFFF_FFFF {
        return Err(bad("ZIP64 archives are not supported"));
    }
    if entries > ZIP_ENTRIES_MAX {
        return Err(bad(&format!(
            "{entries} entries; at most {ZIP_ENTRIES_MAX} are read"
        )));
    }
    let mut list = Vec::with_capacity(entries);
    let mut at = directory;
    for _ in 0..entries {
        if archive.get(at..at + 4) != Some(b"PK\x01\x02") {
            return Err(bad("a central directory entry is missing"));
        }
        let field = |off: usize| u16_at(archive, at + off).ok_or_else(|| bad("truncated"));
        let wide = |off: usize| u32_at(archive, at + off).ok_or_else(|| bad("truncated"));
        let (name_len, extra_len, comment_len) = (field(28)?, field(30)?, field(32)?);
        let name = archive
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad("truncated"))?;
        list.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            flags: field(8)?,
            method: field(10)?,
            crc: wide(16)? as u32,
            compressed: wide(20)?,
            size: wide(24)?,
            local_offset: wide(42)?,
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    let files: Vec<&Entry> = list.iter().filter(|e| !e.name.ends_with('/')).collect();
    let chosen = match handler.and_then(|h| files.iter().find(|e| e.name == h)) {
        Some(e) => *e,
        None => {
            let wasm: Vec<&&Entry> = files.iter().filter(|e| e.name.ends_with(".wasm")).collect();
            match wasm.as_slice() {
                [one] => **one,
                [] => {
                    return Err(ZipError::NoComponent(
                        "the zip holds no .wasm file: put the component (built for \
                         wasm32-wasip2) in it, or send the .wasm itself"
                            .to_owned(),
                    ));
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|e| e.name.as_str()).collect();
                    return Err(ZipError::NoComponent(format!(
                        "the zip holds several .wasm files ({}): name the one to deploy in Handler",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    read_entry(archive, chosen)
}

fn read_entry(archive: &[u8], e: &Entry) -> Result<Vec<u8>, ZipError> {
    let bad = |why: String| ZipError::Unreadable(why);
    if e.flags & 1 != 0 {
        return Err(bad(format!("{} is encrypted", e.name)));
    }
    if e.size == 0xFFFF_FFFF || e.compressed == 0xFFFF_FFFF {
        return Err(bad("ZIP64 archives are not supported".to_owned()));
    }
    if e.size > COMPONENT_BYTES_MAX {
        return Err(bad(format!(
            "{} is {} bytes, over the limit of {COMPONENT_BYTES_MAX} bytes for a component",
            e.name, e.size
        )));
    }
    let at = e.local_offset;
    if archive.get(at..at + 4) != Some(b"PK\x03\x04") {
        return Err(bad(format!("the local header of {} is missing", e.name)));
    }
    let name_len = u16_at(archive, at + 26).ok_or_else(|| bad("truncated".to_owned()))?;
    let extra_len = u16_at(archive, at + 28).ok_or_else(|| bad("truncated".to_owned()))?;
    let start = at + 30 + name_len + extra_len;
    let data = archive
        .get(start..start + e.compressed)
        .ok_or_else(|| bad(format!("{} is truncated", e.name)))?;
    let bytes = match e.method {
        0 => data.to_vec(),
        8 => {
            let mut out = Vec::with_capacity(e.size);
            // One byte more than the declared size is read, so that an entry lying
            // about its size is caught rather than inflated without bound.
            flate2::read::DeflateDecoder::new(data)
                .take(e.size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|err| bad(format!("{} does not inflate: {err}", e.name)))?;
            out
        }
        m => {
            return Err(bad(format!(
                "{} uses compression method {m}; only stored (0) and deflated (8) are read",
                e.name
            )));
        }
    };
    if bytes.len() != e.size {
        return Err(bad(format!(
            "{} is {} bytes, not the {} its header says",
            e.name,
            bytes.len(),
            e.size
        )));
    }
    if crc32fast::hash(&bytes) != e.crc {
        return Err(bad(format!("{} fails its CRC-32 check", e.name)));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A zip archive of `(name, contents, deflate?)` entries, written by hand so that
    /// the test does not depend on the reader it checks.
    pub(crate) fn archive(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut directory = Vec::new();
        for (name, contents, deflate) in entries {
            let data = if *deflate {
                let mut enc =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(contents).unwrap();
                enc.finish().unwrap()
            } else {
                contents.to_vec()
            };
            let method: u16 = if *deflate { 8 } else { 0 };
            let crc = crc32fast::hash(contents);
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(contents.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&data);
            directory.extend_from_slice(b"PK\x01\x02");
            directory.extend_from_slice(&20u16.to_le_bytes());
            directory.extend_from_slice(&20u16.to_le_bytes());
            directory.extend_from_slice(&0u16.to_le_bytes());
            directory.extend_from_slice(&method.to_le_bytes());
            directory.extend_from_slice(&[0; 4]);
            directory.extend_from_slice(&crc.to_le_bytes());
            directory.extend_from_slice(&(data.len() as u32).to_le_bytes());
            directory.extend_from_slice(&(contents.len() as u32).to_le_bytes());
            directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
            directory.extend_from_slice(&[0; 12]);
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
        }
        let directory_at = out.len() as u32;
        out.extend_from_slice(&directory);
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        out.extend_from_slice(&directory_at.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn finds_the_one_component_stored_or_deflated() {
        let wasm = b"\0asm\x0d\0\x01\0 the rest of a component";
        for deflate in [false, true] {
            let zip = archive(&[
                ("README.md", b"hello", deflate),
                ("dist/", b"", false),
                ("dist/f.wasm", wasm, deflate),
            ]);
            assert!(is_zip(&zip));
            assert_eq!(component(&zip, None).unwrap(), wasm);
        }
    }

    #[test]
    fn handler_names_the_entry_among_several() {
        let zip = archive(&[("a.wasm", b"\0asmA", true), ("b.wasm", b"\0asmB", false)]);
        assert_eq!(component(&zip, Some("b.wasm")).unwrap(), b"\0asmB");
        let Err(ZipError::NoComponent(why)) = component(&zip, None) else {
            panic!("two components without a Handler must be refused");
        };
        assert!(why.contains("a.wasm, b.wasm"), "{why}");
        let none = archive(&[("index.py", b"def handler(): pass", true)]);
        assert!(matches!(
            component(&none, None),
            Err(ZipError::NoComponent(_))
        ));
    }

    #[test]
    fn a_damaged_archive_is_refused_not_misread() {
        let mut zip = archive(&[("f.wasm", b"\0asm and more bytes", false)]);
        // A flipped byte of the entry's data fails its CRC.
        zip[40] ^= 0xFF;
        assert!(matches!(
            component(&zip, None),
            Err(ZipError::Unreadable(_))
        ));
        // A cut archive has no end record.
        let zip = archive(&[("f.wasm", b"\0asm", true)]);
        assert!(matches!(
            component(&zip[..zip.len() - 10], None),
            Err(ZipError::Unreadable(_))
        ));
        assert!(!is_zip(b"\0asm"));
    }
}
