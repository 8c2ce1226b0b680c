//! A deterministic generator of realistic raw skeleton files with real
//! semantics, for demos, tests and benchmarks.
//!
//! - **NTU RGB+D 60/120** `.skeleton` files (`SsssCcccPpppRrrrAaaa`), laid out
//!   over setups, cameras, subjects and replications as the real datasets
//!   ([`names`]); [`Scale::Full`] writes the real 56,880 / 114,480 files.
//! - **PKU-MMD v1** long sequences `XXXX-V.txt` with label files ([`pku_writer`]).
//!
//! Bodies are 25 Kinect v2 joints of subjects 1.5-1.9 m tall ([`body`]),
//! 2.4-3.6 m in front of the camera, seen by camera 1/2/3 (L/M/R) from -45,
//! 0, +45 degrees. Each class moves as a fixed smooth function of its real
//! CLIP ViT-B/32 label feature ([`motion`] documents it), so classes close in
//! text space move alike; PKU-MMD classes borrow their NTU-120 namesake's
//! feature ([`classes::PKU_TO_NTU`]). Nuisance: speed within 30 %, 4 mm
//! jitter, idle lead-in, two facing actors for mutual actions; in a
//! `noise_rate` share of NTU files a noise body that the CTR-GCN/SGN denoiser
//! removes (a ghost of at most 11 frames, or a flat object along x), empty
//! frames at the start/end and an actor track that is lost for a few frames
//! and comes back with a new bodyID. Names on the official missing-skeleton
//! lists become files with a body in at most 8 frames and every other frame
//! empty. A `damage_rate` share of files is damaged so that the parsers must
//! reject it ([`damage`]), and the report says which and how.
//!
//! Every file's randomness is seeded by (seed, what is generated), so the
//! output is byte-identical for a seed whatever the thread count.

pub mod body;
pub mod classes;
pub mod damage;
pub mod format;
pub mod motion;
pub mod names;
pub mod ntu_writer;
pub mod pku_writer;
pub mod report;
pub mod scene;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use skel_schemas::Dataset;

use crate::rng::{hash_str, Rng};
pub use damage::DamageKind;
use motion::ClassMotion;
use names::PkuVideo;
pub use report::{DamagedFile, NoiseBody, SampleTruth, SynthReport, TrackKind, TrackTruth};

use crate::ntu::NtuName;

/// How many files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The real dataset's volume: 56,880 (NTU-60), 114,480 (NTU-120) files,
    /// or 1,071 PKU-MMD v1 files (140 instances per class).
    Full,
    /// `n` files per class (NTU) or `n` action instances per class (PKU-MMD).
    PerClass(u32),
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// NTU-60, NTU-120 or PKU-MMD v1 (PKU-MMD v2 is not supported).
    pub dataset: Dataset,
    pub scale: Scale,
    pub seed: u64,
    /// Share of NTU files, in [0, 1], with sensor noise events.
    pub noise_rate: f64,
    /// Share of files, in [0, 1], written damaged.
    pub damage_rate: f64,
    /// Worker threads; `None` uses rayon's default.
    pub threads: Option<usize>,
}

impl SynthConfig {
    /// A configuration without noise or damage.
    pub fn new(dataset: Dataset, scale: Scale, seed: u64) -> Self {
        Self {
            dataset,
            scale,
            seed,
            noise_rate: 0.0,
            damage_rate: 0.0,
            threads: None,
        }
    }
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("embedded text features: {0}")]
    Features(#[source] crate::npy::NpyError),
    #[error("cannot start {threads} worker threads: {source}")]
    Threads {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    #[error("invalid synthetic data request: {0}")]
    Invalid(String),
}

/// The prepared generator: class motions and the per-file choices.
struct Plan {
    cfg: SynthConfig,
    motions: Vec<ClassMotion>,
    jobs: Vec<Job>,
    missing: BTreeSet<NtuName>,
    noisy: HashMap<usize, usize>,
    damaged: HashMap<usize, DamageKind>,
}

#[derive(Debug, Clone)]
enum Job {
    Ntu(NtuName),
    /// A PKU-MMD video and view (1-3).
    Pku(PkuVideo, u16),
}

/// The class motions of a dataset.
fn motions(dataset: Dataset) -> Result<Vec<ClassMotion>, SynthError> {
    let features = classes::class_features(dataset)?;
    let origin = classes::text_origin()?;
    let mutual: Vec<bool> = (0..dataset.num_classes())
        .map(|c| classes::is_mutual_ntu(classes::ntu_action_of(dataset, c)))
        .collect();
    Ok(motion::class_motions(&features, &origin, &mutual))
}

/// The `k = round(rate x n)` job indices with the smallest hash keys, mapped
/// to their rank among the chosen.
fn choose(
    seed: u64,
    tag: u64,
    jobs: &[Job],
    rate: f64,
) -> Result<HashMap<usize, usize>, SynthError> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(SynthError::Invalid(format!("rate {rate} is not in [0, 1]")));
    }
    let k = (rate * jobs.len() as f64).round() as usize;
    let mut keys: Vec<(u64, usize)> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            (
                Rng::from_parts(&[seed, tag, hash_str(&j.file())]).next_u64(),
                i,
            )
        })
        .collect();
    keys.sort_unstable();
    Ok(keys
        .into_iter()
        .take(k)
        .enumerate()
        .map(|(rank, (_, i))| (i, rank))
        .collect())
}

impl Job {
    fn file(&self) -> String {
        match self {
            Job::Ntu(n) => format!("{n}.skeleton"),
            Job::Pku(v, view) => format!("skeletons/{}", pku_writer::pku_file_name(v, *view)),
        }
    }
}

impl Plan {
    fn new(cfg: &SynthConfig) -> Result<Self, SynthError> {
        let jobs: Vec<Job> = match cfg.dataset {
            Dataset::Ntu60 | Dataset::Ntu120 => names::ntu_names(cfg.dataset, cfg.scale)?
                .into_iter()
                .map(Job::Ntu)
                .collect(),
            Dataset::PkuV1 => names::pku_videos(cfg.scale)
                .into_iter()
                .flat_map(|v| (1..=3).map(move |view| Job::Pku(v.clone(), view)))
                .collect(),
            Dataset::PkuV2 => {
                return Err(SynthError::Invalid(
                    "PKU-MMD v2 generation is not supported; use pku-v1".into(),
                ))
            }
        };
        let kinds: &[DamageKind] = if cfg.dataset.is_ntu() {
            &DamageKind::NTU
        } else {
            &DamageKind::PKU
        };
        let damaged = choose(cfg.seed, 0xDA3A6E, &jobs, cfg.damage_rate)?
            .into_iter()
            .map(|(i, rank)| (i, kinds[rank % kinds.len()]))
            .collect();
        Ok(Self {
            motions: motions(cfg.dataset)?,
            noisy: choose(cfg.seed, 0x4015E, &jobs, cfg.noise_rate)?,
            damaged,
            missing: if cfg.dataset.is_ntu() {
                names::missing_names(cfg.dataset)
            } else {
                BTreeSet::new()
            },
            jobs,
            cfg: cfg.clone(),
        })
    }

    /// Renders job `i` into `buf` (and `labels` for PKU-MMD).
    fn render(
        &self,
        i: usize,
        buf: &mut Vec<u8>,
        labels: &mut Vec<u8>,
    ) -> (SampleTruth, Option<DamageKind>) {
        buf.clear();
        labels.clear();
        let truth = match &self.jobs[i] {
            Job::Ntu(name) => self.ntu(name, self.noisy.get(&i).copied(), buf),
            Job::Pku(video, view) => {
                pku_writer::write_pku(self.cfg.seed, &self.motions, video, *view, buf, labels)
            }
        };
        let damage = self.damaged.get(&i).copied();
        if let Some(kind) = damage {
            let mut rng = Rng::from_parts(&[self.cfg.seed, 0xDA3A6E, hash_str(&truth.file)]);
            damage::apply(kind, self.cfg.dataset.is_ntu(), buf, &mut rng);
        }
        (truth, damage)
    }

    /// Appends the text of NTU sample `name` to `buf`.
    fn ntu(&self, name: &NtuName, noise: Option<usize>, buf: &mut Vec<u8>) -> SampleTruth {
        let class = usize::from(name.action) - 1;
        let (skeleton, truth) = scene::ntu_take(
            self.cfg.seed,
            &self.motions[class],
            class as u16,
            name,
            noise,
            self.missing.contains(name),
        );
        ntu_writer::write_ntu(&skeleton, buf);
        truth
    }
}

/// The number of files `generate` writes for `cfg` (label files not counted).
pub fn planned_files(cfg: &SynthConfig) -> Result<u64, SynthError> {
    Ok(match cfg.dataset {
        Dataset::Ntu60 | Dataset::Ntu120 => names::ntu_names(cfg.dataset, cfg.scale)?.len() as u64,
        Dataset::PkuV1 => 3 * names::pku_videos(cfg.scale).len() as u64,
        Dataset::PkuV2 => {
            return Err(SynthError::Invalid(
                "PKU-MMD v2 generation is not supported".into(),
            ))
        }
    })
}

/// The text and ground truth of one NTU sample, in memory, exactly as
/// [`generate`] writes it for `name` when the file is not damaged
/// (`noise`: whether the file carries noise events, and which noise body).
pub fn ntu_sample(
    dataset: Dataset,
    seed: u64,
    name: &NtuName,
    noise: Option<usize>,
) -> Result<(Vec<u8>, SampleTruth), SynthError> {
    let max_action = dataset.num_classes() as u16;
    if !dataset.is_ntu() || name.action == 0 || name.action > max_action {
        return Err(SynthError::Invalid(format!(
            "{name} is not a {dataset} sample"
        )));
    }
    let plan = Plan {
        cfg: SynthConfig::new(dataset, Scale::PerClass(0), seed),
        motions: motions(dataset)?,
        jobs: Vec::new(),
        missing: names::missing_names(dataset),
        noisy: HashMap::new(),
        damaged: HashMap::new(),
    };
    let mut text = Vec::new();
    let truth = plan.ntu(name, noise, &mut text);
    Ok((text, truth))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    let io = |source| SynthError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes the files of `cfg` under `out` (NTU: `out/NAME.skeleton`; PKU-MMD:
/// `out/skeletons/XXXX-V.txt` and `out/labels/XXXX-V.txt`), each to a
/// temporary name renamed when complete. `progress` is called with 1 after
/// each file (label files not counted; see [`planned_files`]).
pub fn generate(
    cfg: &SynthConfig,
    out: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SynthReport, SynthError> {
    let plan = Plan::new(cfg)?;
    let mkdir = |p: PathBuf| {
        std::fs::create_dir_all(&p).map_err(|source| SynthError::Io { path: p, source })
    };
    mkdir(out.to_owned())?;
    if !cfg.dataset.is_ntu() {
        mkdir(out.join("skeletons"))?;
        mkdir(out.join("labels"))?;
    }
    let run = || -> Result<Vec<(SampleTruth, Option<DamageKind>, u64)>, SynthError> {
        (0..plan.jobs.len())
            .into_par_iter()
            .map_init(
                || (Vec::with_capacity(1 << 20), Vec::new()),
                |(buf, labels), i| {
                    let (truth, damage) = plan.render(i, buf, labels);
                    write_atomic(&out.join(&truth.file), buf)?;
                    let mut bytes = buf.len() as u64;
                    if let Job::Pku(video, view) = &plan.jobs[i] {
                        write_atomic(
                            &out.join("labels")
                                .join(pku_writer::pku_file_name(video, *view)),
                            labels,
                        )?;
                        bytes += labels.len() as u64;
                    }
                    progress(1);
                    Ok((truth, damage, bytes))
                },
            )
            .collect()
    };
    let results = match cfg.threads {
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|source| SynthError::Threads { threads, source })?
            .install(run)?,
        None => run()?,
    };
    let mut report = SynthReport::default();
    for (truth, damage, bytes) in results {
        report.files_written += 1;
        report.bytes_written += bytes;
        if let Some(kind) = damage {
            report.damaged.push(DamagedFile {
                file: truth.file.clone(),
                kind,
            });
        }
        for t in &truth.tracks {
            if !matches!(t.kind, TrackKind::Actor(_)) {
                report.noise_bodies.push(NoiseBody {
                    file: truth.file.clone(),
                    body_id: t.body_id,
                    kind: t.kind,
                });
            }
        }
        report.samples.push(truth);
    }
    Ok(report)
}
