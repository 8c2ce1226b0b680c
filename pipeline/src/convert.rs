//! `convert`: raw files -> cleaned samples -> Parquet shards + manifest.
//!
//! Inputs are sorted and cut into fixed runs of `files_per_shard` files; each
//! run becomes one shard. Shards convert in parallel, and so do the files of
//! one shard: they are parsed, cleaned and transformed in windows of a few
//! files per worker while the previous window is written, and the writer
//! takes each window's samples in file order. The bytes of every shard are
//! therefore the same whatever the thread count, and memory holds at most two
//! windows per shard in progress. A bad file is quarantined with its
//! line and reason and everything else converts. Shards are renamed into place
//! when complete and the manifest is written last, atomically. A conversion
//! that was killed resumes: a rerun keeps the shards it had finished (see
//! [`crate::resume`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use memmap2::Mmap;
use rayon::prelude::*;
use skel_schemas::{
    ClassTable, Counts, Dataset, Manifest, Part, Preset, QuarantineEntry, SampleRecord, ShardEntry,
    ToolInfo, TransformSpec, MANIFEST_FILE, SCHEMA_VERSION, SHARD_DIR,
};

use crate::classes::{class_table, missing_samples};
use crate::clean::{self, Cleaned};
use crate::discover::{discover, Input, InputKind};
use crate::error::{PipelineError, SampleError};
use crate::frames::Sequence;
use crate::ntu::{self, NtuName};
use crate::pku::{self, PkuName};
use crate::resume::{self, Fingerprint, Receipt};
use crate::shard::{ShardWriter, ROW_GROUP_ROWS};
use crate::transform::Chain;

/// Input files per shard by default (about 1000 samples, 50-150 MB of Parquet).
pub const FILES_PER_SHARD: usize = 1000;
/// Files each worker parses per window of a shard: enough to keep every
/// worker busy while the previous window is written, few enough to keep
/// memory small (an NTU sample is at most a few hundred kB).
const FILES_PER_WORKER: usize = 4;

/// What to convert and where.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    pub dataset: Dataset,
    pub raw: PathBuf,
    /// PKU-MMD label folder (required for PKU-MMD, unused for NTU).
    pub labels: Option<PathBuf>,
    pub out: PathBuf,
    pub preset: Preset,
    /// Worker threads; `None` uses every core.
    pub threads: Option<usize>,
    pub files_per_shard: usize,
    /// Replace an existing converted dataset in `out`.
    pub overwrite: bool,
    /// Transforms applied after cleaning, in order.
    pub transforms: Vec<TransformSpec>,
    /// Convert only this part of a distributed conversion (`merge` joins the parts).
    pub part: Option<Part>,
}

impl ConvertOptions {
    /// The manifest this run writes: `manifest.yaml`, or the part's own.
    fn manifest_file(&self) -> String {
        self.part
            .map_or_else(|| MANIFEST_FILE.to_owned(), |p| p.manifest_file())
    }

    /// The writer's lock file in `out`: the folder's, or the part's.
    fn lock_file(&self) -> String {
        self.part.map_or_else(
            || crate::lock::LOCK_FILE.to_owned(),
            |p| {
                format!(
                    "{}-{}",
                    crate::lock::LOCK_FILE,
                    p.shard_prefix().trim_end_matches('-')
                )
            },
        )
    }

    /// The prefix of this run's shard files.
    fn shard_prefix(&self) -> String {
        self.part
            .map_or_else(|| "part-".to_owned(), |p| p.shard_prefix())
    }
}

/// The outcome of a conversion.
#[derive(Debug, Clone)]
pub struct ConvertReport {
    pub manifest: Manifest,
    /// Shards (including shards with no rows) kept from an interrupted run.
    pub reused_shards: usize,
    /// Shards (including shards with no rows) in this run.
    pub total_shards: usize,
    /// Worker threads that converted at least one file.
    pub workers: usize,
    pub elapsed: Duration,
}

/// Receives progress reports from the workers.
pub trait Progress: Sync {
    /// The number of files that will be converted.
    fn start(&self, _files: u64) {}
    /// One file is done; `bytes` is its size.
    fn file_done(&self, _bytes: u64) {}
    /// Shard `file` is finished: converted, or `reused` from an interrupted run.
    fn shard_done(&self, _file: &str, _reused: bool) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// Converts a raw dataset.
pub fn convert(
    opts: &ConvertOptions,
    progress: &dyn Progress,
) -> Result<ConvertReport, PipelineError> {
    let started = Instant::now();
    let labels = check_options(opts)?;
    let chain = Chain::new(&opts.transforms).map_err(PipelineError::Usage)?;
    tracing::info!("transform chain: {chain:?}");
    let mut inputs = discover(&opts.raw, opts.dataset)?;
    if let Some(part) = opts.part {
        if part.count == 0 || part.index >= part.count {
            return Err(PipelineError::Usage(format!(
                "part {} of {} does not exist: parts are numbered 0 to count - 1",
                part.index, part.count
            )));
        }
        inputs.retain(|i| part.owns(&i.rel));
    }
    let missing = missing_samples(opts.dataset);
    let (listed, inputs): (Vec<Input>, Vec<Input>) = inputs.into_iter().partition(
        |i| matches!(&i.kind, InputKind::Ntu(n) if missing.contains(&n.to_string().as_str())),
    );
    tracing::info!(
        files = inputs.len() + listed.len(),
        missing_listed = listed.len(),
        "discovered raw files in {}",
        opts.raw.display()
    );
    // One writer per output (per part in a distributed conversion).
    let _lock = crate::lock::WriterLock::acquire(&opts.out, &opts.lock_file())?;
    let shard_dir = prepare_output(opts)?;
    progress.start(inputs.len() as u64);
    let classes = class_table(opts.dataset);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| PipelineError::Usage(format!("cannot start worker threads: {e}")))?;
    let job = Job {
        busy: (0..pool.current_num_threads())
            .map(|_| AtomicBool::new(false))
            .collect(),
        prefix: opts.shard_prefix(),
        settings: settings(opts, &chain),
        dataset: opts.dataset,
        preset: opts.preset,
        labels,
        classes: &classes,
        chain: &chain,
        progress,
    };
    let chunks: Vec<(usize, &[Input])> = inputs
        .chunks(opts.files_per_shard.max(1))
        .enumerate()
        .collect();
    let results: Vec<Result<ShardOutcome, PipelineError>> = pool.install(|| {
        chunks
            .par_iter()
            .map(|(k, chunk)| job.shard(&shard_dir, *k, chunk))
            .collect()
    });

    let mut shards = Vec::new();
    let mut quarantine = Vec::new();
    let mut reused_shards = 0;
    let mut counts = Counts {
        files: (inputs.len() + listed.len()) as u64,
        missing_listed: listed.len() as u64,
        ..Counts::default()
    };
    for result in results {
        let outcome = result?;
        reused_shards += usize::from(outcome.reused);
        counts.samples += outcome.samples;
        counts.raw_bytes += outcome.raw_bytes;
        shards.extend(outcome.entry);
        quarantine.extend(outcome.quarantine);
    }
    counts.quarantined = quarantine.len() as u64;
    let workers = job
        .busy
        .iter()
        .filter(|b| b.load(Ordering::Relaxed))
        .count();
    tracing::info!(
        "{workers} of {} worker threads converted files",
        job.busy.len()
    );
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        dataset: opts.dataset,
        preset: opts.preset,
        preset_variant: clean::variant(opts.preset, opts.dataset).into(),
        transforms: chain.specs(),
        joint_layout:
            "joints: frames x actors x 25 joints x (x, y, z), float32, row-major [t][m][v][c]"
                .into(),
        classes,
        shards,
        quarantine,
        missing_listed: listed
            .iter()
            .map(|i| file_stem(&i.rel).to_owned())
            .collect(),
        counts,
        part: opts.part,
    };
    if reused_shards > 0 {
        tracing::info!(
            "reused {reused_shards} of {} shards from an interrupted run",
            chunks.len()
        );
    }
    // Shards of an interrupted run that this run did not make (its inputs
    // were cut into fewer shards) would be left unlisted.
    let prefix = opts.shard_prefix();
    remove_own_files(&shard_dir, &prefix, |name| {
        is_own_shard(name, &prefix) && !manifest.shards.iter().any(|s| s.file == name)
    })?;
    write_manifest(&opts.out, &opts.manifest_file(), &manifest)?;
    remove_own_files(&shard_dir, &prefix, |name| {
        resume::is_receipt_of(name, |_| true)
    })?;
    Ok(ConvertReport {
        manifest,
        reused_shards,
        total_shards: chunks.len(),
        workers,
        elapsed: started.elapsed(),
    })
}

/// What every shard of a run depends on besides its inputs, for the
/// fingerprints of [`resume`].
fn settings(opts: &ConvertOptions, chain: &Chain) -> String {
    format!(
        "schema {SCHEMA_VERSION}; dataset {}; preset {} ({}); transforms {chain:?}; part {:?}; labels {:?}",
        opts.dataset,
        opts.preset,
        clean::variant(opts.preset, opts.dataset),
        opts.part,
        opts.labels
    )
}

/// Whether `name` is shard `{prefix}NNNNN.parquet`.
fn is_own_shard(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(".parquet"))
        .is_some_and(|k| k.len() == 5 && k.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes the files of this run's shards (`{prefix}NNNNN.parquet`, their
/// temporary files and receipts) whose names `doomed` accepts; the files of
/// other parts of a distributed run are never touched.
fn remove_own_files(
    shard_dir: &Path,
    prefix: &str,
    doomed: impl Fn(&str) -> bool,
) -> Result<(), PipelineError> {
    let own = |name: &str| is_own_shard(name, prefix);
    for entry in std::fs::read_dir(shard_dir).map_err(PipelineError::io(shard_dir))? {
        let path = entry.map_err(PipelineError::io(shard_dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ours = own(&name)
            || resume::is_receipt_of(&name, own)
            || name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".tmp"))
                .is_some_and(|n| own(n) || resume::is_receipt_of(&format!(".{n}"), own));
        if ours && doomed(&name) {
            std::fs::remove_file(&path).map_err(PipelineError::io(&path))?;
        }
    }
    Ok(())
}

fn check_options(opts: &ConvertOptions) -> Result<Option<PathBuf>, PipelineError> {
    if opts.dataset.is_ntu() {
        return Ok(None);
    }
    let labels = opts.labels.clone().ok_or_else(|| {
        PipelineError::Usage(format!(
            "--dataset {} needs --labels DIR: the folder of PKU-MMD label files (one per skeleton file, same name)",
            opts.dataset
        ))
    })?;
    if !labels.is_dir() {
        return Err(PipelineError::Usage(format!(
            "--labels {} is not a directory",
            labels.display()
        )));
    }
    Ok(Some(labels))
}

/// Creates `out/shards`, refusing to replace a converted dataset unless asked,
/// and removes the temporary files a killed run of the same part left behind
/// (with `overwrite`, its finished shards too; the files of other parts of a
/// distributed run are never touched).
fn prepare_output(opts: &ConvertOptions) -> Result<PathBuf, PipelineError> {
    let manifest = opts.out.join(opts.manifest_file());
    let merged = opts.out.join(MANIFEST_FILE);
    for path in [&manifest, &merged] {
        if !path.exists() {
            continue;
        }
        if !opts.overwrite {
            return Err(PipelineError::Usage(format!(
                "{} already holds a converted dataset ({} exists): pass --overwrite to replace it, or choose another --out",
                opts.out.display(),
                path.display()
            )));
        }
        // Manifests go first, so none ever points at a replaced shard.
        std::fs::remove_file(path).map_err(PipelineError::io(path))?;
    }
    let shard_dir = opts.out.join(SHARD_DIR);
    std::fs::create_dir_all(&shard_dir).map_err(PipelineError::io(&shard_dir))?;
    // Temporary files are always partial; finished shards and their receipts
    // are kept for a resumed run unless the dataset is to be replaced.
    remove_own_files(&shard_dir, &opts.shard_prefix(), |name| {
        opts.overwrite || name.ends_with(".tmp")
    })?;
    Ok(shard_dir)
}

/// Writes `out/{file}` through a temporary file and a rename.
pub fn write_manifest(out: &Path, file: &str, manifest: &Manifest) -> Result<(), PipelineError> {
    let path = out.join(file);
    let tmp = out.join(format!(".{file}.tmp"));
    let text = manifest.to_yaml()?;
    std::fs::write(&tmp, text).map_err(PipelineError::io(&tmp))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(PipelineError::io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(PipelineError::io(&path))
}

fn file_stem(rel: &str) -> &str {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    file.split_once('.').map_or(file, |(stem, _)| stem)
}

/// What one shard's worker produced.
struct ShardOutcome {
    entry: Option<ShardEntry>,
    quarantine: Vec<QuarantineEntry>,
    samples: u64,
    raw_bytes: u64,
    /// Kept from an interrupted run rather than converted.
    reused: bool,
}

/// What one input file produced.
struct FileOutcome {
    records: Vec<SampleRecord>,
    quarantine: Vec<QuarantineEntry>,
    /// The file's size.
    bytes: u64,
}

/// A shard being written: its rows are grouped into row groups of
/// [`ROW_GROUP_ROWS`] in file order, whatever the windows were.
struct ShardBuilder<'d> {
    dir: &'d Path,
    file: String,
    writer: Option<ShardWriter>,
    group: Vec<SampleRecord>,
    outcome: ShardOutcome,
}

impl ShardBuilder<'_> {
    /// Appends the samples of a window of files, in file order.
    fn add(&mut self, files: Vec<FileOutcome>) -> Result<(), PipelineError> {
        for file in files {
            self.outcome.raw_bytes += file.bytes;
            self.outcome.quarantine.extend(file.quarantine);
            for record in file.records {
                self.group.push(record);
                if self.group.len() == ROW_GROUP_ROWS {
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PipelineError> {
        if self.group.is_empty() {
            return Ok(());
        }
        if self.writer.is_none() {
            self.writer = Some(ShardWriter::create(self.dir, &self.file)?);
        }
        self.writer
            .as_mut()
            .expect("created above")
            .write(&self.group)?;
        self.group.clear();
        Ok(())
    }

    /// Writes the last row group and renames the shard into place (no file
    /// when every input was quarantined).
    fn finish(mut self) -> Result<ShardOutcome, PipelineError> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            let entry = w.finish()?;
            self.outcome.samples = entry.rows;
            self.outcome.entry = Some(entry);
        }
        Ok(self.outcome)
    }
}

/// Everything a worker needs, shared read-only.
struct Job<'a> {
    /// One flag per worker thread, set when it converts a file.
    busy: Vec<AtomicBool>,
    /// Shard files are `{prefix}{index:05}.parquet`.
    prefix: String,
    /// The settings part of every shard's fingerprint.
    settings: String,
    dataset: Dataset,
    preset: Preset,
    labels: Option<PathBuf>,
    classes: &'a ClassTable,
    chain: &'a Chain,
    progress: &'a dyn Progress,
}

impl Job<'_> {
    /// Converts the inputs of shard `index`, or keeps the shard an
    /// interrupted run finished from the same inputs.
    fn shard(
        &self,
        dir: &Path,
        index: usize,
        inputs: &[Input],
    ) -> Result<ShardOutcome, PipelineError> {
        let file = format!("{}{index:05}.parquet", self.prefix);
        let (fingerprint, sizes) = self.fingerprint(&file, inputs);
        if let Some(receipt) = resume::reusable(dir, &file, &fingerprint) {
            for size in sizes {
                self.progress.file_done(size);
            }
            self.progress.shard_done(&file, true);
            return Ok(ShardOutcome {
                entry: receipt.shard,
                quarantine: receipt.quarantine,
                samples: receipt.samples,
                raw_bytes: receipt.raw_bytes,
                reused: true,
            });
        }
        resume::forget(dir, &file)?;
        let mut shard = ShardBuilder {
            dir,
            file: file.clone(),
            writer: None,
            group: Vec::with_capacity(ROW_GROUP_ROWS),
            outcome: ShardOutcome {
                entry: None,
                quarantine: Vec::new(),
                samples: 0,
                raw_bytes: 0,
                reused: false,
            },
        };
        // Window k is parsed by every worker while window k - 1 is written.
        let window = rayon::current_num_threads() * FILES_PER_WORKER;
        let mut parsed: Vec<FileOutcome> = Vec::new();
        for files in inputs.chunks(window) {
            let done = std::mem::take(&mut parsed);
            let (written, next) = rayon::join(
                || shard.add(done),
                || {
                    files
                        .par_iter()
                        .with_max_len(1)
                        .map(|input| self.input(input))
                        .collect()
                },
            );
            written?;
            parsed = next;
        }
        shard.add(parsed)?;
        let outcome = shard.finish()?;
        resume::write(
            dir,
            &file,
            &Receipt {
                fingerprint,
                shard: outcome.entry.clone(),
                quarantine: outcome.quarantine.clone(),
                samples: outcome.samples,
                raw_bytes: outcome.raw_bytes,
            },
        )?;
        self.progress.shard_done(&file, false);
        Ok(outcome)
    }

    /// The fingerprint of shard `file` made from `inputs`, and the inputs' sizes.
    fn fingerprint(&self, file: &str, inputs: &[Input]) -> (String, Vec<u64>) {
        let mut fingerprint = Fingerprint::new(&self.settings, file);
        let sizes = inputs
            .iter()
            .map(|input| {
                let size = fingerprint.add_file(&input.rel, &input.path);
                if let (InputKind::Pku(_), Some(labels)) = (&input.kind, &self.labels) {
                    let name = input.rel.rsplit('/').next().unwrap_or(&input.rel);
                    fingerprint.add_file(&format!("labels/{name}"), &labels.join(name));
                }
                size
            })
            .collect();
        (fingerprint.finish(), sizes)
    }

    /// Converts one raw file into its samples, quarantining what fails.
    fn input(&self, input: &Input) -> FileOutcome {
        if let Some(flag) = rayon::current_thread_index().and_then(|i| self.busy.get(i)) {
            flag.store(true, Ordering::Relaxed);
        }
        let mut quarantine = Vec::new();
        let (records, bytes) = self.file_records(input, &mut quarantine);
        self.progress.file_done(bytes);
        FileOutcome {
            records,
            quarantine,
            bytes,
        }
    }

    /// The samples of one raw file; what fails goes to `quarantine`.
    fn file_records(
        &self,
        input: &Input,
        quarantine: &mut Vec<QuarantineEntry>,
    ) -> (Vec<SampleRecord>, u64) {
        let mut reject = |e: SampleError, what: &str| {
            tracing::debug!("{}: {e}", input.rel);
            quarantine.push(QuarantineEntry {
                file: what.to_owned(),
                line: e.line(),
                reason: e.to_string(),
            });
        };
        let name = match &input.kind {
            InputKind::Rejected(why) => {
                reject(SampleError::Rejected(why.clone()), &input.rel);
                return (Vec::new(), 0);
            }
            kind => kind,
        };
        let map = match map_file(&input.path) {
            Ok(map) => map,
            Err(e) => {
                reject(e, &input.rel);
                return (Vec::new(), 0);
            }
        };
        let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
        let size = bytes.len() as u64;
        let records = match name {
            InputKind::Ntu(ntu_name) => match self.ntu_sample(ntu_name, &input.rel, bytes) {
                Ok(record) => vec![record],
                Err(e) => {
                    reject(e, &input.rel);
                    Vec::new()
                }
            },
            InputKind::Pku(pku_name) => {
                let mut records = Vec::new();
                for clip in self.pku_clips(pku_name, input, bytes) {
                    match clip {
                        Ok(record) => records.push(record),
                        Err((what, e)) => reject(e, &what),
                    }
                }
                records
            }
            InputKind::Rejected(_) => unreachable!("handled above"),
        };
        (records, size)
    }

    fn ntu_sample(
        &self,
        name: &NtuName,
        rel: &str,
        bytes: &[u8],
    ) -> Result<SampleRecord, SampleError> {
        let seq = ntu::parse_sequence(bytes)?;
        let cleaned = clean::clean(&seq, self.preset, self.dataset)?;
        let mut record = self.record(&seq, cleaned, name.action)?;
        record.sample = name.to_string();
        record.source = rel.to_owned();
        record.setup = Some(name.setup);
        record.camera = Some(name.camera);
        record.subject = Some(name.subject);
        record.replication = Some(name.replication);
        record.raw_bytes = bytes.len() as u64;
        Ok(record)
    }

    /// The clips of a PKU-MMD file; a failed clip comes with the name to quarantine it under.
    fn pku_clips(
        &self,
        name: &PkuName,
        input: &Input,
        bytes: &[u8],
    ) -> Vec<Result<SampleRecord, (String, SampleError)>> {
        let whole = |e: SampleError| vec![Err((input.rel.clone(), e))];
        let file_name = input.rel.rsplit('/').next().unwrap_or(&input.rel);
        let label_path = self
            .labels
            .as_ref()
            .expect("checked: PKU needs labels")
            .join(file_name);
        let label_text = match std::fs::read(&label_path) {
            Ok(text) => text,
            Err(e) => {
                return whole(SampleError::Io(format!(
                    "no readable label file {} ({e}): each skeleton file needs a label file of the same name",
                    label_path.display()
                )))
            }
        };
        let rows = match pku::parse_labels(&label_text, self.dataset.num_classes() as u16) {
            Ok(rows) => rows,
            Err(source) => {
                return whole(SampleError::Label {
                    file: label_path.display().to_string(),
                    source,
                })
            }
        };
        let skeleton = match pku::parse_skeleton(bytes) {
            Ok(s) => s,
            Err(e) => return whole(e.into()),
        };
        rows.iter()
            .map(|row| {
                let clip = name.clip_name(row.action, row.row);
                let what = format!("{}#{clip}", input.rel);
                let (start, end) = pku::clip_range(row, skeleton.num_frames()).ok_or_else(|| {
                    let reason = format!(
                        "label line {}: frames {}..{} run past the end of the {}-frame skeleton file",
                        row.row,
                        row.start,
                        row.end,
                        skeleton.num_frames()
                    );
                    (what.clone(), SampleError::Rejected(reason))
                })?;
                let seq = skeleton.to_sequence(start, end);
                let cleaned = clean::clean(&seq, self.preset, self.dataset).map_err(|e| (what.clone(), e.into()))?;
                let mut record = self.record(&seq, cleaned, row.action).map_err(|e| (what.clone(), e))?;
                record.sample = clip;
                record.source = input.rel.clone();
                record.camera = Some(name.view);
                record.start_frame = Some(start as u32 + 1);
                record.raw_bytes = (end - start) as u64 * pku::FLOATS_PER_FRAME as u64 * 4;
                Ok(record)
            })
            .collect()
    }

    /// The dataset-independent part of a record.
    fn record(
        &self,
        seq: &Sequence,
        cleaned: Cleaned,
        action: u16,
    ) -> Result<SampleRecord, SampleError> {
        let cleaned = self.chain.apply(cleaned);
        let class = self.classes.by_action(action).ok_or_else(|| {
            SampleError::Rejected(format!(
                "action {action} is not one of the {} classes of {}",
                self.classes.len(),
                self.dataset
            ))
        })?;
        Ok(SampleRecord {
            dataset: self.dataset.name().into(),
            action,
            label: class.index,
            frames: cleaned.frames as u32,
            valid_frames: cleaned.valid_frames as u32,
            raw_frames: seq.num_frames() as u32,
            empty_frames: seq.iter().filter(|f| f.is_empty()).count() as u32,
            actors: cleaned.actors as u8,
            bodies: cleaned.bodies.min(usize::from(u16::MAX)) as u16,
            bodies_dropped: cleaned.dropped.len().min(usize::from(u16::MAX)) as u16,
            drop_reasons: cleaned.drop_reasons(),
            joints: cleaned.joints,
            ..SampleRecord::default()
        })
    }
}

/// Maps a file read-only (`None` for an empty file, which cannot be mapped).
pub(crate) fn map_file(path: &Path) -> Result<Option<Mmap>, SampleError> {
    let file = File::open(path).map_err(|e| SampleError::Io(e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| SampleError::Io(e.to_string()))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: the map is read-only and private to this process; a raw file
    // changed by another process during the run is outside the contract.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| SampleError::Io(e.to_string()))?;
    Ok(Some(map))
}
