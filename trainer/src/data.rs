//! Samples of a converted dataset, selected by a split file, as batches of
//! `N x C x T x V x M` tensors (C = 3, V = 25, M = 2).
//!
//! The samples a job needs are read from the Parquet shards once and kept in
//! memory at the config's T (each sample's valid frames resampled to T,
//! about 38 kB per sample at T = 64). Batches are assembled on a background
//! thread (prefetch) in an order fixed by the seed and the epoch, with the
//! usual training-time augmentation: a random window of the valid frames and
//! a random rotation about the vertical axis. They are rendered straight into
//! the model's layout, by several threads when they feed a GPU, and handed
//! over as tensors, in pinned memory for a GPU so that the copy to the device
//! does not block.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use skel_pipeline::rng::Rng;
use skel_pipeline::shard::{hash_file, read_shard};
use skel_schemas::{Manifest, SampleRecord, SplitFile, MANIFEST_FILE};

/// Joints per actor.
pub const V: usize = 25;
/// Actor slots per sample.
pub const M: usize = 2;
/// Coordinates per joint.
pub const C: usize = 3;
const POSE: usize = V * C;

/// One sample in memory: its valid frames, `frames x M x V x C`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    /// 0-based class index of the dataset.
    pub class: u16,
    pub frames: usize,
    pub joints: Vec<f32>,
}

/// The samples of a dataset that a split names, by name.
pub struct SampleStore {
    pub manifest: Manifest,
    pub split: SplitFile,
    pub samples: HashMap<String, Arc<Sample>>,
}

impl SampleStore {
    /// Reads the split, checks it was made from this dataset, and loads every
    /// sample any of its parts names.
    pub fn load(dataset: &Path, split_path: &Path) -> anyhow::Result<Self> {
        let manifest_path = dataset.join(MANIFEST_FILE);
        let manifest = Manifest::read(&manifest_path)?;
        let split = SplitFile::read(split_path)?;
        let (sha, _) = hash_file(&manifest_path)?;
        split.check_manifest(split_path, &sha)?;
        split.check_classes(split_path, &manifest.classes)?;
        let wanted: std::collections::HashSet<&str> = split
            .parts
            .named()
            .iter()
            .flat_map(|(_, names)| names.iter().map(String::as_str))
            .collect();
        let mut samples = HashMap::new();
        for shard in &manifest.shards {
            for row in read_shard(&Manifest::shard_path(dataset, shard), true)? {
                if wanted.contains(row.sample.as_str()) {
                    samples.insert(row.sample.clone(), Arc::new(to_sample(row)?));
                }
            }
        }
        if let Some(missing) = wanted.iter().find(|n| !samples.contains_key(**n)) {
            anyhow::bail!(
                "split {} names sample {missing}, which dataset {} does not hold",
                split_path.display(),
                dataset.display()
            );
        }
        check_sample_classes(&split, split_path, &samples)?;
        Ok(Self {
            manifest,
            split,
            samples,
        })
    }

    /// The samples of a list of names, in that order.
    pub fn part(&self, names: &[String]) -> Vec<Arc<Sample>> {
        names.iter().map(|n| Arc::clone(&self.samples[n])).collect()
    }
}

/// Refuses a sample in a part of the wrong role (a train-seen sample of an
/// unseen class, say): the split file was edited or belongs to another split.
fn check_sample_classes(
    split: &SplitFile,
    path: &Path,
    samples: &HashMap<String, Arc<Sample>>,
) -> anyhow::Result<()> {
    let ids = |list: &[skel_schemas::ClassEntry]| -> BTreeSet<u16> {
        list.iter().map(|c| c.index).collect()
    };
    let c = &split.classes;
    let (seen, unseen, held) = (ids(&c.seen), ids(&c.unseen), ids(&c.validation_unseen));
    let validation_seen: BTreeSet<u16> = seen.difference(&held).copied().collect();
    for (part, names) in split.parts.named() {
        let (role, allowed) = match part {
            "train_seen" | "test_seen" => ("seen", &seen),
            "test_unseen" => ("unseen", &unseen),
            "validation_unseen" => ("validation_unseen", &held),
            _ => ("seen and not validation_unseen", &validation_seen),
        };
        for (i, name) in names.iter().enumerate() {
            let class = samples[name].class;
            if !allowed.contains(&class) {
                anyhow::bail!(
                    "split file {}, key `parts.{part}[{i}]`: sample {name} is of class index {class} \
                     in the dataset, which is not among the split's {role} classes; make the split \
                     again from the dataset (skel-pipeline split) rather than editing it",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

fn to_sample(row: SampleRecord) -> anyhow::Result<Sample> {
    let actors = usize::from(row.actors);
    let frames = row.valid_frames as usize;
    if row.joints.len() != row.frames as usize * actors * POSE || frames > row.frames as usize {
        anyhow::bail!(
            "sample {}: joints hold {} values, not frames {} x actors {actors} x 75",
            row.sample,
            row.joints.len(),
            row.frames
        );
    }
    // Keep the valid frames, in exactly M actor slots (extra actors dropped, missing ones zero).
    let mut joints = vec![0f32; frames * M * POSE];
    for t in 0..frames {
        for m in 0..actors.min(M) {
            let src = (t * actors + m) * POSE;
            let dst = (t * M + m) * POSE;
            joints[dst..dst + POSE].copy_from_slice(&row.joints[src..src + POSE]);
        }
    }
    Ok(Sample {
        name: row.sample,
        class: row.label,
        frames,
        joints,
    })
}

/// Augmentation of training batches.
#[derive(Debug, Clone, Copy)]
pub struct Augment {
    pub min_crop: f64,
    pub rotation_degrees: f64,
}

impl Augment {
    pub const NONE: Augment = Augment {
        min_crop: 1.0,
        rotation_degrees: 0.0,
    };
}

/// Writes `sample` resampled to `t_out` frames into `out`, a `C x t_out x V x
/// M` block of a batch, from the window `[start, start + len)` of its frames,
/// rotated by `yaw` radians.
fn render(sample: &Sample, start: f64, len: f64, yaw: f64, t_out: usize, out: &mut [f32]) {
    let width = M * POSE;
    if sample.frames == 0 {
        out.fill(0.0);
        return;
    }
    let (sin, cos) = (yaw.sin() as f32, yaw.cos() as f32);
    let last = sample.frames - 1;
    let plane = t_out * V * M;
    let (xs, rest) = out.split_at_mut(plane);
    let (ys, zs) = rest.split_at_mut(plane);
    for i in 0..t_out {
        // Linear interpolation at evenly spaced times of the window, ends included.
        let pos = if t_out == 1 {
            start
        } else {
            start + i as f64 * (len - 1.0).max(0.0) / (t_out - 1) as f64
        };
        let lo = (pos.floor() as usize).min(last);
        let hi = (lo + 1).min(last);
        let w = (pos - lo as f64).clamp(0.0, 1.0) as f32;
        let a = &sample.joints[lo * width..(lo + 1) * width];
        let b = &sample.joints[hi * width..(hi + 1) * width];
        // Source rows are M x V x C; destination rows V x M of each coordinate.
        let row = i * V * M;
        for m in 0..M {
            for v in 0..V {
                let k = (m * V + v) * C;
                let p = [
                    a[k] + w * (b[k] - a[k]),
                    a[k + 1] + w * (b[k + 1] - a[k + 1]),
                    a[k + 2] + w * (b[k + 2] - a[k + 2]),
                ];
                let d = row + v * M + m;
                xs[d] = cos * p[0] + sin * p[2];
                ys[d] = p[1];
                zs[d] = -sin * p[0] + cos * p[2];
            }
        }
    }
}

/// A batch ready for the model.
pub struct Batch {
    /// `N x C x T x V x M` on the CPU; in page-locked memory when the batches
    /// feed a CUDA device, so that [`input`](Self::input) copies without
    /// blocking.
    pub values: tch::Tensor,
    pub size: usize,
    pub frames: usize,
    /// Class index of each sample in the target space of the job.
    pub targets: Vec<i64>,
    pub names: Vec<String>,
}

impl Batch {
    /// The input tensor on `device`.
    pub fn input(&self, device: tch::Device) -> tch::Tensor {
        to_device(&self.values, device)
    }

    pub fn targets(&self, device: tch::Device) -> tch::Tensor {
        to_device(&tch::Tensor::from_slice(&self.targets), device)
    }
}

/// A CPU tensor on `device`: itself on the CPU; on CUDA a non-blocking copy
/// from page-locked memory (pinned first unless it already is).
pub fn to_device(t: &tch::Tensor, device: tch::Device) -> tch::Tensor {
    match device {
        tch::Device::Cpu => t.shallow_clone(),
        _ => {
            let pinned = if t.is_pinned(device) {
                t.shallow_clone()
            } else {
                t.pin_memory(device)
            };
            pinned.to_device_(device, t.kind(), true, false)
        }
    }
}

/// Render threads per batch in training and extraction. One renders about
/// 145,000 samples/s at T = 64 and 33,000 at T = 300 on the 2-core reference
/// machine (`skel-trainer bench loader`, README "GPU"), many times the few
/// thousand samples/s a GPU is expected to train a standard ST-GCN at (not
/// yet measured: step 4 of `scripts/gpu-check.sh` will); the main thread
/// keeps the other core.
pub const RENDER_THREADS: usize = 1;

/// Renders sample `i` of an epoch into `out` (`C x T x V x M`): a random
/// window of at least `min_crop` of its valid frames and a random rotation,
/// fixed by (seed, epoch, i).
fn render_sample(
    sample: &Sample,
    i: usize,
    (seed, epoch): (u64, usize),
    augment: Augment,
    frames: usize,
    out: &mut [f32],
) {
    let mut rng = Rng::from_parts(&[seed, epoch as u64, i as u64]);
    let valid = sample.frames as f64;
    let len = if augment.min_crop < 1.0 {
        valid * rng.range(augment.min_crop, 1.0)
    } else {
        valid
    };
    let start = rng
        .range(0.0, (valid - len).max(0.0) + f64::EPSILON)
        .min(valid - len)
        .max(0.0);
    let yaw = augment.rotation_degrees.to_radians() * rng.range(-1.0, 1.0);
    render(sample, start, len.max(1.0), yaw, frames, out);
}

/// An epoch's batches, assembled on a background thread two batches ahead,
/// each rendered by `workers` threads (the values do not depend on it), in
/// pinned memory when `device` is a CUDA device.
#[allow(clippy::too_many_arguments)]
pub fn batches(
    samples: Vec<Arc<Sample>>,
    targets: Vec<i64>,
    batch_size: usize,
    frames: usize,
    shuffle: Option<(u64, usize)>,
    augment: Augment,
    workers: usize,
    device: tch::Device,
) -> mpsc::Receiver<Batch> {
    let (tx, rx) = mpsc::sync_channel(2);
    std::thread::spawn(move || {
        let mut order: Vec<usize> = (0..samples.len()).collect();
        let key = shuffle.unwrap_or((0, 0));
        if shuffle.is_some() {
            Rng::from_parts(&[key.0, key.1 as u64, 0x5_4FF1E]).shuffle(&mut order);
        }
        let width = frames * M * POSE;
        for chunk in order.chunks(batch_size) {
            // Rendered in place: into page-locked memory when a GPU reads it.
            let shape = [
                chunk.len() as i64,
                C as i64,
                frames as i64,
                V as i64,
                M as i64,
            ];
            let mut tensor = tch::Tensor::empty(shape, (tch::Kind::Float, tch::Device::Cpu));
            if device != tch::Device::Cpu {
                tensor = tensor.pin_memory(device);
            }
            // SAFETY: a fresh contiguous f32 CPU tensor that nothing else sees yet.
            let values = unsafe { crate::cpu::f32s_mut(&tensor) };
            let per_worker = chunk.len().div_ceil(workers.max(1));
            let samples = &samples;
            std::thread::scope(|scope| {
                for (part, out) in chunk
                    .chunks(per_worker)
                    .zip(values.chunks_mut(per_worker * width))
                {
                    let render_part = move || {
                        let out = out;
                        for (&i, out) in part.iter().zip(out.chunks_exact_mut(width)) {
                            render_sample(&samples[i], i, key, augment, frames, out);
                        }
                    };
                    if part.len() == chunk.len() {
                        render_part();
                    } else {
                        scope.spawn(render_part);
                    }
                }
            });
            let batch = Batch {
                values: tensor,
                size: chunk.len(),
                frames,
                targets: chunk.iter().map(|&i| targets[i]).collect(),
                names: chunk.iter().map(|&i| samples[i].name.clone()).collect(),
            };
            if tx.send(batch).is_err() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(frames: usize) -> Sample {
        Sample {
            name: "s".into(),
            class: 0,
            frames,
            joints: (0..frames).flat_map(|t| vec![t as f32; M * POSE]).collect(),
        }
    }

    #[test]
    fn rendering_resamples_and_rotates() {
        let s = ramp(11);
        let mut out = vec![0f32; 6 * M * POSE];
        let plane = 6 * V * M;
        render(&s, 0.0, 11.0, 0.0, 6, &mut out);
        // x of joint 0, actor 0, at each output frame (C x T x V x M).
        let firsts: Vec<f32> = (0..6).map(|t| out[t * V * M]).collect();
        assert_eq!(firsts, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        render(&s, 0.0, 11.0, std::f64::consts::FRAC_PI_2, 6, &mut out);
        // (x, y, z) = (2, 2, 2) at t = 1 turned by 90 degrees: x' = z, z' = -x.
        let p = [out[V * M], out[plane + V * M], out[2 * plane + V * M]];
        assert!(
            (p[0] - 2.0).abs() < 1e-5 && (p[1] - 2.0).abs() < 1e-5 && (p[2] + 2.0).abs() < 1e-5,
            "{p:?}"
        );
    }

    #[test]
    fn rendering_lays_out_n_c_t_v_m() {
        // Every value distinct: joint value = 1000 t + 100 m + 4 v + c.
        let frames = 3;
        let joints = (0..frames)
            .flat_map(|t| {
                (0..M).flat_map(move |m| {
                    (0..V).flat_map(move |v| {
                        (0..C).map(move |c| (1000 * t + 100 * m + 4 * v + c) as f32)
                    })
                })
            })
            .collect();
        let s = Sample {
            name: "s".into(),
            class: 0,
            frames,
            joints,
        };
        let mut out = vec![0f32; frames * M * POSE];
        render(&s, 0.0, frames as f64, 0.0, frames, &mut out);
        for c in 0..C {
            for t in 0..frames {
                for v in 0..V {
                    for m in 0..M {
                        let got = out[((c * frames + t) * V + v) * M + m];
                        assert_eq!(got, (1000 * t + 100 * m + 4 * v + c) as f32);
                    }
                }
            }
        }
    }

    #[test]
    fn batches_are_fixed_by_seed_and_epoch_whatever_the_workers() {
        let samples: Vec<Arc<Sample>> = (0..10).map(|i| Arc::new(ramp(5 + i))).collect();
        let targets: Vec<i64> = (0..10).collect();
        let order = |epoch, workers| {
            batches(
                samples.clone(),
                targets.clone(),
                4,
                8,
                Some((3, epoch)),
                Augment {
                    min_crop: 0.5,
                    rotation_degrees: 10.0,
                },
                workers,
                tch::Device::Cpu,
            )
            .iter()
            .flat_map(|b| {
                Vec::<f32>::try_from(b.values.flatten(0, -1))
                    .unwrap()
                    .into_iter()
                    .zip(std::iter::repeat(b.targets[0]))
            })
            .collect::<Vec<_>>()
        };
        assert_eq!(order(0, 1), order(0, 1));
        assert_eq!(order(0, 1), order(0, 3));
        assert_ne!(order(0, 1), order(1, 1));
        let all: Vec<Batch> = batches(
            samples,
            targets,
            4,
            8,
            None,
            Augment::NONE,
            2,
            tch::Device::Cpu,
        )
        .iter()
        .collect();
        assert_eq!(all.iter().map(|b| b.size).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(all[0].input(tch::Device::Cpu).size(), [4, 3, 8, 25, 2]);
    }
}
