//! PKU-MMD v1-style long sequences `XXXX-V.txt`: one subject performs about
//! 20 actions in a row with idle gaps, seen by three views (L, M, R at -45,
//! 0, +45 degrees); each line is one frame of 150 `%.6f` values (2 bodies x
//! 25 joints x xyz, the second body zeros when absent), and the label file of
//! the same name holds `action_id,start_frame,end_frame,confidence` (1-based,
//! inclusive) per instance.

use super::body::{Skeleton, View};
use super::format::{push_f6, push_u64};
use super::motion::ClassMotion;
use super::names::PkuVideo;
use super::scene::{cast, Actor, Timing, JITTER_M};
use super::SampleTruth;
use crate::rng::{hash_str, Rng};

/// Frames over which a pose blends into and out of the resting pose.
const BLEND: f64 = 15.0;
const VIEW_YAW: [f64; 3] = [-45.0, 0.0, 45.0];
const VIEW_LETTER: [char; 3] = ['L', 'M', 'R'];

/// The file name (without directory) of a video and 1-based view.
pub fn pku_file_name(video: &PkuVideo, view: u16) -> String {
    format!(
        "{:04}-{}.txt",
        video.number,
        VIEW_LETTER[usize::from(view.clamp(1, 3)) - 1]
    )
}

struct Instance {
    class: usize,
    start: usize,
    timing: Timing,
    actors: Vec<Actor>,
}

/// Writes the skeleton text of `video` seen from `view` (1-3) to `skeleton`
/// and its label text to `labels`; returns the ground truth.
pub fn write_pku(
    seed: u64,
    motions: &[ClassMotion],
    video: &PkuVideo,
    view: u16,
    skeleton: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> SampleTruth {
    let name = pku_file_name(video, view);
    let mut perf = Rng::from_parts(&[seed, 0x9C0, video.number.into()]);
    let mut sensor = Rng::from_parts(&[seed, 0x5E25, hash_str(&name)]);
    let subject = 5_000 + u64::from(video.subject);

    let mut instances = Vec::with_capacity(video.classes.len());
    let mut t = perf.int(20, 90) as usize;
    for &class in &video.classes {
        let actors = cast(seed, &motions[class], subject, &mut perf);
        let mut timing = Timing::new(&actors[0].motion, &mut perf);
        timing.total = timing.action;
        timing.lead = 0;
        instances.push(Instance {
            class,
            start: t,
            timing,
            actors,
        });
        t += timing.action + perf.int(20, 90) as usize;
    }
    let frames = t;
    let idle = instances
        .first()
        .map(|i| i.actors[0].clone())
        .into_iter()
        .collect::<Vec<_>>();

    let mut place = Rng::from_parts(&[seed, 0x9C1, video.number.into(), view.into()]);
    let v = View {
        origin: [
            place.range(-0.3, 0.3),
            -place.range(0.7, 1.1),
            place.range(2.4, 3.4),
        ],
        yaw: VIEW_YAW[usize::from(view.clamp(1, 3)) - 1].to_radians() + perf.range(-0.1, 0.1),
        tilt: place.range(0.0, 0.1),
    };

    let mut next = 0;
    for t in 0..frames {
        while next < instances.len() && instances[next].start + instances[next].timing.action <= t {
            next += 1;
        }
        let secs = t as f64 / 30.0;
        let (main, second) = match instances.get(next).filter(|i| i.start <= t) {
            Some(i) => {
                let u = (t - i.start) as f64 / i.timing.action as f64;
                (
                    i.actors[0].skeleton(u, secs),
                    i.actors.get(1).map(|a| a.skeleton(u, secs)),
                )
            }
            None => {
                let rest = idle.first().map(|a| a.rest_skeleton(secs));
                let mut acc = rest.unwrap_or([[0.0; 3]; 25]);
                let mut blend = |other: Skeleton, w: f64| {
                    for (a, b) in acc.iter_mut().zip(other) {
                        for c in 0..3 {
                            a[c] += w * (b[c] - a[c]);
                        }
                    }
                };
                if let Some(p) = next.checked_sub(1).map(|k| &instances[k]) {
                    let since = (t - p.start - p.timing.action) as f64;
                    if since < BLEND {
                        blend(p.actors[0].skeleton(1.0, secs), 1.0 - since / BLEND);
                    }
                }
                if let Some(n) = instances.get(next) {
                    let until = (n.start - t) as f64;
                    if until < BLEND {
                        blend(n.actors[0].skeleton(0.0, secs), 1.0 - until / BLEND);
                    }
                }
                (acc, None)
            }
        };
        if t > 0 {
            skeleton.extend_from_slice(b"\n ");
        }
        for (b, body) in [Some(main), second].into_iter().enumerate() {
            for (j, p) in body.unwrap_or([[0.0; 3]; 25]).iter().enumerate() {
                for c in 0..3 {
                    if b + j + c > 0 {
                        skeleton.push(b' ');
                    }
                    let value = match body {
                        Some(_) => (v.to_camera(*p)[c] + JITTER_M * sensor.normal()) as f32,
                        None => 0.0,
                    };
                    push_f6(skeleton, value);
                }
            }
        }
    }
    skeleton.push(b'\n');

    for i in &instances {
        push_u64(labels, i.class as u64 + 1);
        labels.push(b',');
        push_u64(labels, i.start as u64 + 1);
        labels.push(b',');
        push_u64(labels, (i.start + i.timing.action) as u64);
        labels.push(b',');
        labels.push(if perf.chance(0.7) { b'2' } else { b'1' });
        labels.push(b'\n');
    }
    SampleTruth {
        file: format!("skeletons/{name}"),
        classes: instances.iter().map(|i| i.class as u16).collect(),
        frames: frames as u32,
        actors: instances
            .iter()
            .map(|i| i.actors.len() as u8)
            .max()
            .unwrap_or(0),
        tracks: Vec::new(),
        missing_listed: false,
    }
}
