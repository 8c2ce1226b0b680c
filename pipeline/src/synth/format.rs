//! Fast number text in the styles of the raw datasets.
//!
//! - NTU RGB+D files were written by C# (`float.ToString()`): at most 7
//!   significant digits, trailing zeros dropped, scientific notation with a
//!   signed two-digit exponent (`1.234567E-05`) below 1e-4 or from 1e7 up.
//! - PKU-MMD files use C `%f`: six decimals.
//!
//! Both writers append to a reused byte buffer and never allocate.

/// Appends `v` as C# `G7` text (`0.2181153`, `277.419`, `-1.5E-05`, `0`).
pub fn push_g7(buf: &mut Vec<u8>, v: f32) {
    if !v.is_finite() {
        buf.extend_from_slice(if v.is_nan() {
            b"NaN"
        } else if v > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        });
        return;
    }
    let mut a = f64::from(v);
    if a == 0.0 {
        buf.push(b'0');
        return;
    }
    if a < 0.0 {
        buf.push(b'-');
        a = -a;
    }
    let mut e = a.log10().floor() as i32;
    let mut m = (a * pow10(6 - e)).round() as u64;
    if m >= 10_000_000 {
        e += 1;
        m = (a * pow10(6 - e)).round() as u64;
    } else if m < 1_000_000 {
        e -= 1;
        m = (a * pow10(6 - e)).round() as u64;
    }
    // m has 7 digits (rounding up to 10^7 happens only at the boundary).
    if m >= 10_000_000 {
        m /= 10;
        e += 1;
    }
    let mut digits = [0u8; 7];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    let mut n = 7;
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    if !(-4..7).contains(&e) {
        buf.push(digits[0]);
        if n > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        buf.extend_from_slice(if e < 0 { b"E-" } else { b"E+" });
        let ae = e.unsigned_abs();
        if ae < 10 {
            buf.push(b'0');
        }
        push_u64(buf, u64::from(ae));
    } else if e >= 0 {
        let int = (e as usize + 1).min(n);
        buf.extend_from_slice(&digits[..int]);
        for _ in n..e as usize + 1 {
            buf.push(b'0');
        }
        if n > int {
            buf.push(b'.');
            buf.extend_from_slice(&digits[int..]);
        }
    } else {
        buf.extend_from_slice(b"0.");
        for _ in 0..(-e - 1) {
            buf.push(b'0');
        }
        buf.extend_from_slice(digits);
    }
}

/// Appends `v` as C `%.6f` text (`-0.304560`); values that round to zero
/// print without a sign.
pub fn push_f6(buf: &mut Vec<u8>, v: f32) {
    let v = f64::from(v);
    let r = (v.abs() * 1e6).round() as u64;
    if v < 0.0 && r != 0 {
        buf.push(b'-');
    }
    push_u64(buf, r / 1_000_000);
    buf.push(b'.');
    let frac = r % 1_000_000;
    let mut d = [b'0'; 6];
    let mut f = frac;
    for slot in d.iter_mut().rev() {
        *slot = b'0' + (f % 10) as u8;
        f /= 10;
    }
    buf.extend_from_slice(&d);
}

/// Appends a decimal unsigned integer.
pub fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn pow10(k: i32) -> f64 {
    const TABLE: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    match k.unsigned_abs() as usize {
        i if i < TABLE.len() && k >= 0 => TABLE[i],
        i if i < TABLE.len() => 1.0 / TABLE[i],
        _ => 10f64.powi(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g7(v: f32) -> String {
        let mut b = Vec::new();
        push_g7(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    fn f6(v: f32) -> String {
        let mut b = Vec::new();
        push_f6(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn csharp_g7_style() {
        assert_eq!(g7(0.2181153), "0.2181153");
        assert_eq!(g7(277.419), "277.419");
        assert_eq!(g7(1036.233), "1036.233");
        assert_eq!(g7(-0.05136763), "-0.05136763");
        assert_eq!(g7(3.0), "3");
        assert_eq!(g7(0.0), "0");
        assert_eq!(g7(1.5e-5), "1.5E-05");
        assert_eq!(g7(-2.345678e-7), "-2.345678E-07");
        assert_eq!(g7(0.0001234), "0.0001234");
        assert_eq!(g7(12345678.0), "1.234568E+07");
        assert_eq!(g7(1000000.0), "1000000");
        assert_eq!(g7(f32::NAN), "NaN");
    }

    #[test]
    fn g7_round_trips_to_7_digits() {
        let mut x = 1.0e-6f32;
        while x < 1.0e6 {
            for v in [x, -x] {
                let back: f64 = g7(v).parse().unwrap();
                assert!(((back - f64::from(v)) / f64::from(v)).abs() < 6e-7, "{v}");
            }
            x *= 1.37;
        }
    }

    #[test]
    fn c_f6_style() {
        assert_eq!(f6(-0.30456), "-0.304560");
        assert_eq!(f6(2.728912), "2.728912");
        assert_eq!(f6(0.0), "0.000000");
        assert_eq!(f6(-1e-9), "0.000000");
        let mut b = Vec::new();
        push_u64(&mut b, 72057594037931101);
        assert_eq!(b, b"72057594037931101");
    }
}
