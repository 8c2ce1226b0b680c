//! The fast path of line parsing: the fields of a line of plain decimals.
//!
//! Each field's end is found by SWAR (SIMD within a register): two 64-bit
//! loads classify sixteen bytes at once. That scan does not depend on the
//! numbers' values, so the processor runs ahead of the parsing and parses
//! several fields of a line at once. A field is then read by a plain digit
//! loop over a slice of known length. (Valuing eight digits per
//! multiplication, SWAR as well, was measured slower: `ntu::parse` on 596
//! generated NTU-60 files ran at 700 MB/s of CPU time with it, 845 with the
//! loop, and 705 before either.) A number is `[-]digits[.digits]`
//! of at most 15 significant digits, which is how every sensor writes them;
//! its value is `mantissa / 10^k` (Clinger's fast path), one correctly
//! rounded division, so it is bit-identical to the general parser in
//! [`crate::text`]. Anything else (an exponent, a sign `+`, a long mantissa,
//! a bad byte, a wrong field count, the end of the buffer within reach of a
//! load) returns `None`, and the caller parses the line again with the
//! general, fully checked parser, which also writes the error message.

/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;

/// Exact powers of ten for `mantissa / 10^k` (k at most 15 here).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The eight bytes at `s[i..]` as a little-endian word (the first byte
/// lowest), or `None` when fewer than eight are left.
#[inline(always)]
fn word(s: &[u8], i: usize) -> Option<u64> {
    let bytes: [u8; 8] = s.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// How far from `s[i]` the first blank byte (up to `b' '`, as in
/// [`crate::text::Fields`]) lies, when one lies within 16 bytes.
#[inline(always)]
fn blank_offset(s: &[u8], i: usize) -> Option<usize> {
    // Bit 7 of each byte below 0x21: exact for the lowest such byte (borrows
    // only run upwards), which is the only one used.
    let blanks = |w: u64| w.wrapping_sub(ONES * 0x21) & !w & (ONES * 0x80);
    let low = blanks(word(s, i)?);
    let high = blanks(word(s, i + 8)?);
    let both = (u128::from(high) << 64) | u128::from(low);
    let offset = (both.trailing_zeros() / 8) as usize;
    (offset < 16).then_some(offset)
}

/// Appends the digits at the start of `field` to `mantissa`: the new
/// mantissa and how many digits there were.
#[inline(always)]
fn digits(field: &[u8], mut mantissa: u64) -> (u64, usize) {
    let mut n = 0;
    while let Some(&b) = field.get(n) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        n += 1;
    }
    (mantissa, n)
}

/// The value of a whole field that is a plain decimal.
#[inline(always)]
fn decimal(field: &[u8]) -> Option<f64> {
    let negative = field.first() == Some(&b'-');
    let rest = &field[usize::from(negative)..];
    let (mantissa, whole) = digits(rest, 0);
    let (mantissa, fraction) = match rest.get(whole) {
        None => (mantissa, 0),
        Some(b'.') => {
            let (mantissa, fraction) = digits(&rest[whole + 1..], mantissa);
            if whole + 1 + fraction != rest.len() {
                return None;
            }
            (mantissa, fraction)
        }
        Some(_) => return None,
    };
    let count = whole + fraction;
    if count == 0 || count > 15 {
        return None;
    }
    // At most 15 digits: below 2^53, so the signed conversion is exact.
    let value = mantissa as i64 as f64 / POW10[fraction];
    Some(if negative { -value } else { value })
}

/// The first index from `i` on that is not a blank, or `len`.
#[inline(always)]
fn skip_blanks(s: &[u8], mut i: usize, len: usize) -> usize {
    while i < len && s[i] <= b' ' {
        i += 1;
    }
    i
}

/// The next field of the line `s[..len]` from `i` on (`s` goes on past the
/// line: the loads read ahead), and the index after it.
#[inline(always)]
fn field(s: &[u8], i: usize, len: usize) -> Option<(&[u8], usize)> {
    if i >= len {
        return None;
    }
    let end = i + blank_offset(s, i)?;
    (end <= len).then(|| (&s[i..end], end))
}

/// Parses a line of `floats.len()` plain decimals and one small integer
/// (at most 255), the layout of an NTU joint line. The line is `s[..len]`;
/// `s` goes on past it (the loads read ahead). Floats are rounded from the
/// `f64` nearest the text, as [`crate::text::parse_f32`] does. `None` means:
/// parse this line with the general parser.
#[inline]
pub fn floats_then_small_uint(s: &[u8], len: usize, floats: &mut [f32]) -> Option<u8> {
    let mut i = skip_blanks(s, 0, len);
    for slot in floats.iter_mut() {
        let (text, end) = field(s, i, len)?;
        *slot = decimal(text)? as f32;
        i = skip_blanks(s, end, len);
    }
    let (text, end) = field(s, i, len)?;
    let (value, n) = digits(text, 0);
    if n == 0 || n != text.len() || n > 3 {
        return None;
    }
    let value = u8::try_from(value).ok()?;
    (skip_blanks(s, end, len) == len).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::parse_f64;

    /// `text` followed by a newline and enough bytes for the loads.
    fn padded(text: &str) -> Vec<u8> {
        let mut s = text.as_bytes().to_vec();
        s.extend_from_slice(b"\n0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        s
    }

    #[test]
    fn blank_scans_find_the_first_blank() {
        for (text, offset) in [
            ("1234567 9", Some(7)),
            ("-0.09855801\n", Some(11)),
            ("\t", Some(0)),
            ("123456789012345 ", Some(15)),
            ("1234567890123456 ", None),
        ] {
            let mut bytes = text.as_bytes().to_vec();
            bytes.resize(24, b'x');
            assert_eq!(blank_offset(&bytes, 0), offset, "{text:?}");
        }
        // Every byte up to a space is a blank, every other byte is not,
        // whatever follows it.
        for b in 0..=255u8 {
            let mut bytes = [b'7'; 16];
            bytes[3] = b;
            bytes[9] = b' ';
            let expected = if b <= b' ' { 3 } else { 9 };
            assert_eq!(blank_offset(&bytes, 0), Some(expected), "byte {b:#x}");
        }
    }

    #[test]
    fn decimals_are_bit_identical_to_the_general_parser() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "7.",
            ".5",
            "-.5",
            "0.2181153",
            "-0.09855801",
            "277.419",
            "1234567",
            "0.000000000000001",
            "123456789012345",
            "1234567.12345678",
            "99999999.5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..50_000 {
            let bits = next();
            let v = f64::from_bits(bits >> 2) % 1e5 * if bits & 1 == 1 { -1.0 } else { 1.0 };
            texts.push(format!("{}", v as f32));
            texts.push(format!("{:.8}", v / 1e4));
            texts.push(format!("{:.3}", v));
        }
        let mut fast = 0;
        for text in &texts {
            let general = parse_f64(text.as_bytes(), 1, "x").unwrap();
            if let Some(ours) = decimal(text.as_bytes()) {
                assert_eq!(ours.to_bits(), general.to_bits(), "{text}");
                fast += 1;
            }
        }
        assert!(fast > texts.len() / 2, "{fast} of {}", texts.len());
        // The same numbers eleven to a line, as joint lines hold them.
        let mut lines = 0;
        for chunk in texts.chunks_exact(11) {
            let line = chunk.join(" ") + " 2";
            let mut floats = [0f32; 11];
            if floats_then_small_uint(&padded(&line), line.len(), &mut floats).is_some() {
                for (ours, text) in floats.iter().zip(chunk) {
                    let general = parse_f64(text.as_bytes(), 1, "x").unwrap() as f32;
                    assert_eq!(ours.to_bits(), general.to_bits(), "{text} in {line}");
                }
                lines += 1;
            }
        }
        assert!(lines > 0);
        // The forms the fast path leaves to the general parser.
        for text in [
            "1e5",
            "+4.5",
            "1.5E-05",
            "-",
            ".",
            "",
            "1.2.3",
            "1,5",
            "12345678901234567",
            "0.0000000000000001",
            "nan",
            "1x",
        ] {
            assert!(decimal(text.as_bytes()).is_none(), "{text}");
        }
    }

    #[test]
    fn joint_lines_parse_or_fall_back() {
        let line = "-0.2297015 -0.09855801 3.196548 229.7714 219.2539 901.0728 598.6826 0.4857785 0.02171833 0.8725384 0.04716216 2";
        let mut floats = [0f32; 11];
        let state = floats_then_small_uint(&padded(line), line.len(), &mut floats);
        assert_eq!(state, Some(2));
        let expected: Vec<f32> = line
            .split(' ')
            .take(11)
            .map(|t| t.parse::<f64>().unwrap() as f32)
            .collect();
        assert_eq!(floats.to_vec(), expected);
        let tabs = line.replace(' ', "\t") + " \r";
        assert_eq!(
            floats_then_small_uint(&padded(&tabs), tabs.len(), &mut floats),
            Some(2)
        );
        for bad in [
            "1 2 3 4 5 6 7 8 9 10 11",
            "1 2 3 4 5 6 7 8 9 10 11 2 3",
            "1 2 3 4 5 6 7 8 9 10 11 256",
            "1 2 3 4 5 6 7 8 9 10 11 -1",
            "1 2 3 4 5 6 7 8 9 10 11 2x",
            "1 2 3 4 5 6 7 8 9 10 1e1 2",
        ] {
            assert_eq!(
                floats_then_small_uint(&padded(bad), bad.len(), &mut floats),
                None,
                "{bad}"
            );
        }
        // Too close to the end of the buffer for the loads: the general parser's turn.
        let end = "1 2 3 4 5 6 7 8 9 10 11 2";
        assert_eq!(
            floats_then_small_uint(end.as_bytes(), end.len(), &mut floats),
            None
        );
    }
}
