//! The fast paths of line parsing: lines of plain decimals, without a
//! branch that depends on the digits.
//!
//! A field is found and checked with vector compares (AVX2 or SSE2; a
//! byte-at-a-time loop off x86-64) that give one bit per byte for blanks,
//! dots, minus signs and bytes that cannot be in a number; its digits are
//! then lined up by shifts and valued eight at a time with three
//! multiplications (Lemire's method). Whether fields are well formed is
//! collected and tested once per line, so the path taken does not depend
//! on the digits: the number of digits, which varies from field to field,
//! decides nothing but shift amounts. A number is `[-]digits[.digits]`
//! of at most 15 bytes with at most eight digits before the dot; its value
//! is `mantissa / 10^k` (Clinger's fast path), one correctly rounded
//! division, so it is bit-identical to the general parser in
//! [`crate::text`]. Anything else (an exponent, a sign `+`, a longer field,
//! a bad byte, a wrong field count, the end of the buffer within reach of
//! a load) returns `None`, and the caller parses the line again with the
//! general, fully checked parser, which also writes the error message.
//!
//! The paths:
//! - [`floats_then_small_uint`] values all eleven floats of an NTU joint
//!   line, field after field (`ntu::parse`);
//! - [`joint_xyz`] classifies a whole NTU joint line at once (128 bytes:
//!   four AVX2 compares of 32 when the processor has AVX2, eight SSE2
//!   compares of 16 otherwise), values x, y and z, and only checks the
//!   other eight floats and the tracking state with bit operations on the
//!   line's masks, which is what a conversion needs (`ntu::parse_sequence`):
//!   it takes a line only when the general parser takes it too, so errors
//!   stay the same;
//! - [`floats`] values a PKU-MMD frame's 150 floats, field after field.

/// Exact powers of ten for `mantissa / 10^k` (k at most 14 here).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Powers of ten as integers, to join the digits before and after the dot.
const POW10_INT: [u64; 16] = {
    let mut p = [1u64; 16];
    let mut k = 1;
    while k < 16 {
        p[k] = p[k - 1] * 10;
        k += 1;
    }
    p
};

/// The 32 bytes at `s[i..]`, or `None` when fewer are left: a field and
/// its digits are read from them without further bounds checks.
#[inline(always)]
fn window(s: &[u8], i: usize) -> Option<&[u8; 32]> {
    s.get(i..i + 32)?.try_into().ok()
}

/// The eight bytes at `w[at..]` (`at` below 16) as a little-endian word.
#[inline(always)]
fn word(w: &[u8; 32], at: u32) -> u64 {
    let at = at as usize & 15;
    u64::from_le_bytes(w[at..at + 8].try_into().expect("eight bytes"))
}

/// The value of the `n` digits (at most 8) whose text starts `word`.
/// Other bytes may follow in the word; whether the `n` are digits is
/// checked elsewhere.
#[inline(always)]
fn digits_of(word: u64, n: u32) -> u64 {
    const MASK: u64 = 0x0000_00ff_0000_00ff;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    // Digit values, the first in the lowest byte; shifting the n digits to
    // the top drops what follows them and leaves leading zeros.
    let v = (word ^ 0x3030_3030_3030_3030)
        .checked_shl(8 * (8 - n.min(8)))
        .unwrap_or(0);
    // Lemire's eight digits in three multiplications.
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    (((v & MASK).wrapping_mul(MUL1)).wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2))) >> 32
}

/// Three classes of the first sixteen bytes of `w`, one bit per byte (the
/// first byte lowest): blanks (every byte up to a space, as in
/// [`crate::text::Fields`]), dots, and bytes that are not digits.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classes(w: &[u8; 32]) -> (u32, u32, u32) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_min_epu8, _mm_movemask_epi8,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    // SAFETY: `w` holds 32 bytes, of which the unaligned load reads 16;
    // the rest are SSE2 instructions, part of every x86-64 processor.
    unsafe {
        let v = _mm_loadu_si128(w.as_ptr().cast());
        let space = _mm_set1_epi8(b' ' as i8);
        let blank = _mm_cmpeq_epi8(_mm_max_epu8(v, space), space);
        let dot = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8));
        let value = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let digit = _mm_cmpeq_epi8(_mm_min_epu8(value, _mm_set1_epi8(9)), value);
        (
            _mm_movemask_epi8(blank) as u32,
            _mm_movemask_epi8(dot) as u32,
            !_mm_movemask_epi8(digit) as u32 & 0xffff,
        )
    }
}

/// The same classes 32 bytes at a time; only called from code compiled
/// for AVX2 on a processor that has it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn masks_avx2(s: &[u8; LINE]) -> Masks {
    use std::arch::x86_64::{
        _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8,
        _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_sub_epi8,
    };
    let mut m = Masks::default();
    for (k, chunk) in s.chunks_exact(32).enumerate() {
        // SAFETY: `chunk` holds 32 bytes, which the unaligned load reads; the
        // caller runs on a processor with AVX2.
        let classes = unsafe {
            let v = _mm256_loadu_si256(chunk.as_ptr().cast());
            let space = _mm256_set1_epi8(b' ' as i8);
            let blank = _mm256_cmpeq_epi8(_mm256_max_epu8(v, space), space);
            let offset = _mm256_sub_epi8(v, _mm256_set1_epi8(b'-' as i8));
            let in_range = _mm256_cmpeq_epi8(_mm256_min_epu8(offset, _mm256_set1_epi8(12)), offset);
            let slash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'/' as i8));
            [
                blank,
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\n' as i8)),
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'.' as i8)),
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'-' as i8)),
                _mm256_or_si256(_mm256_andnot_si256(slash, in_range), blank),
            ]
            .map(|c| _mm256_movemask_epi8(c) as u32)
        };
        m.add(32 * k, classes, 32);
    }
    m
}

/// The same classes, a byte at a time, where SSE2 is not available.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classes(w: &[u8; 32]) -> (u32, u32, u32) {
    let (mut blank, mut dot, mut other) = (0u32, 0u32, 0u32);
    for (j, &b) in w[..16].iter().enumerate() {
        blank |= u32::from(b <= b' ') << j;
        dot |= u32::from(b == b'.') << j;
        other |= u32::from(b.wrapping_sub(b'0') > 9) << j;
    }
    (blank, dot, other)
}

/// A field at the start of a window, checked but not yet valued.
#[derive(Clone, Copy)]
struct Field {
    /// Its length in bytes (up to the first blank).
    len: u32,
    /// Whether it is a plain decimal of at most 15 bytes, with at most
    /// eight digits before the dot.
    ok: bool,
    negative: bool,
    /// Where the dot is (`len` without one).
    dot: u32,
    /// Digits before and after the dot.
    whole: u32,
    fraction: u32,
}

impl Field {
    #[inline(always)]
    fn scan(w: &[u8; 32]) -> Self {
        let (blank, dot, other) = classes(w);
        let len = (blank | 1 << 16).trailing_zeros();
        let inside = (1u32 << len) - 1;
        let negative = w[0] == b'-';
        let dots = dot & inside;
        let dot = (dots | 1 << len).trailing_zeros();
        let has_dot = u32::from(dots != 0);
        let sign = u32::from(negative);
        let whole = dot - sign;
        let fraction = len - dot - has_dot;
        let ok = len < 16
            && other & inside & !dots & !sign == 0
            && dots & dots.wrapping_sub(1) == 0
            && whole + fraction > 0
            && whole <= 8;
        Self {
            len,
            ok,
            negative,
            dot,
            whole,
            fraction,
        }
    }

    /// The field that starts at byte `start` (below 48) of a line whose
    /// first 64 bytes hold minus signs at the bits of `minus`, dots at
    /// those of `dot`, and field ends at those of `ends`.
    #[inline(always)]
    fn at(minus: u64, dot: u64, ends: u64, start: u32) -> Self {
        let len = ((ends >> start).trailing_zeros() + 1).min(16);
        let negative = (minus >> start) & 1 == 1;
        let dots = (dot >> start) & ((1 << len) - 1);
        let dot = (dots | 1 << len).trailing_zeros();
        let has_dot = u32::from(dots != 0);
        let whole = dot - u32::from(negative);
        Self {
            len,
            ok: len < 16 && whole <= 8,
            negative,
            dot,
            whole,
            fraction: len - dot - has_dot,
        }
    }

    /// The integer the digits make, the dot removed (at most 15 digits:
    /// exact in an `f64`).
    #[inline(always)]
    fn mantissa(&self, w: &[u8; 32]) -> u64 {
        let whole = digits_of(word(w, u32::from(self.negative)), self.whole);
        // The last eight digits after the dot (or all of them), and those before.
        let last = self.fraction.min(8);
        let first = self.fraction - last;
        let start = self.dot + 1;
        let fraction = digits_of(word(w, start), first)
            .wrapping_mul(100_000_000)
            .wrapping_add(digits_of(word(w, start + first), last));
        whole
            .wrapping_mul(POW10_INT[self.fraction as usize & 15])
            .wrapping_add(fraction)
    }

    /// The value, correctly rounded (only meaningful when `ok`).
    #[inline(always)]
    fn value(&self, w: &[u8; 32]) -> f64 {
        // The mantissa (below 2^52) as an `f64` by placing it in the
        // significand of 2^52 and subtracting 2^52: exact, and unlike
        // `as f64` (cvtsi2sd) it does not wait for the previous field's
        // division, which would chain every division of a line.
        let two52 = f64::from_bits(0x4330_0000_0000_0000);
        let mantissa = f64::from_bits(0x4330_0000_0000_0000 | self.mantissa(w)) - two52;
        let magnitude = mantissa / POW10[self.fraction as usize & 15];
        f64::from_bits(magnitude.to_bits() | (u64::from(self.negative) << 63))
    }
}

/// The first index from `i` on that is not a blank, or `len`.
#[inline(always)]
fn skip_blanks(s: &[u8], mut i: usize, len: usize) -> usize {
    while i < len && s[i] <= b' ' {
        i += 1;
    }
    i
}

/// Reads `out.len()` plain decimals from the start of the line `s[..len]`
/// (`s` goes on past it: the loads read ahead), rounded from the `f64`
/// nearest the text as [`crate::text::parse_f32`] does. Returns whether
/// every one was well formed and the index after them (blanks skipped), or
/// `None` when the buffer ends within reach of a load.
#[inline(always)]
fn decimals(s: &[u8], len: usize, out: &mut [f32]) -> Option<(bool, usize)> {
    let mut ok = true;
    let mut i = skip_blanks(s, 0, len);
    for slot in out.iter_mut() {
        let w = window(s, i)?;
        let field = Field::scan(w);
        *slot = field.value(w) as f32;
        ok &= field.ok;
        i = skip_blanks(s, i + field.len as usize, len);
    }
    Some((ok, i))
}

/// Parses a line of `N` plain decimals (a PKU-MMD frame) into `out`;
/// `false` means: parse this line with the general parser (`out` then
/// holds nothing of use).
#[inline]
pub fn floats<const N: usize>(s: &[u8], len: usize, out: &mut [f32; N]) -> bool {
    matches!(decimals(s, len, out), Some((true, end)) if end == len)
}

/// Every float of an NTU joint line and its trailing small integer (at
/// most 255), field after field; `None` means: parse this line with the
/// general parser.
#[inline]
pub fn floats_then_small_uint(s: &[u8], len: usize, floats: &mut [f32; 11]) -> Option<u8> {
    let (mut ok, i) = decimals(s, len, floats)?;
    let w = window(s, i)?;
    let field = Field::scan(w);
    let end = i + field.len as usize;
    let value = digits_of(word(w, 0), field.len.min(8));
    ok &= field.ok && field.dot == field.len && !field.negative && field.len <= 3;
    ok &= value <= 255 && end <= len;
    (ok && skip_blanks(s, end, len) == len).then_some(value as u8)
}

/// Bytes of one line that [`joint_xyz`] classifies at once.
const LINE: usize = 128;

/// Classes of the first [`LINE`] bytes of a buffer, one bit per byte (the
/// first byte lowest).
#[derive(Default)]
struct Masks {
    /// Every byte up to a space, as in [`crate::text::Fields`].
    blank: u128,
    newline: u128,
    dot: u128,
    minus: u128,
    /// Neither a blank, a digit, a dot nor a minus.
    bad: u128,
}

impl Masks {
    /// Adds the movemask bits of one chunk (`blank`, `newline`, `dot`,
    /// `minus`, and the bytes that may be in a line) at bit `at`.
    #[inline(always)]
    fn add(&mut self, at: usize, [blank, newline, dot, minus, good]: [u32; 5], width: u32) {
        let bits = |b: u32| u128::from(b & (u32::MAX >> (32 - width))) << at;
        self.blank |= bits(blank);
        self.newline |= bits(newline);
        self.dot |= bits(dot);
        self.minus |= bits(minus);
        self.bad |= bits(!good);
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks_sse2(s: &[u8; LINE]) -> Masks {
    use std::arch::x86_64::{
        _mm_andnot_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_min_epu8,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
    };
    let mut m = Masks::default();
    for (k, chunk) in s.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` holds 16 bytes, which the unaligned load reads;
        // the rest are SSE2 instructions, part of every x86-64 processor.
        let classes = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let space = _mm_set1_epi8(b' ' as i8);
            let blank = _mm_cmpeq_epi8(_mm_max_epu8(v, space), space);
            // '-', '.' and the digits are 0x2d to 0x39, except '/' (0x2f).
            let offset = _mm_sub_epi8(v, _mm_set1_epi8(b'-' as i8));
            let in_range = _mm_cmpeq_epi8(_mm_min_epu8(offset, _mm_set1_epi8(12)), offset);
            let slash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'/' as i8));
            [
                blank,
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'-' as i8)),
                _mm_or_si128(_mm_andnot_si128(slash, in_range), blank),
            ]
            .map(|c| _mm_movemask_epi8(c) as u32)
        };
        m.add(16 * k, classes, 16);
    }
    m
}

/// The same classes, a byte at a time, where SSE2 is not available.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn masks_bytes(s: &[u8; LINE]) -> Masks {
    let mut m = Masks::default();
    for (j, &b) in s.iter().enumerate() {
        let bit = |c: bool| u128::from(c) << j;
        m.blank |= bit(b <= b' ');
        m.newline |= bit(b == b'\n');
        m.dot |= bit(b == b'.');
        m.minus |= bit(b == b'-');
        m.bad |= bit(b > b' ' && !matches!(b, b'-' | b'.' | b'0'..=b'9'));
    }
    m
}

/// The x, y and z of the NTU joint line at the start of `s`, and the
/// length of the line up to its newline. The twelve fields of the line are
/// found and checked at once from the classes of its bytes; only the first
/// three are valued, the other eight floats and the tracking state
/// (at most 255) are checked as the general parser would read them, so a
/// line this accepts is one [`crate::ntu`]'s general path accepts too, with
/// the same x, y, z. `None` (a line longer than 128 bytes, the end of
/// the buffer within reach of the loads, or anything but plain decimals)
/// means: read this line with the general parser.
#[inline]
pub fn joint_xyz(s: &[u8]) -> Option<([f32; 3], usize)> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: the processor has every feature the copy is compiled for.
            return unsafe { joint_xyz_avx2(s) };
        }
        joint_xyz_with(s, masks_sse2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    joint_xyz_with(s, masks_bytes)
}

/// [`joint_xyz`] with the SSE2 classes whatever the processor has (for
/// tests: the copy every x86-64 processor without AVX2 runs).
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn joint_xyz_sse2(s: &[u8]) -> Option<([f32; 3], usize)> {
    joint_xyz_with(s, masks_sse2)
}

/// [`joint_xyz`] compiled for AVX2 (and the bit instructions that come
/// with it: `tzcnt`, `popcnt`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,popcnt")]
unsafe fn joint_xyz_avx2(s: &[u8]) -> Option<([f32; 3], usize)> {
    // SAFETY: this copy runs only on a processor with AVX2.
    joint_xyz_with(s, |line| unsafe { masks_avx2(line) })
}

#[inline(always)]
fn joint_xyz_with(s: &[u8], masks: impl Fn(&[u8; LINE]) -> Masks) -> Option<([f32; 3], usize)> {
    // Field values read up to 24 bytes past a field's start.
    let s: &[u8; LINE + 32] = s.get(..LINE + 32)?.try_into().ok()?;
    let m = masks(s[..LINE].try_into().expect("LINE bytes"));
    let len = m.newline.trailing_zeros();
    if len as usize >= LINE {
        return None;
    }
    let inside = (1u128 << len) - 1;
    // The next line's bytes are no concern of this one.
    let m = Masks {
        dot: m.dot & inside,
        minus: m.minus & inside,
        bad: m.bad & inside,
        ..m
    };
    let fields = !m.blank & inside;
    let starts = fields & !(fields << 1);
    // The last byte of each field.
    let ends = fields & !(fields >> 1);
    let digits = fields & !(m.dot | m.minus);
    // A minus that does not start a field, a field that is only "-", "."
    // or "-.", two dots in one field (side by side, or the digits after a
    // dot running into another dot).
    let after_dot = (m.dot << 1) & digits;
    let landed = digits.wrapping_add(after_dot) & !digits;
    let wrong = m.bad
        | (m.minus & !starts)
        | (starts & ends & (m.dot | m.minus))
        | (m.minus & starts & ((m.dot & ends) >> 1))
        | (m.dot & (m.dot << 1))
        | (landed & m.dot);
    // x, y, z, then eight more floats and the tracking state.
    let mut rest = starts;
    let mut xyz = [0f32; 3];
    let mut ok = wrong == 0;
    // x, y and z lie in the first 64 bytes (on u64s, the shifts are cheap).
    let (minus, dot, low_ends) = (m.minus as u64, m.dot as u64, ends as u64);
    for v in &mut xyz {
        let start = (rest as u64).trailing_zeros();
        ok &= start < 48;
        let start = start.min(47);
        rest &= rest.wrapping_sub(1);
        let field = Field::at(minus, dot, low_ends, start);
        let w: &[u8; 32] = s[start as usize..start as usize + 32]
            .try_into()
            .expect("32 bytes");
        *v = field.value(w) as f32;
        ok &= field.ok;
    }
    let state = (LINE as u32 - 1).saturating_sub(rest.leading_zeros());
    let state_len = ((ends >> state).trailing_zeros() + 1).min(16);
    let value = digits_of(
        u64::from_le_bytes(
            s[state as usize..state as usize + 8]
                .try_into()
                .expect("eight bytes"),
        ),
        state_len.min(8),
    );
    ok &= rest.count_ones() == 9
        && ((m.dot | m.minus) >> state) & ((1 << state_len) - 1) == 0
        && state_len <= 3
        && value <= 255;
    ok.then_some((xyz, len as usize))
}

/// For tests of the fast paths: `rounds` copies of `clean`, each with one
/// to three bytes from `alphabet` put in place of, before or instead of a
/// byte drawn at random (the same draws from the same `seed`), passed to
/// `check`, which says whether the reference parser accepted the copy.
/// Returns how many it accepted and how many it refused.
#[cfg(test)]
pub(crate) fn damaged_copies(
    clean: &[u8],
    alphabet: &[u8],
    rounds: usize,
    mut seed: u64,
    mut check: impl FnMut(&[u8]) -> bool,
) -> (usize, usize) {
    let mut below = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..rounds {
        let mut data = clean.to_vec();
        for _ in 0..1 + below(3) {
            let at = below(data.len());
            let byte = alphabet[below(alphabet.len())];
            match below(3) {
                0 => data[at] = byte,
                1 => data.insert(at, byte),
                _ => {
                    data.remove(at);
                }
            }
        }
        if check(&data) {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    (accepted, refused)
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

    /// The value of a whole field by the fast path, as the general parser
    /// would give it, or `None` for the general parser.
    fn decimal(text: &[u8]) -> Option<f64> {
        let mut bytes = text.to_vec();
        bytes.push(b' ');
        bytes.resize(bytes.len().max(32), b'7');
        let w = window(&bytes, 0).unwrap();
        let field = Field::scan(w);
        (field.ok && field.len as usize == text.len()).then(|| field.value(w))
    }

    #[test]
    fn fields_end_at_the_first_blank() {
        for (text, len) in [
            ("1234567 9", Some(7)),
            ("-0.09855801\n", Some(11)),
            ("1234567.1234567 ", Some(15)),
            ("-12345678.123456 ", None),
            ("123456789 ", None),
            ("1.123456789 ", Some(11)),
            ("-.12345678901234 ", None),
            ("-.1234567890123 ", Some(15)),
        ] {
            let mut bytes = text.as_bytes().to_vec();
            bytes.resize(32, b'x');
            let field = Field::scan(window(&bytes, 0).unwrap());
            assert_eq!(field.ok.then_some(field.len), len, "{text:?}");
        }
        // Every byte up to a space is a blank, every other byte is not,
        // whatever follows it: a digit ends the field later, anything else
        // (a second dot too) spoils it.
        for b in 0..=255u8 {
            let mut bytes = [b'7'; 32];
            bytes[1] = b'.';
            bytes[3] = b;
            bytes[9] = b' ';
            let field = Field::scan(&bytes);
            let expected = match b {
                0..=b' ' => Some(3),
                b'0'..=b'9' => Some(9),
                _ => None,
            };
            assert_eq!(field.ok.then_some(field.len), expected, "byte {b:#x}");
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

    /// The SSE2 and AVX2 classes are the byte-at-a-time ones, on every
    /// byte value in every position.
    #[test]
    fn vector_classes_match_the_bytes() {
        let mut state = 0x853c_49e6_748f_ea9bu64;
        let mut line = [0u8; LINE];
        for round in 0..4_000 {
            for b in line.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Half the rounds from the bytes of numbers, half from all.
                *b = if round % 2 == 0 {
                    let alphabet = b"0123456789.-/ \t\r\n,+e";
                    alphabet[(state % alphabet.len() as u64) as usize]
                } else {
                    state as u8
                };
            }
            let want = masks_bytes(&line);
            let same = |m: Masks| {
                (m.blank, m.newline, m.dot, m.minus, m.bad)
                    == (want.blank, want.newline, want.dot, want.minus, want.bad)
            };
            #[cfg(target_arch = "x86_64")]
            {
                assert!(same(masks_sse2(&line)), "SSE2 on {line:?}");
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the processor has AVX2.
                    assert!(same(unsafe { masks_avx2(&line) }), "AVX2 on {line:?}");
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            assert!(same(masks_bytes(&line)));
        }
        // And whole lines read the same through the SSE2 copy.
        #[cfg(target_arch = "x86_64")]
        {
            let text = "-0.2297015 -0.09855801 3.196548 229.7714 219.2539 901.0728 598.6826 0.4857785 0.02171833 0.8725384 0.04716216 2\n";
            let buffer = text.repeat(3);
            assert_eq!(
                joint_xyz_with(buffer.as_bytes(), masks_sse2),
                joint_xyz(buffer.as_bytes())
            );
            assert_eq!(
                joint_xyz(buffer.as_bytes()),
                Some(([-0.2297015, -0.09855801, 3.196548], text.len() - 1))
            );
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
