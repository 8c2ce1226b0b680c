//! Damage that a strict parser must reject, applied to the text of a good
//! file. Every kind is guaranteed to make `ntu::parse` (resp.
//! `pku::parse_skeleton`) fail; the tests check each one.

use std::fmt;

use crate::rng::Rng;

/// How a file was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DamageKind {
    /// Zero bytes.
    Empty,
    /// Cut inside the file (a line or more missing, or a line cut short).
    Truncated,
    /// The header declares more or fewer frames than the file holds (NTU).
    FrameCount,
    /// A body count larger than the bodies that follow (NTU).
    BodyCount,
    /// A joint count of 24 or 26 with as many joint lines (NTU).
    JointCount,
    /// A joint line with 11 or 13 fields (NTU).
    JointFieldCount,
    /// A body line with 9 fields (NTU).
    BodyFieldCount,
    /// A frame line with 149 or 151 values (PKU-MMD).
    RowFieldCount,
    /// A value that is not a number (`-1.#IND`, `0.2x7`).
    NonNumeric,
    /// A `NaN` value.
    NaN,
    /// An `Infinity` or `-Infinity` value.
    Infinity,
}

impl DamageKind {
    /// Kinds that apply to NTU `.skeleton` files.
    pub const NTU: [DamageKind; 10] = [
        Self::Empty,
        Self::Truncated,
        Self::FrameCount,
        Self::BodyCount,
        Self::JointCount,
        Self::JointFieldCount,
        Self::BodyFieldCount,
        Self::NonNumeric,
        Self::NaN,
        Self::Infinity,
    ];
    /// Kinds that apply to PKU-MMD skeleton files.
    pub const PKU: [DamageKind; 6] = [
        Self::Empty,
        Self::Truncated,
        Self::RowFieldCount,
        Self::NonNumeric,
        Self::NaN,
        Self::Infinity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Truncated => "truncated",
            Self::FrameCount => "frame-count",
            Self::BodyCount => "body-count",
            Self::JointCount => "joint-count",
            Self::JointFieldCount => "joint-field-count",
            Self::BodyFieldCount => "body-field-count",
            Self::RowFieldCount => "row-field-count",
            Self::NonNumeric => "non-numeric",
            Self::NaN => "nan",
            Self::Infinity => "infinity",
        }
    }
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Byte ranges `[start, end)` of the lines of `buf` (without the newline).
fn lines(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', buf) {
        out.push((start, i));
        start = i + 1;
    }
    if start < buf.len() {
        out.push((start, buf.len()));
    }
    out
}

/// Byte ranges of the whitespace-separated fields of `line`, offset by `at`.
fn fields(line: &[u8], at: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b' ' {
            i += 1;
            continue;
        }
        let s = i;
        while i < line.len() && line[i] != b' ' {
            i += 1;
        }
        out.push((at + s, at + i));
    }
    out
}

fn pick<T: Copy>(items: &[T], rng: &mut Rng) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.below(items.len() as u64) as usize])
}

/// Damages `buf` (the text of an NTU file if `ntu`, else a PKU-MMD skeleton
/// file) in the way `kind` names. Kinds that need a kind of line the file
/// lacks fall back to changing the NTU frame count or truncating a PKU line.
pub fn apply(kind: DamageKind, ntu: bool, buf: &mut Vec<u8>, rng: &mut Rng) {
    let all = lines(buf);
    let with_fields = |n: usize| -> Vec<(usize, usize)> {
        all.iter()
            .copied()
            .filter(|&(s, e)| fields(&buf[s..e], s).len() == n)
            .collect()
    };
    let (value_lines, first_value_field) = if ntu {
        (with_fields(12), 0)
    } else {
        (with_fields(150), 0)
    };
    let value_field = |rng: &mut Rng| -> Option<(usize, usize)> {
        let (s, e) = pick(&value_lines, rng)?;
        let f = fields(&buf[s..e], s);
        let last = if ntu { 11 } else { 150 };
        Some(f[first_value_field + rng.below(last as u64) as usize])
    };
    let edit: Option<(usize, usize, Vec<u8>)> = match kind {
        DamageKind::Empty => Some((0, buf.len(), Vec::new())),
        DamageKind::Truncated if ntu => all.last().map(|&(last_start, _)| {
            let cut =
                (buf.len() / 10 + rng.below((buf.len() * 8 / 10) as u64) as usize).min(last_start);
            (cut, buf.len(), Vec::new())
        }),
        DamageKind::Truncated | DamageKind::RowFieldCount => {
            pick(&value_lines, rng).map(|(s, e)| {
                let f = fields(&buf[s..e], s);
                let k = 1 + rng.below(148) as usize;
                if kind == DamageKind::Truncated {
                    (f[k].0, buf.len(), Vec::new())
                } else if rng.chance(0.5) {
                    (f[k].0, f[k + 1].0, Vec::new())
                } else {
                    (f[k].0, f[k].0, b"0.000000 ".to_vec())
                }
            })
        }
        DamageKind::BodyCount => {
            let counts: Vec<(usize, usize)> = with_fields(1)
                .into_iter()
                .skip(1)
                .filter(|&(s, e)| &buf[s..e] != b"25")
                .collect();
            pick(&counts, rng).map(|(s, e)| {
                let n: u64 = std::str::from_utf8(&buf[s..e])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                (s, e, (n + 1).to_string().into_bytes())
            })
        }
        DamageKind::JointCount => {
            let counts: Vec<(usize, usize)> = all
                .iter()
                .copied()
                .filter(|&(s, e)| &buf[s..e] == b"25")
                .collect();
            pick(&counts, rng).and_then(|(s, e)| {
                let next = all.iter().find(|l| l.0 == e + 1).copied()?;
                Some(if rng.chance(0.5) {
                    (s, next.1, b"24".to_vec())
                } else {
                    let mut dup = b"26\n".to_vec();
                    dup.extend_from_slice(&buf[next.0..next.1]);
                    (s, e, dup)
                })
            })
        }
        DamageKind::JointFieldCount => pick(&value_lines, rng).map(|(s, e)| {
            if rng.chance(0.5) {
                let f = fields(&buf[s..e], s);
                (f[10].1, f[11].1, Vec::new())
            } else {
                (e, e, b" 0".to_vec())
            }
        }),
        DamageKind::BodyFieldCount => pick(&with_fields(10), rng).map(|(s, e)| {
            let f = fields(&buf[s..e], s);
            (f[8].0 - 1, f[8].1, Vec::new())
        }),
        DamageKind::NonNumeric => value_field(rng).map(|(s, e)| {
            let text: &[u8] = if rng.chance(0.5) {
                b"-1.#IND"
            } else {
                b"0.2x7"
            };
            (s, e, text.to_vec())
        }),
        DamageKind::NaN => value_field(rng).map(|(s, e)| (s, e, b"NaN".to_vec())),
        DamageKind::Infinity => value_field(rng).map(|(s, e)| {
            let text: &[u8] = if rng.chance(0.5) {
                b"Infinity"
            } else {
                b"-Infinity"
            };
            (s, e, text.to_vec())
        }),
        DamageKind::FrameCount => None,
    };
    let (s, e, with) = match edit {
        Some(edit) => edit,
        None if ntu => {
            let (s, e) = all.first().copied().unwrap_or((0, 0));
            let n: u64 = std::str::from_utf8(&buf[s..e])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let wrong = if n > 0 && rng.chance(0.5) {
                n - 1
            } else {
                n + 1 + rng.below(3)
            };
            (s, e, wrong.to_string().into_bytes())
        }
        None => (0, buf.len(), Vec::new()),
    };
    buf.splice(s..e, with);
}
