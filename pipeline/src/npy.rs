//! A small reader and writer of NumPy `.npy` files (version 1-3, C order,
//! little-endian `<f4`, `<f8`, `<i8`): golden fixtures, published splits and
//! text features are stored this way.

use std::path::Path;

/// An array read from a `.npy` file, converted to the requested element type.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray<T> {
    pub shape: Vec<usize>,
    pub data: Vec<T>,
}

#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a .npy file ({reason})")]
    Format { path: String, reason: String },
    #[error("{path}: element type {descr} cannot be read as {wanted}")]
    Type {
        path: String,
        descr: String,
        wanted: &'static str,
    },
}

/// Element types the reader converts to.
pub trait Element: Sized + Copy {
    const NAME: &'static str;
    fn from_bytes(descr: &str, bytes: &[u8]) -> Option<Vec<Self>>;
}

macro_rules! le_vec {
    ($bytes:expr, $t:ty, $n:expr) => {
        $bytes
            .chunks_exact($n)
            .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk size")))
    };
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    fn from_bytes(descr: &str, bytes: &[u8]) -> Option<Vec<Self>> {
        match descr {
            "<f4" => Some(le_vec!(bytes, f32, 4).collect()),
            _ => None,
        }
    }
}

impl Element for f64 {
    const NAME: &'static str = "f64";
    fn from_bytes(descr: &str, bytes: &[u8]) -> Option<Vec<Self>> {
        match descr {
            "<f8" => Some(le_vec!(bytes, f64, 8).collect()),
            "<f4" => Some(le_vec!(bytes, f32, 4).map(f64::from).collect()),
            _ => None,
        }
    }
}

impl Element for i64 {
    const NAME: &'static str = "i64";
    fn from_bytes(descr: &str, bytes: &[u8]) -> Option<Vec<Self>> {
        match descr {
            "<i8" => Some(le_vec!(bytes, i64, 8).collect()),
            "<i4" => Some(le_vec!(bytes, i32, 4).map(i64::from).collect()),
            _ => None,
        }
    }
}

/// Reads a `.npy` file.
pub fn read<T: Element>(path: &Path) -> Result<NpyArray<T>, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&bytes, &path.display().to_string())
}

/// Parses `.npy` bytes; `name` is used in errors.
pub fn parse<T: Element>(bytes: &[u8], name: &str) -> Result<NpyArray<T>, NpyError> {
    let fail = |reason: &str| NpyError::Format {
        path: name.to_owned(),
        reason: reason.to_owned(),
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(fail("missing magic"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(fail("unknown version")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| fail("header truncated"))?;
    let header = std::str::from_utf8(header).map_err(|_| fail("header not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| fail("no descr"))?;
    let descr = descr.trim_matches(['\'', '"']);
    if dict_value(header, "fortran_order") != Some("False") {
        return Err(fail("only C-order arrays are supported"));
    }
    let shape_text = header
        .split_once("'shape':")
        .and_then(|(_, rest)| rest.split_once('(')?.1.split_once(')'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| fail("no shape"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| fail("bad shape")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| {
            fail(&format!(
                "shape {shape:?} has more values than memory can hold"
            ))
        })?;
    let data =
        T::from_bytes(descr, &bytes[start + header_len..]).ok_or_else(|| NpyError::Type {
            path: name.to_owned(),
            descr: descr.to_owned(),
            wanted: T::NAME,
        })?;
    if data.len() != count {
        return Err(fail(&format!(
            "shape {shape:?} needs {count} values, file has {}",
            data.len()
        )));
    }
    Ok(NpyArray { shape, data })
}

fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let (_, rest) = header.split_once(&format!("'{key}':"))?;
    let rest = rest.trim_start();
    let end = rest.find([',', '}'])?;
    Some(rest[..end].trim())
}

/// The header NumPy (2.x) writes for a C-order array of `descr` (`<f4`,
/// `<f8`) and `shape`, byte for byte: version 1.0, the dict with keys in
/// sorted order, the spare room NumPy leaves for the first axis to grow, and
/// padding to a multiple of 64 bytes ending in a newline. The data follows
/// it directly, so a writer can stream rows after it.
pub fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    const GROWTH_AXIS_MAX_DIGITS: usize = 21;
    let shape_text = match shape {
        [] => "()".to_owned(),
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    if let Some(first) = shape.first() {
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(first.to_string().len())));
    }
    // Magic (6) + version (2) + length (2) + dict + padding + newline.
    let pad = 64 - (10 + dict.len() + 1) % 64;
    let mut out = Vec::with_capacity(10 + dict.len() + pad + 1);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + pad, b' ');
    out.push(b'\n');
    out
}

/// Writes a little-endian float32 `.npy` file, under a temporary name
/// renamed when complete (a killed writer never leaves a torn file).
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> std::io::Result<()> {
    let mut out = header("<f4", shape);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, out)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        write_f32(&path, &[2, 3], &data).unwrap();
        let back: NpyArray<f32> = read(&path).unwrap();
        assert_eq!(back.shape, vec![2, 3]);
        assert_eq!(back.data, data);
        let wide: NpyArray<f64> = read(&path).unwrap();
        assert_eq!(wide.data[5], 2.5);
        assert!(matches!(read::<i64>(&path), Err(NpyError::Type { .. })));
    }

    /// What `np.save` writes for float32 zeros of shape (2, 3) and (): the
    /// dict, NumPy's 21-digit growth room, padding to 128 bytes.
    #[test]
    fn header_is_numpys() {
        let h = header("<f4", &[2, 3]);
        let dict = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        assert_eq!(h.len(), 128);
        assert_eq!(&h[..10], b"\x93NUMPY\x01\x00v\x00");
        assert_eq!(&h[10..10 + dict.len()], dict);
        assert!(h[10 + dict.len()..127].iter().all(|&b| b == b' '));
        assert_eq!(h[127], b'\n');
        assert_eq!(header("<f8", &[]).len(), 128);
        let long = header("<f4", &[56578, 3, 300, 25, 2]);
        assert_eq!((long.len() % 64, long[long.len() - 1]), (0, b'\n'));
    }

    /// Found by fuzzing (`npy` crash-2001ed9c): the product of the header's
    /// shape overflowed (a panic with overflow checks, a wrong count without).
    #[test]
    fn a_shape_whose_product_overflows_is_an_error() {
        let header =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (55, 95743, 9000000000005), }\n";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let err = parse::<f32>(&bytes, "overflow.npy")
            .unwrap_err()
            .to_string();
        assert!(err.contains("more values than memory can hold"), "{err}");
    }
}
