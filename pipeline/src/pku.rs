//! PKU-MMD skeleton and label files, and the cutting of labelled clips
//! (SPEC section 2).
//!
//! A skeleton file holds one frame per line: 150 floats, two bodies of 25
//! joints of x y z, the second all zeros when absent. A label file holds one
//! action instance per line, `action_id,start_frame,end_frame,confidence`
//! (1-based, inclusive). Each instance becomes a clip `frames[start-1 .. end]`,
//! centre-cropped to at most [`MAX_CLIP_FRAMES`] frames and named as the
//! zero-shot literature does: `F{file:03}V{view:03}C{action:03}L{row:03}` for
//! phase 1 and `A{aa:03}N{nn:03}V{view:03}C{action:03}L{row:03}` for phase 2.

use std::fmt;

use crate::error::ParseError;
use crate::frames::{Body, Sequence};
use crate::scan;
use crate::text::{parse_f32, parse_uint, Fields, Lines};

/// Floats per skeleton line.
pub const FLOATS_PER_FRAME: usize = 150;
/// Clips longer than this are centre-cropped.
pub const MAX_CLIP_FRAMES: usize = 300;

/// Which PKU-MMD phase a file name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PkuSequence {
    /// Phase 1: `XXXX-V`, XXXX the video number.
    V1 { video: u16 },
    /// Phase 2: `A##N##-V`.
    V2 { a: u16, n: u16 },
}

/// The metadata in a PKU-MMD file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PkuName {
    pub sequence: PkuSequence,
    /// 1 = L, 2 = M, 3 = R.
    pub view: u16,
}

impl PkuName {
    /// Parses a stem such as `0291-M` (phase 1) or `A10N08-L` (phase 2).
    pub fn parse(stem: &str) -> Option<Self> {
        let (seq, view) = stem.split_once('-')?;
        let view = match view {
            "L" => 1,
            "M" => 2,
            "R" => 3,
            _ => return None,
        };
        let digits = |s: &str| -> Option<u16> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
        };
        let sequence = if seq.len() == 4 {
            PkuSequence::V1 {
                video: digits(seq)?,
            }
        } else {
            let rest = seq.strip_prefix('A')?;
            let (a, n) = rest.split_once('N')?;
            if a.len() != 2 || n.len() != 2 {
                return None;
            }
            PkuSequence::V2 {
                a: digits(a)?,
                n: digits(n)?,
            }
        };
        Some(Self { sequence, view })
    }

    /// The clip name of label row `row` (1-based) with 1-based `action`.
    pub fn clip_name(&self, action: u16, row: usize) -> String {
        format!("{self}C{action:03}L{row:03}")
    }
}

impl fmt::Display for PkuName {
    /// The clip-name prefix: `F002V001` or `A010N008V001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sequence {
            PkuSequence::V1 { video } => write!(f, "F{video:03}V{:03}", self.view),
            PkuSequence::V2 { a, n } => write!(f, "A{a:03}N{n:03}V{:03}", self.view),
        }
    }
}

/// One labelled action instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelRow {
    /// 1-based row of the label file (the `L` of the clip name).
    pub row: usize,
    /// 1-based action id.
    pub action: u16,
    /// 1-based first frame.
    pub start: u32,
    /// 1-based last frame, inclusive.
    pub end: u32,
    pub confidence: u8,
}

/// Parses a label file: `action_id,start_frame,end_frame,confidence` per line.
pub fn parse_labels(data: &[u8], num_classes: u16) -> Result<Vec<LabelRow>, ParseError> {
    let mut lines = Lines::new(data);
    let mut rows = Vec::new();
    while let Some(text) = lines.next_line() {
        let line = lines.line_no();
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let fields: Vec<&[u8]> = text.split(|&b| b == b',').map(|f| f.trim_ascii()).collect();
        if fields.len() != 4 {
            return Err(ParseError::FieldCount {
                line,
                what: "label",
                expected: 4,
                got: fields.len(),
            });
        }
        let action = parse_uint(fields[0], line, "action_id", u64::from(num_classes))? as u16;
        let start = parse_uint(fields[1], line, "start_frame", u64::from(u32::MAX))? as u32;
        let end = parse_uint(fields[2], line, "end_frame", u64::from(u32::MAX))? as u32;
        let confidence = parse_uint(fields[3], line, "confidence", 255)? as u8;
        if action == 0 {
            return Err(ParseError::Invalid {
                line,
                message: "action_id 0: action ids are 1-based".into(),
            });
        }
        if start == 0 || end < start {
            return Err(ParseError::Invalid {
                line,
                message: format!("frames {start}..{end} are not a 1-based inclusive interval"),
            });
        }
        rows.push(LabelRow {
            row: rows.len() + 1,
            action,
            start,
            end,
            confidence,
        });
    }
    Ok(rows)
}

/// A parsed PKU-MMD skeleton file: one row of 150 floats per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PkuSkeleton {
    pub values: Vec<f32>,
}

impl PkuSkeleton {
    pub fn num_frames(&self) -> usize {
        self.values.len() / FLOATS_PER_FRAME
    }

    /// The 150 values of frame `t` (0-based).
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.values[t * FLOATS_PER_FRAME..(t + 1) * FLOATS_PER_FRAME]
    }

    /// Frames `start..end` (0-based, end exclusive) as a sequence; the two
    /// body slots become body IDs 0 and 1, present where not all zero.
    pub fn to_sequence(&self, start: usize, end: usize) -> Sequence {
        let mut seq = Sequence::with_capacity(end - start, 2 * (end - start));
        for t in start..end {
            for (slot, body) in self.frame(t).chunks_exact(75).enumerate() {
                if body.iter().any(|&v| v != 0.0) {
                    seq.push(Body {
                        id: slot as u64,
                        pose: std::array::from_fn(|j| {
                            [body[3 * j], body[3 * j + 1], body[3 * j + 2]]
                        }),
                    });
                }
            }
            seq.end_frame();
        }
        seq
    }
}

/// Parses a PKU-MMD skeleton file, checking every value.
pub fn parse_skeleton(data: &[u8]) -> Result<PkuSkeleton, ParseError> {
    parse_skeleton_with(data, true)
}

/// [`parse_skeleton`], with or without the fast path for lines of plain
/// decimals ([`scan::floats`]); both give the same result (tested).
fn parse_skeleton_with(data: &[u8], fast: bool) -> Result<PkuSkeleton, ParseError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let mut lines = Lines::new(data);
    let mut values = Vec::with_capacity(data.len() / 8);
    let mut frame = [0f32; FLOATS_PER_FRAME];
    loop {
        if fast {
            let rest = lines.rest();
            if let Some(len) = memchr::memchr(b'\n', rest) {
                if scan::floats(rest, len, &mut frame) {
                    values.extend_from_slice(&frame);
                    lines.skip_line(len);
                    continue;
                }
            }
        }
        let Some(text) = lines.next_line() else { break };
        let line = lines.line_no();
        if text.iter().all(u8::is_ascii_whitespace) {
            // Blank lines may only close the file.
            return lines
                .expect_end(&|| format!("{} frames", values.len() / FLOATS_PER_FRAME))
                .map(|()| PkuSkeleton { values });
        }
        let mut fields = Fields::new(text);
        let mut n = 0;
        while let Some(field) = fields.next_field() {
            if n == FLOATS_PER_FRAME {
                n = Fields::count(text);
                break;
            }
            values.push(parse_f32(field, line, "coordinate")?);
            n += 1;
        }
        if n != FLOATS_PER_FRAME {
            return Err(ParseError::FieldCount {
                line,
                what: "coordinate",
                expected: FLOATS_PER_FRAME,
                got: n,
            });
        }
    }
    Ok(PkuSkeleton { values })
}

/// The 0-based frame range of a labelled clip, centre-cropped to
/// [`MAX_CLIP_FRAMES`]; `None` if the label runs past the end of the file.
pub fn clip_range(label: &LabelRow, frames: usize) -> Option<(usize, usize)> {
    let start = label.start as usize - 1;
    let end = label.end as usize;
    if end > frames {
        return None;
    }
    let len = end - start;
    if len > MAX_CLIP_FRAMES {
        let offset = (len - MAX_CLIP_FRAMES) / 2;
        Some((start + offset, start + offset + MAX_CLIP_FRAMES))
    } else {
        Some((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and the general parser agree on every file: the same
    /// values, or the same error. Each file is a realistic one with a few
    /// bytes replaced, inserted or removed.
    #[test]
    fn the_fast_path_agrees_with_the_general_parser_on_damaged_files() {
        let numbers = [
            "-0.2297015",
            "0.009654825",
            "3.196548",
            "-.5",
            "0",
            "229.7714",
        ];
        let mut clean = String::new();
        for frame in 0..6 {
            let mut line: Vec<&str> = (0..FLOATS_PER_FRAME)
                .map(|k| numbers[(k * 7 + frame) % numbers.len()])
                .collect();
            if frame == 3 {
                // The Kinect's exponent form: this line takes the general parser.
                line[40] = "-5.519371E-06";
            }
            clean += &line.join(" ");
            clean += if frame % 2 == 0 { "\n" } else { " \r\n" };
        }
        let fast = parse_skeleton_with(clean.as_bytes(), true).unwrap();
        assert_eq!(fast, parse_skeleton_with(clean.as_bytes(), false).unwrap());
        assert_eq!(fast.values.len(), 6 * FLOATS_PER_FRAME);
        let (ok, failed) = scan::damaged_copies(
            clean.as_bytes(),
            b"0123456789.-+eE \t\r\nx",
            3_000,
            0x2545_f491_4f6c_dd1d,
            |data| {
                let general = parse_skeleton_with(data, false);
                assert_eq!(
                    parse_skeleton_with(data, true),
                    general,
                    "{}",
                    String::from_utf8_lossy(data)
                );
                general.is_ok()
            },
        );
        assert!(ok > 300 && failed > 300, "{ok} parsed, {failed} refused");
    }

    #[test]
    fn names_and_clip_names() {
        let v1 = PkuName::parse("0002-L").unwrap();
        assert_eq!(v1.clip_name(12, 3), "F002V001C012L003");
        let v2 = PkuName::parse("A10N08-R").unwrap();
        assert_eq!(v2.clip_name(5, 14), "A010N008V003C005L014");
        for bad in ["0002", "0002-X", "A1N08-L", "002-L", "abcd-L"] {
            assert!(PkuName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn labels_parse_and_reject() {
        let rows = parse_labels(b"3,10,50,1\r\n51,60,70,2\n\n", 51).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].row, rows[1].action, rows[1].start, rows[1].end),
            (2, 51, 60, 70)
        );
        assert_eq!(parse_labels(b"52,1,2,1", 51).unwrap_err().line(), 1);
        assert!(parse_labels(b"1,1,2,1\n1,5,4,1", 51).is_err());
        assert!(parse_labels(b"1,1,2", 51).is_err());
    }

    #[test]
    fn clips_are_centre_cropped() {
        let label = |start, end| LabelRow {
            row: 1,
            action: 1,
            start,
            end,
            confidence: 1,
        };
        assert_eq!(clip_range(&label(1, 10), 10), Some((0, 10)));
        assert_eq!(clip_range(&label(1, 11), 10), None);
        assert_eq!(clip_range(&label(101, 420), 1000), Some((110, 410)));
    }

    #[test]
    fn skeleton_rows_need_150_values() {
        let row: String = (0..150).map(|i| format!("{} ", i as f32 * 0.01)).collect();
        let sk = parse_skeleton(format!("{row}\n{row}\n").as_bytes()).unwrap();
        assert_eq!(sk.num_frames(), 2);
        let seq = sk.to_sequence(0, 2);
        assert_eq!(seq.frame(0).len(), 2);
        let err = parse_skeleton(format!("{row}\n1 2 3\n").as_bytes()).unwrap_err();
        assert_eq!(err.line(), 2);
    }
}
