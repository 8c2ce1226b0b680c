//! `export`: a converted dataset to the files other training toolboxes read
//! (CTR-GCN's `.npz`, st-gcn's and 2s-AGCN's `.npy` + `.pkl`, PySKL's
//! annotation pickle), streamed row by row with their own names, dtypes,
//! shapes, padding and sample order.

pub mod ctrgcn;
pub mod npz;
pub mod pickle;
pub mod pyskl;
pub mod rows;
pub mod stgcn;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use skel_schemas::{Dataset, Manifest, Preset, Protocol, SplitFile, MANIFEST_FILE};

use crate::error::PipelineError;
use crate::shard::hash_file;
use crate::split::protocol;
use rows::SampleInfo;

/// The toolbox whose files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CTR-GCN (and InfoGCN, HD-GCN, ...): `NTU60_CS.npz` and friends.
    Ctrgcn,
    /// st-gcn: `xsub/train_data.npy`, `xsub/train_label.pkl`, ...
    Stgcn,
    /// 2s-AGCN / MS-G3D: `xsub/train_data_joint.npy`, bone and motion streams.
    Agcn,
    /// PySKL: `ntu60_3danno.pkl`.
    Pyskl,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ctrgcn => "ctrgcn",
            Self::Stgcn => "stgcn",
            Self::Agcn => "agcn",
            Self::Pyskl => "pyskl",
        }
    }

    /// The preset whose output the toolbox's own preprocessor writes.
    fn preset(self) -> Option<Preset> {
        match self {
            Self::Ctrgcn => Some(Preset::Ctrgcn),
            Self::Stgcn => Some(Preset::Stgcn),
            Self::Agcn => Some(Preset::Agcn),
            Self::Pyskl => None,
        }
    }
}

/// The 2s-AGCN / MS-G3D input streams (`gen_bone_data.py`, `gen_motion_data.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    Joint,
    Bone,
    /// The frame-to-frame difference of each of the other streams asked for.
    Motion,
}

/// What to export, from where, to where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The converted dataset (holding `manifest.yaml`).
    pub dir: PathBuf,
    pub format: Format,
    /// The protocols to write; empty (and no `split`): every protocol of the dataset.
    pub protocols: Vec<Protocol>,
    /// A zero-shot split file instead of protocols: its main phase,
    /// `train_seen` training and `test_seen` + `test_unseen` testing.
    pub split: Option<PathBuf>,
    /// Output folder (created).
    pub out: PathBuf,
    /// `agcn` only; empty means joints only.
    pub streams: Vec<Stream>,
    /// Replace files that exist.
    pub overwrite: bool,
}

/// One written file.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// Protocols of a dataset, in the order its toolboxes write them.
pub fn protocols_of(dataset: Dataset) -> Vec<Protocol> {
    match dataset {
        Dataset::Ntu60 => vec![Protocol::CrossSubject, Protocol::CrossView],
        Dataset::Ntu120 => vec![Protocol::CrossSubject, Protocol::CrossSetup],
        Dataset::PkuV1 => vec![Protocol::CrossSubject],
        Dataset::PkuV2 => vec![],
    }
}

/// Which samples train and which test in one exported set.
pub enum Partition<'a> {
    /// A sample protocol, split as each toolbox's own script splits it.
    Protocol(Protocol),
    /// A split file's main phase, named after the file (`name.npz`,
    /// `name/train_data.npy`, `name_train`); samples in name order.
    Split {
        name: String,
        train: Vec<&'a SampleInfo>,
        test: Vec<&'a SampleInfo>,
    },
}

impl<'a> Partition<'a> {
    /// The name st-gcn's folders and PySKL's split keys use: `xsub`,
    /// `xview`, `xset`, or the split file's name.
    pub fn label(&self) -> &str {
        match self {
            Self::Protocol(Protocol::CrossSubject) => "xsub",
            Self::Protocol(Protocol::CrossView) => "xview",
            Self::Protocol(Protocol::CrossSetup) => "xset",
            Self::Split { name, .. } => name,
        }
    }

    /// Training and test samples in name order (a protocol as
    /// `ntu_gendata.py` splits it: by the published subjects, cameras, setups).
    pub fn sets(
        &self,
        job: &Job<'a>,
    ) -> Result<(Vec<&'a SampleInfo>, Vec<&'a SampleInfo>), PipelineError> {
        let p = match self {
            Self::Split { train, test, .. } => return Ok((train.clone(), test.clone())),
            Self::Protocol(p) => *p,
        };
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for s in job.samples {
            let is_train =
                protocol::is_train(&s.record, job.manifest.dataset, p).map_err(|reason| {
                    PipelineError::Usage(format!("--protocol {}: {reason}", p.name()))
                })?;
            if is_train { &mut train } else { &mut test }.push(s);
        }
        Ok((train, test))
    }
}

/// The training and test samples of a split file, checked against the dataset.
fn split_partition<'a>(
    path: &Path,
    dir: &Path,
    samples: &'a [SampleInfo],
) -> Result<Partition<'a>, PipelineError> {
    let split = SplitFile::read(path)?;
    let (sha, _) = hash_file(&dir.join(MANIFEST_FILE))?;
    split.check_manifest(path, &sha)?;
    let by_name: HashMap<&str, &SampleInfo> = samples
        .iter()
        .map(|s| (s.record.sample.as_str(), s))
        .collect();
    let pick = |names: &[&Vec<String>]| -> Result<Vec<&'a SampleInfo>, PipelineError> {
        let mut picked = Vec::new();
        for name in names.iter().copied().flatten() {
            picked.push(*by_name.get(name.as_str()).ok_or_else(|| {
                PipelineError::Usage(format!(
                    "split {} names sample {name}, which dataset {} does not hold: make the split again from this dataset",
                    path.display(),
                    dir.display()
                ))
            })?);
        }
        picked.sort_by(|a, b| a.record.sample.cmp(&b.record.sample));
        Ok(picked)
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| split.name.clone());
    Ok(Partition::Split {
        train: pick(&[&split.parts.train_seen])?,
        test: pick(&[&split.parts.test_seen, &split.parts.test_unseen])?,
        name,
    })
}

/// What [`export`] reports as it goes.
pub trait ExportProgress {
    /// The rows that will be written, over every file.
    fn start(&self, _rows: u64) {}
    /// `rows` more rows are written.
    fn rows_done(&self, _rows: u64) {}
}

/// Checks the dataset against the format and writes the files.
pub fn export(
    opts: &ExportOptions,
    progress: &dyn ExportProgress,
) -> Result<Vec<Written>, PipelineError> {
    let manifest = Manifest::read(&opts.dir.join(MANIFEST_FILE))?;
    if manifest.part.is_some() {
        return Err(PipelineError::Usage(format!(
            "{}: a partial manifest; run `skel-pipeline merge {}` first",
            opts.dir.display(),
            opts.dir.display()
        )));
    }
    check(opts, &manifest)?;
    let samples = rows::index(&opts.dir, &manifest)?;
    let partitions = match &opts.split {
        Some(path) => vec![split_partition(path, &opts.dir, &samples)?],
        None if opts.protocols.is_empty() => protocols_of(manifest.dataset)
            .into_iter()
            .map(Partition::Protocol)
            .collect(),
        None => opts
            .protocols
            .iter()
            .map(|&p| Partition::Protocol(p))
            .collect(),
    };
    let rows = |p: &Partition| match p {
        Partition::Protocol(_) => samples.len(),
        Partition::Split { train, test, .. } => train.len() + test.len(),
    };
    let total = match opts.format {
        Format::Pyskl => samples.len(),
        _ => partitions.iter().map(rows).sum(),
    };
    progress.start(total as u64);
    let mut reader = rows::RowReader::new(&opts.dir, &manifest);
    std::fs::create_dir_all(&opts.out).map_err(PipelineError::io(&opts.out))?;
    let job = Job {
        manifest: &manifest,
        samples: &samples,
        out: &opts.out,
        overwrite: opts.overwrite,
        progress,
    };
    match opts.format {
        Format::Ctrgcn => ctrgcn::write(&job, &mut reader, &partitions),
        Format::Stgcn | Format::Agcn => {
            stgcn::write(&job, &mut reader, &partitions, opts.format, &opts.streams)
        }
        Format::Pyskl => pyskl::write(&job, &mut reader, &partitions),
    }
}

/// Refuses what the format cannot be made from, each with its fix.
fn check(opts: &ExportOptions, manifest: &Manifest) -> Result<(), PipelineError> {
    let dir = opts.dir.display();
    if let Some(preset) = opts.format.preset() {
        if manifest.preset != preset {
            return Err(PipelineError::Usage(format!(
                "{dir} was converted with --preset {}, but the {} format is the output of the {preset} preprocessor; convert the raw files again with --preset {preset}",
                manifest.preset,
                opts.format.name()
            )));
        }
        if !manifest.transforms.is_empty() {
            return Err(PipelineError::Usage(format!(
                "{dir} was converted with a transform chain ({} steps), which the {} toolbox's own preprocessing does not apply; convert the raw files again without --transforms (or the transform flags)",
                manifest.transforms.len(),
                opts.format.name()
            )));
        }
    }
    if !matches!(manifest.dataset, Dataset::Ntu60 | Dataset::Ntu120) {
        return Err(PipelineError::Usage(format!(
            "{dir} holds {}; the {} format is defined for NTU RGB+D 60 and 120 only",
            manifest.dataset,
            opts.format.name()
        )));
    }
    for &p in &opts.protocols {
        protocol::check(manifest.dataset, p)
            .map_err(|reason| PipelineError::Usage(format!("--protocol {}: {reason}", p.name())))?;
    }
    let streams_allowed =
        opts.format == Format::Agcn || opts.streams.is_empty() || opts.streams == [Stream::Joint];
    if !streams_allowed {
        return Err(PipelineError::Usage(format!(
            "--streams is for --format agcn (2s-AGCN / MS-G3D); {} reads joints only",
            opts.format.name()
        )));
    }
    if opts.streams == [Stream::Motion] {
        return Err(PipelineError::Usage(
            "--streams motion: motion is the frame difference of another stream; ask for joint,motion or bone,motion".into(),
        ));
    }
    Ok(())
}

/// What every format writer needs.
pub struct Job<'a> {
    pub manifest: &'a Manifest,
    pub samples: &'a [SampleInfo],
    pub out: &'a Path,
    pub overwrite: bool,
    pub progress: &'a dyn ExportProgress,
}

impl Job<'_> {
    /// Refuses files that exist (without --overwrite) before anything is written.
    pub fn check_targets(&self, paths: &[PathBuf]) -> Result<(), PipelineError> {
        if self.overwrite {
            return Ok(());
        }
        match paths.iter().find(|p| p.exists()) {
            Some(p) => Err(PipelineError::Usage(format!(
                "{} exists; pass --overwrite to replace it, or choose another --out",
                p.display()
            ))),
            None => Ok(()),
        }
    }
}

/// A file written as `.NAME.tmp` beside its final path and renamed into
/// place by [`commit`](Self::commit); dropped before that, it is removed.
pub struct TempFile {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl TempFile {
    pub fn create(path: &Path) -> Result<(Self, File), PipelineError> {
        let dir = path.parent().expect("an output file has a folder");
        std::fs::create_dir_all(dir).map_err(PipelineError::io(dir))?;
        let name = path.file_name().expect("an output file has a name");
        let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
        let file = File::create(&tmp).map_err(PipelineError::io(&tmp))?;
        Ok((
            Self {
                tmp,
                path: path.to_owned(),
                committed: false,
            },
            file,
        ))
    }

    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Syncs `file` and renames it into place; returns its size.
    pub fn commit(mut self, file: File) -> Result<u64, PipelineError> {
        file.sync_all().map_err(PipelineError::io(&self.tmp))?;
        let bytes = file.metadata().map_err(PipelineError::io(&self.tmp))?.len();
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(PipelineError::io(&self.path))?;
        self.committed = true;
        Ok(bytes)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Maps an I/O error on `path` to a [`PipelineError`], as often as needed.
fn io_error(path: &Path) -> impl Fn(std::io::Error) -> PipelineError + Copy + '_ {
    move |source| PipelineError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Refuses a row whose joints are not `frames x actors x 25 x 3` values with
/// the actor slots a format needs.
fn check_row(record: &skel_schemas::SampleRecord, actors: u8) -> Result<(), PipelineError> {
    let expected = record.frames as usize * usize::from(record.actors) * 75;
    if record.actors != actors || record.joints.len() != expected {
        return Err(PipelineError::Usage(format!(
            "sample {}: {} actor slots and {} joint values, where {actors} slots of {} frames were expected (a damaged shard? run `skel-pipeline verify`)",
            record.sample,
            record.actors,
            record.joints.len(),
            record.frames
        )));
    }
    Ok(())
}
