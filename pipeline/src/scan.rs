//! The fast path of line parsing: a line of plain decimals read eight bytes
//! at a time.
//!
//! Digits are found and valued by SWAR (SIMD within a register): one 64-bit
//! load classifies eight bytes at once and a few multiplications turn up to
//! eight digits into their value, with no branch per character. A number is
//! `[-]digits[.digits]` of at most 15 significant digits ended by a blank,
//! which is how every sensor writes them; its value is `mantissa / 10^k`
//! (Clinger's fast path), one correctly rounded division, so it is
//! bit-identical to the general parser in [`crate::text`]. Anything else (an
//! exponent, a sign `+`, a long mantissa, a bad byte, a wrong field count,
//! the end of the buffer within reach of a load) returns `None`, and the
//! caller parses the line again with the general, fully checked parser,
//! which also writes the error message.

/// `0x01` in every byte.
const ONES: u64 = 0x0101_0101_0101_0101;

/// Exact powers of ten for `mantissa / 10^k` (k at most 15 here).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The same powers as integers, to append a run of digits to a mantissa.
const POW10_INT: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The eight bytes at `s[i..]` as a little-endian word (the first byte
/// lowest), or `None` when fewer than eight are left.
#[inline(always)]
fn word(s: &[u8], i: usize) -> Option<u64> {
    let bytes: [u8; 8] = s.get(i..i + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// How many of the eight bytes of `w` are ASCII digits before the first
/// other byte (0 to 8), and the word with every digit byte replaced by its
/// value (the bytes after the run are meaningless).
#[inline(always)]
fn digit_run(w: u64) -> (usize, u64) {
    // A digit is 0x30..=0x39: after the xor its high nibble is 0 and its low
    // nibble below 10. Neither test carries into the next byte.
    let v = w ^ (ONES * 0x30);
    let high = (v & (ONES * 0xF0)) >> 4;
    let over_nine = ((v & (ONES * 0x0F)) + ONES * 0x06) & (ONES * 0x10);
    let other = high | (over_nine >> 4);
    // Bit 4 of a byte is set where that byte is not a digit.
    let flags = (other + ONES * 0x0F) & (ONES * 0x10);
    ((flags.trailing_zeros() / 8) as usize, v)
}

/// The value of the first `n` (0 to 8) digits of a word from [`digit_run`].
#[inline(always)]
fn digits_value(v: u64, n: usize) -> u64 {
    // Move the n digits to the top bytes: the zero bytes below read as
    // leading zeros, and what followed the run is shifted out (all of it
    // when n is 0).
    let v = v.checked_shl(64 - 8 * n as u32).unwrap_or(0);
    // Pairs, then quadruples, then all eight, each in one multiplication.
    let v = v * 10 + (v >> 8);
    let pairs = v & 0x0000_00FF_0000_00FF;
    let next = (v >> 16) & 0x0000_00FF_0000_00FF;
    let joined = pairs
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(next.wrapping_mul(1 + (10_000 << 32)));
    (joined >> 32) & 0xFFFF_FFFF
}

/// Appends the digit run at `s[i..]` to `mantissa`: the new mantissa and
/// the run's length (runs of 16 and more give `None`). Both words are read
/// and valued whatever the run's length, so that no branch depends on it.
#[inline(always)]
fn append_digits(s: &[u8], i: usize, mantissa: u64) -> Option<(u64, usize)> {
    let (n, v) = digit_run(word(s, i)?);
    let (more, m) = digit_run(word(s, i + 8)?);
    let more = if n == 8 { more } else { 0 };
    if more == 8 {
        return None;
    }
    let mantissa = mantissa
        .wrapping_mul(POW10_INT[n])
        .wrapping_add(digits_value(v, n))
        .wrapping_mul(POW10_INT[more])
        .wrapping_add(digits_value(m, more));
    Some((mantissa, n + more))
}

/// The plain decimal that starts at `s[i]` and ends at a blank: its value
/// and the index of that blank.
#[inline(always)]
fn decimal(s: &[u8], mut i: usize) -> Option<(f64, usize)> {
    let negative = *s.get(i)? == b'-';
    i += usize::from(negative);
    let (mut mantissa, whole) = append_digits(s, i, 0)?;
    i += whole;
    let mut fraction = 0;
    if *s.get(i)? == b'.' {
        (mantissa, fraction) = append_digits(s, i + 1, mantissa)?;
        i += 1 + fraction;
    }
    let digits = whole + fraction;
    if digits == 0 || digits > 15 || *s.get(i)? > b' ' {
        return None;
    }
    // At most 15 digits: below 2^53, so the signed conversion is exact.
    let value = mantissa as i64 as f64 / POW10[fraction];
    Some((if negative { -value } else { value }, i))
}

/// How far from `s[i]` the first blank byte (up to `b' '`) lies, when one
/// lies within 16 bytes. Each field's end is found this way, independently
/// of parsing it, so that the processor can parse several fields at once
/// instead of waiting for one number to end before starting the next.
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

/// The first index from `i` on that is not a blank (a byte up to `b' '`,
/// as in [`crate::text::Fields`]), or `len`.
#[inline(always)]
fn skip_blanks(s: &[u8], mut i: usize, len: usize) -> usize {
    while i < len && s[i] <= b' ' {
        i += 1;
    }
    i
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
        if i >= len {
            return None;
        }
        let end = i + blank_offset(s, i)?;
        let (value, parsed_to) = decimal(s, i)?;
        if parsed_to != end {
            return None;
        }
        *slot = value as f32;
        i = skip_blanks(s, end, len);
    }
    let (n, v) = digit_run(word(s, i)?);
    if i >= len || n == 0 || n > 3 || *s.get(i + n)? > b' ' {
        return None;
    }
    let value = u8::try_from(digits_value(v, n)).ok()?;
    (skip_blanks(s, i + n, len) == len).then_some(value)
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
    fn digit_runs_and_values() {
        for text in ["", "7", "42", "123", "1234567", "12345678", "09", "0000"] {
            let mut bytes = text.as_bytes().to_vec();
            bytes.resize(8, b' ');
            let (n, v) = digit_run(word(&bytes, 0).unwrap());
            assert_eq!(n, text.len(), "{text}");
            let value = text.parse::<u64>().unwrap_or(0);
            assert_eq!(digits_value(v, n), value, "{text}");
        }
        // Every byte that is not a digit ends a run, whatever its value.
        for b in (0..=255u8).filter(|b| !b.is_ascii_digit()) {
            let bytes = [b'1', b'2', b, b'3', b'4', b'5', b'6', b'7'];
            assert_eq!(digit_run(u64::from_le_bytes(bytes)).0, 2, "byte {b:#x}");
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
            let s = padded(text);
            let general = parse_f64(text.as_bytes(), 1, "x").unwrap();
            if let Some((ours, end)) = decimal(&s, 0) {
                assert_eq!(ours.to_bits(), general.to_bits(), "{text}");
                assert_eq!(end, text.len(), "{text}");
                fast += 1;
            }
        }
        assert!(fast > texts.len() / 2, "{fast} of {}", texts.len());
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
            assert!(decimal(&padded(text), 0).is_none(), "{text}");
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
