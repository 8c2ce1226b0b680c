//! A streaming writer of `.npz` files laid out byte for byte as `np.savez`
//! writes them (Python 3.11 `zipfile`, members stored uncompressed and
//! opened with `force_zip64=True`): each member's local header carries a
//! ZIP64 extra field and is rewritten with its CRC and sizes once the
//! member is complete, so rows are written as they come and never held.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

/// Sizes and offsets above this need ZIP64 fields (Python's `ZIP64_LIMIT`).
const ZIP64_LIMIT: u64 = (1 << 31) - 1;
/// "Version needed" of every member: `np.savez` forces ZIP64 (4.5).
const ZIP64_VERSION: u8 = 45;
/// Unix (the `create_system` of `zipfile` on Linux and macOS).
const CREATE_SYSTEM_UNIX: u8 = 3;
/// `?rw-------`, which `zipfile` gives a member opened for writing.
const EXTERNAL_ATTR: u32 = 0o600 << 16;
/// 1980-01-01 00:00:00 in DOS format, the date of a `zipfile.ZipInfo` made
/// from a name (what `np.savez` does), so the files are reproducible.
const DOS_DATE: u16 = (1 << 5) | 1;
const DOS_TIME: u16 = 0;

struct Member {
    name: String,
    offset: u64,
    size: u64,
    crc: u32,
}

/// An `.npz` being written; members one after another, each streamed.
pub struct NpzWriter {
    out: BufWriter<File>,
    position: u64,
    members: Vec<Member>,
    open: Option<(Member, crc32fast::Hasher)>,
}

impl NpzWriter {
    pub fn new(file: File) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 20, file),
            position: 0,
            members: Vec::new(),
            open: None,
        }
    }

    /// The local header `zipfile` writes for a member opened with
    /// `force_zip64`: sizes in the ZIP64 extra field, 0xFFFFFFFF in the
    /// fixed fields.
    fn local_header(name: &str, crc: u32, size: u64) -> Vec<u8> {
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        h.extend_from_slice(b"PK\x03\x04");
        h.extend_from_slice(&[ZIP64_VERSION, 0]);
        h.extend_from_slice(&0u16.to_le_bytes()); // flag bits
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&DOS_TIME.to_le_bytes());
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        h.extend_from_slice(&1u16.to_le_bytes()); // ZIP64 extra field
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    /// Starts member `name` (for example `x_train.npy`).
    pub fn start(&mut self, name: &str) -> std::io::Result<()> {
        assert!(self.open.is_none(), "finish the previous member first");
        let member = Member {
            name: name.to_owned(),
            offset: self.position,
            size: 0,
            crc: 0,
        };
        self.put(&Self::local_header(name, 0, 0))?;
        self.open = Some((member, crc32fast::Hasher::new()));
        Ok(())
    }

    /// Appends bytes to the open member.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let (member, hasher) = self.open.as_mut().expect("a member is open");
        hasher.update(bytes);
        member.size += bytes.len() as u64;
        self.put(bytes)
    }

    /// Completes the open member: rewrites its local header with the CRC and size.
    pub fn finish_member(&mut self) -> std::io::Result<()> {
        let (mut member, hasher) = self.open.take().expect("a member is open");
        member.crc = hasher.finalize();
        self.out.flush()?;
        let file = self.out.get_mut();
        file.seek(SeekFrom::Start(member.offset))?;
        file.write_all(&Self::local_header(&member.name, member.crc, member.size))?;
        file.seek(SeekFrom::Start(self.position))?;
        self.members.push(member);
        Ok(())
    }

    /// Writes the central directory (ZIP64 records where `zipfile` writes
    /// them) and returns the file, flushed.
    pub fn finish(mut self) -> std::io::Result<File> {
        assert!(self.open.is_none(), "finish the last member first");
        let start = self.position;
        for m in std::mem::take(&mut self.members) {
            let mut extra: Vec<u64> = Vec::new();
            let size32 = if m.size > ZIP64_LIMIT {
                extra.extend([m.size, m.size]);
                u32::MAX
            } else {
                m.size as u32
            };
            let offset32 = if m.offset > ZIP64_LIMIT {
                extra.push(m.offset);
                u32::MAX
            } else {
                m.offset as u32
            };
            let mut extra_bytes = Vec::new();
            if !extra.is_empty() {
                extra_bytes.extend_from_slice(&1u16.to_le_bytes());
                extra_bytes.extend_from_slice(&(8 * extra.len() as u16).to_le_bytes());
                for v in extra {
                    extra_bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            let mut c = Vec::with_capacity(46 + m.name.len() + extra_bytes.len());
            c.extend_from_slice(b"PK\x01\x02");
            c.extend_from_slice(&[ZIP64_VERSION, CREATE_SYSTEM_UNIX, ZIP64_VERSION, 0]);
            c.extend_from_slice(&0u16.to_le_bytes()); // flag bits
            c.extend_from_slice(&0u16.to_le_bytes()); // stored
            c.extend_from_slice(&DOS_TIME.to_le_bytes());
            c.extend_from_slice(&DOS_DATE.to_le_bytes());
            c.extend_from_slice(&m.crc.to_le_bytes());
            c.extend_from_slice(&size32.to_le_bytes());
            c.extend_from_slice(&size32.to_le_bytes());
            c.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
            c.extend_from_slice(&(extra_bytes.len() as u16).to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes()); // comment
            c.extend_from_slice(&0u16.to_le_bytes()); // disk
            c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            c.extend_from_slice(&EXTERNAL_ATTR.to_le_bytes());
            c.extend_from_slice(&offset32.to_le_bytes());
            c.extend_from_slice(m.name.as_bytes());
            c.extend_from_slice(&extra_bytes);
            self.put(&c)?;
            self.members.push(m);
        }
        let end = self.position;
        let (count, size) = (self.members.len() as u64, end - start);
        if count > 0xFFFF || start > ZIP64_LIMIT || size > ZIP64_LIMIT {
            let mut r = Vec::with_capacity(56 + 20);
            r.extend_from_slice(b"PK\x06\x06");
            r.extend_from_slice(&44u64.to_le_bytes());
            r.extend_from_slice(&45u16.to_le_bytes());
            r.extend_from_slice(&45u16.to_le_bytes());
            r.extend_from_slice(&0u32.to_le_bytes());
            r.extend_from_slice(&0u32.to_le_bytes());
            r.extend_from_slice(&count.to_le_bytes());
            r.extend_from_slice(&count.to_le_bytes());
            r.extend_from_slice(&size.to_le_bytes());
            r.extend_from_slice(&start.to_le_bytes());
            r.extend_from_slice(b"PK\x06\x07");
            r.extend_from_slice(&0u32.to_le_bytes());
            r.extend_from_slice(&end.to_le_bytes());
            r.extend_from_slice(&1u32.to_le_bytes());
            self.put(&r)?;
        }
        let mut r = Vec::with_capacity(22);
        r.extend_from_slice(b"PK\x05\x06");
        r.extend_from_slice(&0u16.to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        r.extend_from_slice(&(count.min(0xFFFF) as u16).to_le_bytes());
        r.extend_from_slice(&(count.min(0xFFFF) as u16).to_le_bytes());
        r.extend_from_slice(&(size.min(0xFFFF_FFFF) as u32).to_le_bytes());
        r.extend_from_slice(&(start.min(0xFFFF_FFFF) as u32).to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        self.put(&r)?;
        self.out.into_inner().map_err(|e| e.into_error())
    }
}
