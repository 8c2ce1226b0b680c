//! NTU RGB+D `.skeleton` text from frames of bodies: the exact layout of the
//! real files (LF endings, C# number style, see [`super::format`]).

use super::format::{push_g7, push_u64};
use crate::ntu::{NtuBody, NtuSkeleton};

/// Appends the `.skeleton` text of `skeleton` to `buf`.
pub fn write_ntu(skeleton: &NtuSkeleton, buf: &mut Vec<u8>) {
    push_u64(buf, skeleton.num_frames() as u64);
    buf.push(b'\n');
    for bodies in skeleton.iter() {
        push_u64(buf, bodies.len() as u64);
        buf.push(b'\n');
        for body in bodies {
            write_body(body, buf);
        }
    }
}

fn write_body(body: &NtuBody, buf: &mut Vec<u8>) {
    let i = &body.info;
    push_u64(buf, i.body_id);
    for v in [
        i.clipped_edges,
        i.hand_left_confidence,
        i.hand_left_state,
        i.hand_right_confidence,
        i.hand_right_state,
        i.is_restricted,
    ] {
        buf.push(b' ');
        push_u64(buf, v.into());
    }
    for v in i.lean {
        buf.push(b' ');
        push_g7(buf, v);
    }
    buf.push(b' ');
    push_u64(buf, i.tracking_state.into());
    buf.extend_from_slice(b"\n25\n");
    for j in &body.joints {
        let values = [
            j.xyz[0],
            j.xyz[1],
            j.xyz[2],
            j.depth[0],
            j.depth[1],
            j.color[0],
            j.color[1],
            j.orientation[0],
            j.orientation[1],
            j.orientation[2],
            j.orientation[3],
        ];
        for v in values {
            push_g7(buf, v);
            buf.push(b' ');
        }
        push_u64(buf, j.tracking_state.into());
        buf.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntu::parse;

    #[test]
    fn real_file_round_trips_through_parse_and_write() {
        let real = include_bytes!("../../../data/samples/ntu/S001C001P001R001A001.skeleton");
        let parsed = parse(real).unwrap();
        let mut buf = Vec::new();
        write_ntu(&parsed, &mut buf);
        assert_eq!(parse(&buf).unwrap(), parsed);
    }
}
