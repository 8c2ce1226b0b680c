//! Allocation-free scanning of whitespace-separated numeric text.
//!
//! Raw skeleton files are read through a memory map; [`Lines`] walks it line by
//! line (LF or CRLF) and [`Fields`] splits a line on spaces and tabs. Numbers
//! are parsed straight from the bytes: floats as `f64` and then rounded to
//! `f32`, which is what every reference reader does (`f32(f64(text))`).

use crate::error::ParseError;

/// Lines of a byte buffer with 1-based line numbers; a trailing `\r` is removed.
pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            line: 0,
        }
    }

    /// Number of the line last returned (0 before the first).
    pub fn line_no(&self) -> u64 {
        self.line
    }

    /// The next line, or `None` at the end of the buffer.
    pub fn next_line(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (line, advance) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        self.line += 1;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// The rest of the buffer from the start of the next line (for parsers
    /// that read ahead, see [`crate::scan`]).
    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// Passes over the next line, which a fast path has read: `len` bytes
    /// and the newline that follows them.
    pub fn skip_line(&mut self, len: usize) {
        debug_assert_eq!(self.data.get(self.pos + len), Some(&b'\n'));
        self.pos += len + 1;
        self.line += 1;
    }

    /// The next line that is expected to exist; `what` names it for the error.
    pub fn expect_line(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8], ParseError> {
        self.next_line().ok_or_else(|| ParseError::Truncated {
            line: self.line + 1,
            expected: what(),
        })
    }

    /// Fails if anything but blank lines is left.
    pub fn expect_end(&mut self, declared: &dyn Fn() -> String) -> Result<(), ParseError> {
        while let Some(line) = self.next_line() {
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                return Err(ParseError::TrailingData {
                    line: self.line,
                    declared: declared(),
                });
            }
        }
        Ok(())
    }
}

/// Whitespace-separated fields of one line.
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    pub fn new(line: &'a [u8]) -> Self {
        Self { rest: line }
    }

    /// Counts the fields of a line without parsing them.
    pub fn count(line: &[u8]) -> usize {
        Fields::new(line).count_remaining()
    }

    fn count_remaining(mut self) -> usize {
        let mut n = 0;
        while self.next_field().is_some() {
            n += 1;
        }
        n
    }
}

impl<'a> Fields<'a> {
    pub fn next_field(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|b| !is_blank(*b))?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(|b| is_blank(*b)).unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

/// Spaces, tabs and other control bytes separate fields.
#[inline]
fn is_blank(b: u8) -> bool {
    b <= b' '
}

/// Exact powers of ten up to 10^22, the largest exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path: a decimal of at most 15 significant digits with a
/// decimal exponent of at most 22 is `digits * 10^e` (or `/ 10^-e`) with a
/// single rounding, hence correctly rounded. Covers every number the sensors
/// write; anything else returns `None` and takes the general parser.
#[inline]
fn parse_short_decimal(s: &[u8]) -> Option<f64> {
    let (negative, mut i) = match s.first()? {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0u32;
    let mut exponent: i32 = 0;
    while let Some(&b) = s.get(i).filter(|b| b.is_ascii_digit()) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        digits += 1;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            digits += 1;
            exponent -= 1;
            i += 1;
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    if let Some(b'e' | b'E') = s.get(i) {
        i += 1;
        let negative_exp = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i32 = 0;
        while let Some(&b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            if i - start >= 4 {
                return None;
            }
            e = e * 10 + i32::from(b - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        exponent += if negative_exp { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    let value = mantissa as f64;
    let value = match exponent {
        0..=22 => value * POW10[exponent as usize],
        -22..=-1 => value / POW10[(-exponent) as usize],
        _ => return None,
    };
    Some(if negative { -value } else { value })
}

/// Parses a finite float, rounding the `f64` value to `f32`.
#[inline]
pub fn parse_f32(field: &[u8], line: u64, what: &'static str) -> Result<f32, ParseError> {
    parse_f64(field, line, what).map(|v| v as f32)
}

/// Parses a finite float as `f64`.
#[inline]
pub fn parse_f64(field: &[u8], line: u64, what: &'static str) -> Result<f64, ParseError> {
    if let Some(v) = parse_short_decimal(field) {
        return Ok(v);
    }
    match fast_float2::parse::<f64, _>(field) {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(ParseError::NonFinite {
            line,
            field: what,
            text: lossy(field),
        }),
        Err(_) => Err(ParseError::NotANumber {
            line,
            field: what,
            text: lossy(field),
        }),
    }
}

/// Parses a non-negative decimal integer that fits `max`.
#[inline]
pub fn parse_uint(
    field: &[u8],
    line: u64,
    what: &'static str,
    max: u64,
) -> Result<u64, ParseError> {
    let bad = || ParseError::NotAnInteger {
        line,
        field: what,
        text: lossy(field),
    };
    if field.is_empty() || field.len() > 20 {
        return Err(bad());
    }
    let mut v: u64 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return Err(bad());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(bad)?;
    }
    if v > max {
        return Err(ParseError::OutOfRange {
            line,
            field: what,
            value: v,
            max,
        });
    }
    Ok(v)
}

/// Parses a line that holds exactly one non-negative integer.
pub fn parse_count_line(
    line_text: &[u8],
    line: u64,
    what: &'static str,
    max: u64,
) -> Result<u64, ParseError> {
    let mut fields = Fields::new(line_text);
    let first = fields.next_field().ok_or(ParseError::FieldCount {
        line,
        what,
        expected: 1,
        got: 0,
    })?;
    if fields.next_field().is_some() {
        return Err(ParseError::FieldCount {
            line,
            what,
            expected: 1,
            got: Fields::count(line_text),
        });
    }
    parse_uint(first, line, what, max)
}

/// A short printable form of a field for error messages.
pub fn lossy(field: &[u8]) -> String {
    let cut = &field[..field.len().min(40)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if field.len() > cut.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_handle_crlf_and_missing_final_newline() {
        let mut lines = Lines::new(b"1\r\n2 3\n\n4");
        assert_eq!(lines.next_line(), Some(&b"1"[..]));
        assert_eq!(lines.next_line(), Some(&b"2 3"[..]));
        assert_eq!(lines.next_line(), Some(&b""[..]));
        assert_eq!(lines.next_line(), Some(&b"4"[..]));
        assert_eq!(lines.line_no(), 4);
        assert_eq!(lines.next_line(), None);
    }

    #[test]
    fn fields_split_on_spaces_and_tabs() {
        let mut f = Fields::new(b"  a\tbb  c ");
        assert_eq!(f.next_field(), Some(&b"a"[..]));
        assert_eq!(f.next_field(), Some(&b"bb"[..]));
        assert_eq!(f.next_field(), Some(&b"c"[..]));
        assert_eq!(f.next_field(), None);
        assert_eq!(Fields::count(b"1 2 3 4"), 4);
    }

    #[test]
    fn floats_round_through_f64() {
        assert_eq!(
            parse_f32(b"0.2181153", 1, "x").unwrap(),
            0.2181153f64 as f32
        );
        assert_eq!(parse_f32(b"-1.5E-05", 1, "x").unwrap(), -1.5e-5f64 as f32);
        assert!(matches!(
            parse_f32(b"nan", 1, "x"),
            Err(ParseError::NonFinite { .. })
        ));
        assert!(matches!(
            parse_f32(b"inf", 1, "x"),
            Err(ParseError::NonFinite { .. })
        ));
        assert!(matches!(
            parse_f32(b"1.2.3", 1, "x"),
            Err(ParseError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_f32(b"abc", 1, "x"),
            Err(ParseError::NotANumber { .. })
        ));
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_parser() {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.2181153",
            "-0.2059419",
            "277.419",
            "1.234567E-05",
            "-9.5e+3",
            "1e22",
            "123456789012345",
            "0.000000000000000000001",
            "+4.5",
            "7.",
            ".5",
            "1E-22",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let bits = next();
            let v = f64::from_bits(bits >> 2) % 1e6 * if bits & 1 == 1 { -1.0 } else { 1.0 };
            texts.push(format!("{v}"));
            texts.push(format!("{:.7}", v / 1e3));
            texts.push(format!("{:e}", v as f32));
        }
        for text in &texts {
            let general = fast_float2::parse::<f64, _>(text.as_bytes()).unwrap();
            let ours = parse_f64(text.as_bytes(), 1, "x").unwrap();
            assert_eq!(ours.to_bits(), general.to_bits(), "{text}");
        }
        for bad in [
            "", "-", ".", "e5", "1e", "1.2.3", "1e-", "--1", "0x10", "1,5",
        ] {
            assert!(parse_short_decimal(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn integers_are_checked() {
        assert_eq!(
            parse_uint(b"72057594037931101", 1, "id", u64::MAX).unwrap(),
            72057594037931101
        );
        assert!(parse_uint(b"-1", 1, "n", 10).is_err());
        assert!(parse_uint(b"99999999999999999999", 1, "n", u64::MAX).is_err());
        assert!(matches!(
            parse_uint(b"26", 1, "n", 25),
            Err(ParseError::OutOfRange { .. })
        ));
        assert!(parse_count_line(b"3 4", 1, "n", 10).is_err());
    }
}
