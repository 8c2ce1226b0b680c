//! NTU RGB+D `.skeleton` files: names and the text format (SPEC section 2).

use std::fmt;

use crate::error::ParseError;
use crate::frames::{Body, Frames, Sequence};
use crate::scan;
use crate::text::{parse_count_line, parse_f32, parse_uint, Fields, Lines};

/// Joint fields per line: x y z depthX depthY colorX colorY oriW oriX oriY oriZ trackingState.
pub const JOINT_FIELDS: usize = 12;
/// Body fields per line: bodyID clipedEdges handLeftConfidence handLeftState
/// handRightConfidence handRightState isRestricted leanX leanY trackingState.
pub const BODY_FIELDS: usize = 10;
/// More bodies than this in one frame means the file is damaged (Kinect v2 tracks six).
const MAX_BODIES_PER_FRAME: u64 = 64;
/// More frames than this means the header is damaged (NTU's longest is about 700).
const MAX_FRAMES: u64 = 1_000_000;

/// The metadata in an NTU file name `SsssCcccPpppRrrrAaaa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtuName {
    pub setup: u16,
    pub camera: u16,
    pub subject: u16,
    pub replication: u16,
    pub action: u16,
}

impl NtuName {
    /// Parses a file stem such as `S001C002P003R002A013`.
    pub fn parse(stem: &str) -> Option<Self> {
        let b = stem.as_bytes();
        if b.len() != 20 {
            return None;
        }
        let num = |tag: u8, at: usize| -> Option<u16> {
            if b[at] != tag {
                return None;
            }
            let digits = &b[at + 1..at + 4];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(
                digits
                    .iter()
                    .fold(0u16, |v, d| v * 10 + u16::from(d - b'0')),
            )
        };
        Some(Self {
            setup: num(b'S', 0)?,
            camera: num(b'C', 4)?,
            subject: num(b'P', 8)?,
            replication: num(b'R', 12)?,
            action: num(b'A', 16)?,
        })
    }
}

impl fmt::Display for NtuName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "S{:03}C{:03}P{:03}R{:03}A{:03}",
            self.setup, self.camera, self.subject, self.replication, self.action
        )
    }
}

/// The ten body fields of a body header line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BodyInfo {
    /// Exceeds 2^53 in the real data: never parse it as a float.
    pub body_id: u64,
    pub clipped_edges: u8,
    pub hand_left_confidence: u8,
    pub hand_left_state: u8,
    pub hand_right_confidence: u8,
    pub hand_right_state: u8,
    pub is_restricted: u8,
    pub lean: [f32; 2],
    pub tracking_state: u8,
}

/// The twelve fields of one joint line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Joint {
    pub xyz: [f32; 3],
    pub depth: [f32; 2],
    pub color: [f32; 2],
    /// Orientation quaternion (w, x, y, z).
    pub orientation: [f32; 4],
    pub tracking_state: u8,
}

/// One body of one frame with every field of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct NtuBody {
    pub info: BodyInfo,
    pub joints: [Joint; 25],
}

/// A parsed `.skeleton` file.
pub type NtuSkeleton = Frames<NtuBody>;

/// Parses the text of a `.skeleton` file, checking every field.
pub fn parse(data: &[u8]) -> Result<NtuSkeleton, ParseError> {
    parse_frames(data)
}

/// Parses the text of a `.skeleton` file into the bodies' IDs and x, y, z,
/// checking every field as [`parse`] does: the same errors, and the same
/// sequence as `to_sequence(&parse(data)?)`, without keeping the fields
/// the cleaning presets do not use (and, on the fast path, without valuing
/// them).
pub fn parse_sequence(data: &[u8]) -> Result<Sequence, ParseError> {
    parse_frames(data)
}

/// What a parse keeps of each body.
trait Keep: Sized {
    /// What it keeps of a joint line.
    type Joint: Copy + Default;
    /// The joint line at the start of `rest` by a fast path, and the length
    /// of the line up to its newline; `None` leaves it to [`parse_joint`].
    fn fast(rest: &[u8]) -> Option<(Self::Joint, usize)>;
    fn joint(joint: Joint) -> Self::Joint;
    fn body(info: BodyInfo, joints: [Self::Joint; 25]) -> Self;
}

impl Keep for NtuBody {
    type Joint = Joint;

    #[inline]
    fn fast(rest: &[u8]) -> Option<(Joint, usize)> {
        let len = memchr::memchr(b'\n', rest)?;
        let mut v = [0f32; JOINT_FIELDS - 1];
        let tracking_state = scan::floats_then_small_uint(rest, len, &mut v)?;
        let joint = Joint {
            xyz: [v[0], v[1], v[2]],
            depth: [v[3], v[4]],
            color: [v[5], v[6]],
            orientation: [v[7], v[8], v[9], v[10]],
            tracking_state,
        };
        Some((joint, len))
    }

    fn joint(joint: Joint) -> Joint {
        joint
    }

    fn body(info: BodyInfo, joints: [Joint; 25]) -> Self {
        NtuBody { info, joints }
    }
}

impl Keep for Body {
    type Joint = [f32; 3];

    #[inline]
    fn fast(rest: &[u8]) -> Option<([f32; 3], usize)> {
        scan::joint_xyz(rest)
    }

    fn joint(joint: Joint) -> [f32; 3] {
        joint.xyz
    }

    fn body(info: BodyInfo, pose: [[f32; 3]; 25]) -> Self {
        Body {
            id: info.body_id,
            pose,
        }
    }
}

fn parse_frames<B: Keep>(data: &[u8]) -> Result<Frames<B>, ParseError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let mut lines = Lines::new(data);
    let header = lines.expect_line(&|| "the frame count".into())?;
    let frames = parse_count_line(header, 1, "frame count", MAX_FRAMES)?;
    // Capacity from the header is capped: a damaged header must not allocate gigabytes.
    let mut out = Frames::with_capacity(frames.min(4096) as usize, frames.min(4096) as usize);
    for t in 0..frames {
        let text =
            lines.expect_line(&|| format!("the body count of frame {} of {frames}", t + 1))?;
        let bodies = parse_count_line(text, lines.line_no(), "body count", MAX_BODIES_PER_FRAME)?;
        for b in 0..bodies {
            let what = || format!("body {} of {bodies} in frame {} of {frames}", b + 1, t + 1);
            let info = parse_body_info(lines.expect_line(&what)?, lines.line_no())?;
            let text = lines.expect_line(&|| format!("the joint count of {}", what()))?;
            let count = parse_count_line(text, lines.line_no(), "joint count", u64::MAX)?;
            if count != 25 {
                return Err(ParseError::JointCount {
                    line: lines.line_no(),
                    got: count,
                });
            }
            let mut joints = [B::Joint::default(); 25];
            for (j, joint) in joints.iter_mut().enumerate() {
                if let Some((parsed, len)) = B::fast(lines.rest()) {
                    lines.skip_line(len);
                    *joint = parsed;
                    continue;
                }
                let text = lines.next_line().ok_or_else(|| ParseError::Truncated {
                    line: lines.line_no() + 1,
                    expected: format!("joint {} of {}", j + 1, what()),
                })?;
                *joint = B::joint(parse_joint(text, lines.line_no())?);
            }
            out.push(B::body(info, joints));
        }
        out.end_frame();
    }
    lines.expect_end(&|| format!("{frames} frames the header declares"))?;
    Ok(out)
}

fn field_count_error(
    line_text: &[u8],
    line: u64,
    what: &'static str,
    expected: usize,
) -> ParseError {
    ParseError::FieldCount {
        line,
        what,
        expected,
        got: Fields::count(line_text),
    }
}

fn parse_body_info(text: &[u8], line: u64) -> Result<BodyInfo, ParseError> {
    let mut f = Fields::new(text);
    let mut next = || {
        f.next_field()
            .ok_or_else(|| field_count_error(text, line, "body", BODY_FIELDS))
    };
    let small = |field: &[u8], what| parse_uint(field, line, what, 255).map(|v| v as u8);
    let info = BodyInfo {
        body_id: parse_uint(next()?, line, "bodyID", u64::MAX)?,
        clipped_edges: small(next()?, "clipedEdges")?,
        hand_left_confidence: small(next()?, "handLeftConfidence")?,
        hand_left_state: small(next()?, "handLeftState")?,
        hand_right_confidence: small(next()?, "handRightConfidence")?,
        hand_right_state: small(next()?, "handRightState")?,
        is_restricted: small(next()?, "isRestricted")?,
        lean: [
            parse_f32(next()?, line, "leanX")?,
            parse_f32(next()?, line, "leanY")?,
        ],
        tracking_state: small(next()?, "trackingState")?,
    };
    if f.next_field().is_some() {
        return Err(field_count_error(text, line, "body", BODY_FIELDS));
    }
    Ok(info)
}

fn parse_joint(text: &[u8], line: u64) -> Result<Joint, ParseError> {
    const NAMES: [&str; 11] = [
        "x",
        "y",
        "z",
        "depthX",
        "depthY",
        "colorX",
        "colorY",
        "orientationW",
        "orientationX",
        "orientationY",
        "orientationZ",
    ];
    let mut f = Fields::new(text);
    let mut v = [0f32; 11];
    for (slot, name) in v.iter_mut().zip(NAMES) {
        let field = f
            .next_field()
            .ok_or_else(|| field_count_error(text, line, "joint", JOINT_FIELDS))?;
        *slot = parse_f32(field, line, name)?;
    }
    let state = f
        .next_field()
        .ok_or_else(|| field_count_error(text, line, "joint", JOINT_FIELDS))?;
    let tracking_state = parse_uint(state, line, "trackingState", 255)? as u8;
    if f.next_field().is_some() {
        return Err(field_count_error(text, line, "joint", JOINT_FIELDS));
    }
    Ok(Joint {
        xyz: [v[0], v[1], v[2]],
        depth: [v[3], v[4]],
        color: [v[5], v[6]],
        orientation: [v[7], v[8], v[9], v[10]],
        tracking_state,
    })
}

/// The x, y, z view of a parsed file that the cleaning presets work on.
pub fn to_sequence(skeleton: &NtuSkeleton) -> Sequence {
    skeleton.map(|b| Body {
        id: b.info.body_id,
        pose: std::array::from_fn(|j| b.joints[j].xyz),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = NtuName::parse("S018C002P045R001A061").unwrap();
        assert_eq!(
            (n.setup, n.camera, n.subject, n.replication, n.action),
            (18, 2, 45, 1, 61)
        );
        assert_eq!(n.to_string(), "S018C002P045R001A061");
        for bad in [
            "S01C002P045R001A061",
            "X018C002P045R001A061",
            "S018C002P045R001A06x",
            "",
        ] {
            assert!(NtuName::parse(bad).is_none(), "{bad}");
        }
    }

    fn joint_line(x: f32) -> String {
        format!("{x} 0.5 3.1 250 200 1000 500 0.1 0.2 0.3 0.9 2\n")
    }

    fn file(frames: &[usize]) -> String {
        let mut s = format!("{}\n", frames.len());
        for &bodies in frames {
            s += &format!("{bodies}\n");
            for b in 0..bodies {
                s += &format!(
                    "{} 0 1 1 1 1 0 0.01 -0.02 2\n25\n",
                    72057594037931101u64 + b as u64
                );
                for j in 0..25 {
                    s += &joint_line(j as f32 * 0.1);
                }
            }
        }
        s
    }

    #[test]
    fn parses_bodies_and_empty_frames() {
        let sk = parse(file(&[1, 0, 3]).as_bytes()).unwrap();
        assert_eq!(sk.num_frames(), 3);
        assert_eq!(sk.frame(1).len(), 0);
        assert_eq!(sk.frame(2).len(), 3);
        let body = &sk.frame(2)[2];
        assert_eq!(body.info.body_id, 72057594037931103);
        assert_eq!(body.joints[3].xyz, [3.0f32 * 0.1, 0.5, 3.1]);
        assert_eq!(body.joints[0].orientation, [0.1, 0.2, 0.3, 0.9]);
        assert_eq!(body.joints[0].tracking_state, 2);
        assert_eq!(body.info.lean, [0.01, -0.02]);
    }

    /// A file of realistic joint lines: long fractions, negative numbers,
    /// zero quaternions and an exponent, as the Kinect writes them.
    fn realistic_file() -> String {
        let lines = [
            "-0.2297015 -0.09855801 3.196548 229.7714 219.2539 901.0728 598.6826 0.4857785 0.02171833 0.8725384 0.04716216 2",
            "0.009654825 -0.2346558 3.243325 257.0865 234.4079 980.1503 642.6914 -0.1959445 0.8515585 0.06288673 0.4821816 1",
            "-0.2362088 0.692835 3.280734 229.7205 130.9182 900.4824 342.1461 0 0 0 0 2",
            "0.04531883 0.1161929 3.362407 260.9195 195.3869 990.6798 529.3702 -0.3173478 -5.519371E-06 0.9483055 -0.002637017 2",
        ];
        let mut s = "2\n".to_string();
        for frame in 0..2 {
            s += "1\n72057594037931101 0 1 1 1 1 0 0.01 -0.02 2\n25\n";
            for j in 0..25 {
                s += lines[(j + frame) % lines.len()];
                s += if j % 7 == 3 { "\r\n" } else { "\n" };
            }
        }
        s
    }

    /// Every field of a joint line replaced by forms near the edge of the
    /// grammar: the fast x, y, z path takes a line only when the general
    /// parser takes it too, with the same x, y, z, and it does take the
    /// plain ones.
    #[test]
    fn the_fast_xyz_path_takes_only_what_the_general_parser_takes() {
        let template = "-0.2297015 -0.09855801 3.196548 229.7714 219.2539 901.0728 598.6826 0.4857785 0.02171833 0.8725384 0.04716216 2";
        let tokens = [
            "-.",
            ".",
            "-",
            "1.2.3",
            "1-2",
            "--1",
            "-1.",
            ".5",
            "-.5",
            "1e5",
            "+1",
            "1..2",
            "0.00000000000000000000000001",
            "255",
            "256",
            "007",
            "1/2",
            "12345678.5",
            "123456789.5",
            "-0.12345678901234",
            "nan",
            "",
        ];
        let mut taken = 0;
        for field in 0..12 {
            for token in tokens {
                let mut fields: Vec<&str> = template.split(' ').collect();
                fields[field] = token;
                let line = fields.join(" ");
                let mut buffer = line.clone().into_bytes();
                buffer.push(b'\n');
                buffer.extend_from_slice(template.repeat(2).as_bytes());
                let general = parse_joint(line.as_bytes(), 1);
                match scan::joint_xyz(&buffer) {
                    Some((xyz, len)) => {
                        assert_eq!(len, line.len(), "{line}");
                        let joint = general.unwrap_or_else(|e| panic!("{line}: {e}"));
                        assert_eq!(xyz.map(f32::to_bits), joint.xyz.map(f32::to_bits), "{line}");
                        taken += 1;
                    }
                    None => assert!(
                        general.is_err()
                            || line.len() >= 128
                            || line.contains(['e', '+'])
                            || line.contains("123456789.5")
                            || line.contains("0.12345678901234"),
                        "a plain line left to the general parser: {line}"
                    ),
                }
            }
        }
        assert!(taken > 60, "{taken}");
        let mut buffer = format!("{template}\n").into_bytes();
        buffer.extend_from_slice(template.repeat(2).as_bytes());
        assert!(scan::joint_xyz(&buffer).is_some());
    }

    /// The x, y, z parse and the full parse agree on every file: the same
    /// sequence, or the same error at the same line. Each file is a
    /// realistic one with a few bytes replaced, inserted or removed, drawn
    /// from the bytes that make numbers and lines.
    #[test]
    fn the_xyz_parse_agrees_with_the_full_parse_on_damaged_files() {
        let clean = realistic_file();
        let full = |data: &[u8]| parse(data).map(|sk| to_sequence(&sk));
        assert_eq!(parse_sequence(clean.as_bytes()), full(clean.as_bytes()));
        assert!(full(clean.as_bytes()).is_ok());
        let (ok, failed) = scan::damaged_copies(
            clean.as_bytes(),
            b"0123456789.-+eE \t\r\nx/,:",
            6_000,
            0x9e37_79b9_7f4a_7c15,
            |data| {
                let expected = full(data);
                assert_eq!(
                    parse_sequence(data),
                    expected,
                    "{}",
                    String::from_utf8_lossy(data)
                );
                // The SSE2 copy reads every line start as the one in use.
                #[cfg(target_arch = "x86_64")]
                for start in
                    std::iter::once(0).chain(memchr::memchr_iter(b'\n', data).map(|i| i + 1))
                {
                    assert_eq!(
                        scan::joint_xyz_sse2(&data[start..]),
                        scan::joint_xyz(&data[start..])
                    );
                }
                expected.is_ok()
            },
        );
        // Both outcomes are common, so both paths were compared.
        assert!(ok > 600 && failed > 600, "{ok} parsed, {failed} refused");
    }

    #[test]
    fn crlf_gives_the_same_values() {
        let lf = file(&[2, 1]);
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(
            parse(lf.as_bytes()).unwrap(),
            parse(crlf.as_bytes()).unwrap()
        );
    }
}
