//! A small streaming emitter of Python pickles (protocol 3): the
//! `(names, labels)` tuples st-gcn and 2s-AGCN read and PySKL's annotation
//! dict, with float32 NumPy arrays written as the opcodes NumPy's own
//! `ndarray.__reduce__` produces, so `pickle.load` rebuilds real arrays.
//!
//! Values are written as they come: a caller opens a container, writes its
//! items and closes it, so a list of 56,880 arrays never sits in memory.

use std::io::{self, Write};

const PROTO: u8 = 0x80;
const STOP: u8 = b'.';
const MARK: u8 = b'(';
const EMPTY_DICT: u8 = b'}';
const EMPTY_LIST: u8 = b']';
const SETITEMS: u8 = b'u';
const APPENDS: u8 = b'e';
const TUPLE: u8 = b't';
const TUPLE1: u8 = 0x85;
const TUPLE2: u8 = 0x86;
const TUPLE3: u8 = 0x87;
const BININT: u8 = b'J';
const BININT1: u8 = b'K';
const BININT2: u8 = b'M';
const LONG1: u8 = 0x8a;
const BINUNICODE: u8 = b'X';
const SHORT_BINBYTES: u8 = b'C';
const BINBYTES: u8 = b'B';
const NONE: u8 = b'N';
const NEWTRUE: u8 = 0x88;
const NEWFALSE: u8 = 0x89;
const GLOBAL: u8 = b'c';
const REDUCE: u8 = b'R';
const BUILD: u8 = b'b';

/// Items per MARK ... APPENDS batch, as Python's pickler batches them.
pub const BATCH: usize = 1000;

/// Writes pickle opcodes to `out`.
pub struct Pickler<W: Write> {
    out: W,
}

impl<W: Write> Pickler<W> {
    /// Starts a protocol-3 pickle.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&[PROTO, 3])?;
        Ok(Self { out })
    }

    /// Ends the pickle and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[STOP])?;
        Ok(self.out)
    }

    fn op(&mut self, op: u8) -> io::Result<()> {
        self.out.write_all(&[op])
    }

    /// A Python int.
    pub fn int(&mut self, v: i64) -> io::Result<()> {
        match v {
            0..=0xFF => self.out.write_all(&[BININT1, v as u8]),
            0x100..=0xFFFF => {
                self.op(BININT2)?;
                self.out.write_all(&(v as u16).to_le_bytes())
            }
            _ if i32::try_from(v).is_ok() => {
                self.op(BININT)?;
                self.out.write_all(&(v as i32).to_le_bytes())
            }
            _ => {
                self.out.write_all(&[LONG1, 8])?;
                self.out.write_all(&v.to_le_bytes())
            }
        }
    }

    /// A Python str.
    pub fn str(&mut self, s: &str) -> io::Result<()> {
        self.op(BINUNICODE)?;
        self.out.write_all(&(s.len() as u32).to_le_bytes())?;
        self.out.write_all(s.as_bytes())
    }

    fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        match u8::try_from(b.len()) {
            Ok(n) => self.out.write_all(&[SHORT_BINBYTES, n])?,
            Err(_) => {
                self.op(BINBYTES)?;
                let n = u32::try_from(b.len()).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "an array over 4 GiB")
                })?;
                self.out.write_all(&n.to_le_bytes())?;
            }
        }
        self.out.write_all(b)
    }

    fn global(&mut self, module: &str, name: &str) -> io::Result<()> {
        self.op(GLOBAL)?;
        write!(self.out, "{module}\n{name}\n")
    }

    /// Opens a dict; follow with key, value, ... and [`end_dict`](Self::end_dict).
    pub fn start_dict(&mut self) -> io::Result<()> {
        self.out.write_all(&[EMPTY_DICT, MARK])
    }

    pub fn end_dict(&mut self) -> io::Result<()> {
        self.op(SETITEMS)
    }

    /// Opens a list; write items, calling [`list_batch`](Self::list_batch)
    /// every [`BATCH`] items, then [`end_list`](Self::end_list).
    pub fn start_list(&mut self) -> io::Result<()> {
        self.out.write_all(&[EMPTY_LIST, MARK])
    }

    /// Appends the items written since the last batch and opens the next.
    pub fn list_batch(&mut self) -> io::Result<()> {
        self.out.write_all(&[APPENDS, MARK])
    }

    pub fn end_list(&mut self) -> io::Result<()> {
        self.op(APPENDS)
    }

    /// A list of strs.
    pub fn str_list<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        self.list(items, Self::str)
    }

    /// A list of ints.
    pub fn int_list(&mut self, items: impl IntoIterator<Item = i64>) -> io::Result<()> {
        self.list(items, Self::int)
    }

    /// A list of `items`, each written by `write`, appended in batches.
    fn list<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        write: impl Fn(&mut Self, T) -> io::Result<()>,
    ) -> io::Result<()> {
        self.start_list()?;
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 && i % BATCH == 0 {
                self.list_batch()?;
            }
            write(self, item)?;
        }
        self.end_list()
    }

    /// Builds a 2-tuple of the last two values written.
    pub fn tuple2(&mut self) -> io::Result<()> {
        self.op(TUPLE2)
    }

    /// A C-order little-endian float32 `numpy.ndarray`:
    /// `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` followed
    /// by `__setstate__((1, shape, dtype('<f4'), False, data))`. The
    /// `numpy.core` path is the one NumPy 1.x writes; NumPy 2 still
    /// resolves it for old pickles.
    pub fn f32_array(&mut self, shape: &[usize], data: &[f32]) -> io::Result<()> {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.global("numpy.core.multiarray", "_reconstruct")?;
        self.global("numpy", "ndarray")?;
        self.int(0)?;
        self.op(TUPLE1)?;
        self.bytes(b"b")?;
        self.op(TUPLE3)?;
        self.op(REDUCE)?;
        // State: (version, shape, dtype, is_fortran, raw bytes).
        self.op(MARK)?;
        self.int(1)?;
        self.op(MARK)?;
        for &d in shape {
            self.int(d as i64)?;
        }
        self.op(TUPLE)?;
        self.global("numpy", "dtype")?;
        self.str("f4")?;
        self.op(NEWFALSE)?;
        self.op(NEWTRUE)?;
        self.op(TUPLE3)?;
        self.op(REDUCE)?;
        // dtype state: (3, '<', None, None, None, -1, -1, 0).
        self.op(MARK)?;
        self.int(3)?;
        self.str("<")?;
        self.out.write_all(&[NONE, NONE, NONE])?;
        self.int(-1)?;
        self.int(-1)?;
        self.int(0)?;
        self.op(TUPLE)?;
        self.op(BUILD)?;
        self.op(NEWFALSE)?;
        let mut raw = Vec::with_capacity(data.len() * 4);
        for v in data {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        self.bytes(&raw)?;
        self.op(TUPLE)?;
        self.op(BUILD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pickle(write: impl FnOnce(&mut Pickler<Vec<u8>>) -> io::Result<()>) -> Vec<u8> {
        let mut p = Pickler::new(Vec::new()).unwrap();
        write(&mut p).unwrap();
        p.finish().unwrap()
    }

    /// The bytes of Python's `pickle.dumps(v, 3)`.
    #[test]
    fn ints_are_what_python_writes() {
        for (v, python) in [
            (5, &b"\x80\x03K\x05."[..]),
            (300, b"\x80\x03M,\x01."),
            (70000, b"\x80\x03Jp\x11\x01\x00."),
            (-1, b"\x80\x03J\xff\xff\xff\xff."),
        ] {
            assert_eq!(pickle(|p| p.int(v)), python, "{v}");
        }
    }

    #[test]
    fn lists_are_appended_in_batches() {
        let bytes = pickle(|p| p.int_list((0..2500).map(|_| 7)));
        let appends = bytes.iter().filter(|&&b| b == APPENDS).count();
        let marks = bytes.iter().filter(|&&b| b == MARK).count();
        assert_eq!((appends, marks), (3, 3));
        // PROTO 3, `](`, the items, two `e(`, the last `e`, STOP.
        assert_eq!(bytes.len(), 2 + 2 + 2 * 2500 + 2 * 2 + 1 + 1);
    }

    #[test]
    fn an_array_carries_its_raw_values() {
        let data = [1.5f32, -2.0, 0.25, 8.0, 0.0, 3.0];
        let bytes = pickle(|p| p.f32_array(&[2, 3], &data));
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let at = bytes
            .windows(raw.len())
            .position(|w| w == raw)
            .expect("values in the pickle");
        assert_eq!(&bytes[at - 2..at], &[SHORT_BINBYTES, 24]);
        let global = b"cnumpy.core.multiarray\n_reconstruct\n";
        assert!(bytes.windows(global.len()).any(|w| w == global));
    }
}
