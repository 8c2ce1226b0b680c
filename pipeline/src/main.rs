//! `skel-pipeline`: convert raw skeleton datasets to Parquet shards, inspect
//! and verify them. The work lives in the library; this is argument parsing
//! and reporting.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skel_pipeline::convert::FILES_PER_SHARD;
use skel_pipeline::split::{ClassChoice, SplitRequest};
use skel_pipeline::{convert, inspect, verify, ConvertOptions, Progress};
use skel_schemas::{
    Dataset, Joint, Part, Preset, Protocol, Reference, Temporal, TransformConfig, TransformSpec,
};

/// Raw NTU RGB+D 60/120 and PKU-MMD skeleton files to Parquet shards with a manifest.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Log more: -v info, -vv debug (default: warnings only); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bars (results and errors are still printed).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a raw dataset folder into Parquet shards and a manifest.
    ///
    /// Exit status: 0 when every file converted, 2 when some were quarantined
    /// (listed in the manifest and at the end of the output), 1 on a fatal error.
    Convert(ConvertArgs),
    /// Generate realistic raw NTU RGB+D or PKU-MMD files with known ground truth
    /// (class motion derived from the real CLIP label features) for demos,
    /// tests and benchmarks.
    Synth(SynthArgs),
    /// Summarise a converted dataset: classes, cameras, subjects, frame lengths, quarantine.
    Inspect {
        /// The dataset folder (holding manifest.yaml).
        dir: PathBuf,
    },
    /// Measure conversion throughput against the machine: three passes over the
    /// same files, (1) read only (count newlines), (2) parse every number with
    /// an external parser (fast-float2) and nothing else, (3) the full
    /// conversion; each in MB/s, files/s and MB/s per core (bytes over CPU time).
    ///
    /// Takes the flags of `convert` and converts into --out (add --overwrite to
    /// measure again into the same folder). The three passes run --rounds
    /// times, interleaved; each pass reports its median round.
    Bench(BenchArgs),
    /// Write zero-shot split files (one per run) for a converted dataset.
    ///
    /// A published class split (--published) or K unseen classes drawn for each
    /// of R runs from --seed; the same inputs give the same files everywhere.
    Split(SplitArgs),
    /// Join the partial manifests of a distributed conversion (convert --shard I/N)
    /// into one manifest.yaml, after checking every part and shard.
    Merge {
        /// The shared output folder of all parts.
        dir: PathBuf,
    },
    /// Re-hash every shard against the manifest and check sizes and row counts;
    /// exit status 1 on any mismatch, each named with its fix.
    Verify {
        /// The dataset folder (holding manifest.yaml).
        dir: PathBuf,
    },
    /// Write the files another training toolbox reads (CTR-GCN's .npz,
    /// st-gcn's and 2s-AGCN's .npy + .pkl, PySKL's annotation pickle), with
    /// its own names, dtypes, shapes, padding and sample order, streamed.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The dataset folder (holding manifest.yaml).
    dir: PathBuf,
    /// The toolbox: ctrgcn (NTU60_CS.npz ...; needs a ctrgcn dataset), stgcn
    /// (xsub/train_data.npy ...; needs stgcn), agcn (2s-AGCN / MS-G3D
    /// xsub/train_data_joint.npy ...; needs agcn), pyskl (ntu60_3danno.pkl;
    /// any preset).
    #[arg(long, value_enum)]
    format: FormatArg,
    /// The sample protocol to write (repeat or comma-separate for several;
    /// default: every protocol of the dataset, as the toolboxes' scripts do).
    #[arg(long, value_enum, value_delimiter = ',')]
    protocol: Vec<ProtocolArg>,
    /// Export a zero-shot split file's main phase instead of protocols:
    /// train_seen trains, test_seen + test_unseen test (or validate); the
    /// files are named after the split file (NAME.npz, NAME/train_data.npy,
    /// split keys NAME_train / NAME_val).
    #[arg(long, value_name = "FILE", conflicts_with = "protocol")]
    split: Option<PathBuf>,
    /// Output folder (created): the folder to point the toolbox's config at.
    #[arg(long)]
    out: PathBuf,
    /// 2s-AGCN / MS-G3D input streams (--format agcn): joint, bone, and
    /// motion (the frame difference of each other stream asked for), as its
    /// gen_bone_data.py and gen_motion_data.py write them.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "joint")]
    streams: Vec<StreamArg>,
    /// Replace output files that exist.
    #[arg(long)]
    overwrite: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// CTR-GCN and its descendants (InfoGCN, HD-GCN, ...).
    Ctrgcn,
    /// st-gcn.
    Stgcn,
    /// 2s-AGCN and MS-G3D.
    Agcn,
    /// PySKL (3D skeletons).
    Pyskl,
}

#[derive(Clone, Copy, ValueEnum)]
enum StreamArg {
    /// Joint coordinates.
    Joint,
    /// Bone vectors (joint minus its parent).
    Bone,
    /// Frame-to-frame differences of the other streams.
    Motion,
}

fn run_export(args: ExportArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use skel_pipeline::export::{export, ExportOptions, ExportProgress, Format, Stream};
    let opts = ExportOptions {
        dir: args.dir.clone(),
        format: match args.format {
            FormatArg::Ctrgcn => Format::Ctrgcn,
            FormatArg::Stgcn => Format::Stgcn,
            FormatArg::Agcn => Format::Agcn,
            FormatArg::Pyskl => Format::Pyskl,
        },
        protocols: args.protocol.into_iter().map(Protocol::from).collect(),
        split: args.split,
        out: args.out,
        streams: args
            .streams
            .into_iter()
            .map(|s| match s {
                StreamArg::Joint => Stream::Joint,
                StreamArg::Bone => Stream::Bone,
                StreamArg::Motion => Stream::Motion,
            })
            .collect(),
        overwrite: args.overwrite,
    };
    struct Rows(ProgressBar);
    impl ExportProgress for Rows {
        fn start(&self, rows: u64) {
            self.0.set_length(rows);
        }
        fn rows_done(&self, rows: u64) {
            self.0.inc(rows);
        }
    }
    let bar = Rows(Bar::new(quiet).0);
    bar.0.set_style(
        ProgressStyle::with_template(
            "{spinner} exporting [{elapsed_precise}] {wide_bar} {pos}/{len} samples ({per_sec}, eta {eta})",
        )
        .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let written =
        export(&opts, &bar).with_context(|| format!("exporting {}", args.dir.display()))?;
    bar.0.finish_and_clear();
    for w in &written {
        println!(
            "{}: {} samples, {:.1} MB",
            w.path.display(),
            w.rows,
            w.bytes as f64 / 1e6
        );
    }
    println!("exported in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct ConvertArgs {
    /// Raw dataset layout (file names, class table, missing-skeleton list).
    #[arg(long, value_enum)]
    dataset: DatasetArg,
    /// Folder of raw skeleton files (searched recursively; hidden files are ignored).
    #[arg(long)]
    raw: PathBuf,
    /// Folder of PKU-MMD label files, one per skeleton file with the same name
    /// (required for pku-v1 and pku-v2, unused for NTU).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Output dataset folder (created; gets shards/ and manifest.yaml). A folder
    /// left by a killed conversion is resumed.
    #[arg(long)]
    out: PathBuf,
    /// Body cleaning preset (the reference preprocessor to reproduce).
    #[arg(long, value_enum, default_value_t = PresetArg::Ctrgcn)]
    preset: PresetArg,
    /// Worker threads (default: every core). Output is identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// Raw files per Parquet shard (the unit of parallel work and of resuming).
    #[arg(long, default_value_t = FILES_PER_SHARD)]
    shard_files: usize,
    /// Replace a dataset already converted into --out, and start a killed
    /// conversion over instead of resuming it.
    #[arg(long)]
    overwrite: bool,
    /// Convert only part I of N (0-based) of the inputs, a stable partition by
    /// file name; `merge` joins the parts' manifests. Example: --shard 0/4.
    #[arg(long, value_name = "I/N", conflicts_with = "shard_count")]
    shard: Option<String>,
    /// Like --shard, with I read from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX
    /// (Slurm job arrays, Kubernetes Indexed Jobs).
    #[arg(long, value_name = "N")]
    shard_count: Option<u32>,
    /// YAML transform chain applied after cleaning (see configs/transforms/);
    /// cannot be combined with the transform flags below.
    #[arg(long)]
    transforms: Option<PathBuf>,
    /// Rotate about the vertical axis so every sample faces +z, measured once
    /// per sequence or in every frame.
    #[arg(long, value_enum)]
    canonicalize: Option<ReferenceArg>,
    /// Centre on actor 1's spine-mid joint, once per sequence or in every frame.
    #[arg(long, value_enum)]
    centre: Option<ReferenceArg>,
    /// Scale every body to a unit torso (SpineBase-SpineShoulder).
    #[arg(long)]
    scale_body: bool,
    /// Bring every sample to this many frames T (see --temporal); default: keep
    /// the preset's frames.
    #[arg(long)]
    frames: Option<usize>,
    /// How --frames is reached (needs --frames).
    #[arg(long, value_enum, default_value_t = TemporalArg::Linear, requires = "frames")]
    temporal: TemporalArg,
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Dataset layout to imitate (pku-v1 writes skeletons/ and labels/).
    #[arg(long, value_enum)]
    dataset: DatasetArg,
    /// Output folder for the raw files (created).
    #[arg(long)]
    out: PathBuf,
    /// Files per class (NTU) or action instances per class (PKU-MMD).
    #[arg(long, default_value_t = 10, conflicts_with = "full")]
    per_class: u32,
    /// The real dataset's volume (NTU-60: 56,880 files; NTU-120: 114,480).
    #[arg(long)]
    full: bool,
    /// Seed: the same seed writes the same bytes whatever the thread count.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of NTU files, 0 to 1, that get a noise body (a short ghost or a
    /// flat object).
    #[arg(long, default_value_t = 0.1)]
    noise_rate: f64,
    /// Share of files, 0 to 1, written damaged (the kinds a parser must reject).
    #[arg(long, default_value_t = 0.0)]
    damage_rate: f64,
    /// Worker threads (default: every core). Output is identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// Write the ground truth (damaged files, noise bodies) as TSV to this file.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn run_synth(args: SynthArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    use skel_pipeline::synth::{generate, planned_files, Scale, SynthConfig};
    let cfg = SynthConfig {
        scale: if args.full {
            Scale::Full
        } else {
            Scale::PerClass(args.per_class)
        },
        noise_rate: args.noise_rate,
        damage_rate: args.damage_rate,
        threads: args.threads,
        ..SynthConfig::new(args.dataset.into(), Scale::Full, args.seed)
    };
    let bar = Bar::new(quiet);
    bar.0.set_length(planned_files(&cfg)?);
    bar.0.set_prefix("generating");
    let started = std::time::Instant::now();
    let report = generate(&cfg, &args.out, &|n| bar.0.inc(n))
        .with_context(|| format!("generating into {}", args.out.display()))?;
    bar.0.finish_and_clear();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "wrote {} files ({:.1} MB) in {:.1} s ({:.1} MB/s) into {}: {} with a noise body, {} damaged",
        report.files_written,
        report.bytes_written as f64 / 1e6,
        secs,
        report.bytes_written as f64 / 1e6 / secs,
        args.out.display(),
        report.noise_bodies.len(),
        report.damaged.len()
    );
    if let Some(path) = args.truth {
        let mut tsv = String::from("what\tfile\tdetail\n");
        for d in &report.damaged {
            tsv += &format!("damaged\t{}\t{:?}\n", d.file, d.kind);
        }
        for n in &report.noise_bodies {
            tsv += &format!("noise\t{}\t{} {:?}\n", n.file, n.body_id, n.kind);
        }
        std::fs::write(&path, tsv).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct SplitArgs {
    /// The dataset folder (holding manifest.yaml).
    dir: PathBuf,
    /// Sample partition protocol (which samples train and which test).
    #[arg(long, value_enum, default_value_t = ProtocolArg::CrossSubject)]
    protocol: ProtocolArg,
    /// A published class split: synse-55-5, synse-48-12 (NTU-60), synse-110-10,
    /// synse-96-24 (NTU-120), paper-random (the paper's three random runs, any dataset).
    #[arg(long, conflicts_with = "unseen")]
    published: Option<String>,
    /// Draw this many unseen classes per run (and as many validation classes);
    /// give this or --published.
    #[arg(long, required_unless_present = "published")]
    unseen: Option<usize>,
    /// Runs to draw with --unseen.
    #[arg(long, default_value_t = 3, requires = "unseen")]
    runs: u32,
    /// Seed of the drawn classes and of the validation hold-out; the same seed
    /// writes the same files on every machine.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Share of each seen class's training samples, in [0, 1), held out to
    /// evaluate the gate.
    #[arg(long, default_value_t = 0.2)]
    validation_fraction: f64,
    /// Output folder (default: DIR/splits). Files are named NAME-PROTOCOL-runR.yaml,
    /// NAME being the published split or random-K.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The variant names are the protocols' own names on the command line.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProtocolArg {
    /// NTU: published training subjects; PKU-MMD phase 1: videos 0291-0334 test.
    CrossSubject,
    /// NTU-60: cameras 2 and 3 train, camera 1 tests.
    CrossView,
    /// NTU-120: even setups train, odd setups test.
    CrossSetup,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Self {
        match p {
            ProtocolArg::CrossSubject => Protocol::CrossSubject,
            ProtocolArg::CrossView => Protocol::CrossView,
            ProtocolArg::CrossSetup => Protocol::CrossSetup,
        }
    }
}

fn run_split(args: SplitArgs) -> anyhow::Result<ExitCode> {
    let classes = match (args.published, args.unseen) {
        (Some(name), _) => ClassChoice::Published(name),
        (None, Some(unseen)) => ClassChoice::Random {
            unseen,
            runs: args.runs,
        },
        (None, None) => anyhow::bail!("give --published NAME or --unseen K"),
    };
    let req = SplitRequest {
        protocol: args.protocol.into(),
        classes,
        seed: args.seed,
        validation_fraction: args.validation_fraction,
    };
    let out = args.out.unwrap_or_else(|| args.dir.join("splits"));
    let written = skel_pipeline::split::split(&args.dir, &out, &req)
        .with_context(|| format!("making splits of {}", args.dir.display()))?;
    for (path, s) in &written {
        let c = &s.counts;
        let unseen: Vec<String> = s
            .classes
            .unseen
            .iter()
            .map(|c| c.index.to_string())
            .collect();
        println!(
            "{}: unseen [{}]; train-seen {}, test-seen {}, test-unseen {}, validation train/seen/unseen {}/{}/{}",
            path.display(),
            unseen.join(" "),
            c.train_seen,
            c.test_seen,
            c.test_unseen,
            c.validation_train,
            c.validation_seen,
            c.validation_unseen
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Clone, Copy, ValueEnum)]
enum ReferenceArg {
    /// Once, from the first valid frame.
    Sequence,
    /// In every frame.
    Frame,
}

impl From<ReferenceArg> for Reference {
    fn from(r: ReferenceArg) -> Self {
        match r {
            ReferenceArg::Sequence => Reference::Sequence,
            ReferenceArg::Frame => Reference::Frame,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TemporalArg {
    /// Nearest frame at the centre of each bin.
    Uniform,
    /// Linear interpolation, ends included.
    Linear,
    /// Zero padding (longer samples keep their first frames).
    PadZeros,
    /// Repeat padding (longer samples keep their first frames).
    PadRepeat,
}

impl From<TemporalArg> for Temporal {
    fn from(t: TemporalArg) -> Self {
        match t {
            TemporalArg::Uniform => Temporal::Uniform,
            TemporalArg::Linear => Temporal::Linear,
            TemporalArg::PadZeros => Temporal::PadZeros,
            TemporalArg::PadRepeat => Temporal::PadRepeat,
        }
    }
}

impl ConvertArgs {
    /// The part of a distributed conversion, from --shard or --shard-count.
    fn part(&self) -> anyhow::Result<Option<Part>> {
        if let Some(text) = &self.shard {
            let parsed = text
                .split_once('/')
                .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
            let Some((index, count)) = parsed else {
                anyhow::bail!("--shard {text}: expected I/N, e.g. --shard 0/4");
            };
            return Ok(Some(Part { index, count }));
        }
        let Some(count) = self.shard_count else {
            return Ok(None);
        };
        for var in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
            if let Ok(value) = std::env::var(var) {
                let index = value
                    .trim()
                    .parse()
                    .with_context(|| format!("{var}={value:?} is not a part index"))?;
                return Ok(Some(Part { index, count }));
            }
        }
        anyhow::bail!(
            "--shard-count {count} needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX in the environment (or use --shard I/N)"
        )
    }

    /// The transform chain from --transforms or from the flags (in the order
    /// canonicalize, centre, scale, frames).
    fn transforms(&self) -> anyhow::Result<Vec<TransformSpec>> {
        let mut specs = Vec::new();
        if let Some(r) = self.canonicalize {
            specs.push(TransformSpec::Canonicalize {
                reference: r.into(),
            });
        }
        if let Some(r) = self.centre {
            specs.push(TransformSpec::Centre {
                joint: Joint::SpineMid,
                reference: r.into(),
            });
        }
        if self.scale_body {
            specs.push(TransformSpec::ScaleBody);
        }
        if let Some(frames) = self.frames {
            specs.push(TransformSpec::Frames {
                frames,
                method: self.temporal.into(),
            });
        }
        let Some(path) = &self.transforms else {
            return Ok(specs);
        };
        if !specs.is_empty() {
            anyhow::bail!("--transforms {} cannot be combined with transform flags: put every step in the file", path.display());
        }
        let config = TransformConfig::read(path)?;
        Ok(config.transforms)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DatasetArg {
    /// NTU RGB+D 60 (S001-S017, A001-A060).
    Ntu60,
    /// NTU RGB+D 120 (S001-S032, A001-A120).
    Ntu120,
    /// PKU-MMD phase 1 (XXXX-V.txt + label files).
    PkuV1,
    /// PKU-MMD phase 2 (A##N##-V.txt + label files).
    PkuV2,
}

impl From<DatasetArg> for Dataset {
    fn from(d: DatasetArg) -> Self {
        match d {
            DatasetArg::Ntu60 => Dataset::Ntu60,
            DatasetArg::Ntu120 => Dataset::Ntu120,
            DatasetArg::PkuV1 => Dataset::PkuV1,
            DatasetArg::PkuV2 => Dataset::PkuV2,
        }
    }
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum PresetArg {
    /// Every body track unmodified (one slot per body ID, all raw frames).
    Raw,
    /// yysijie/st-gcn: first two bodies per frame, 300 frames, zero padding.
    Stgcn,
    /// SGN / CTR-GCN: denoise, two actors, centre on the spine, pad to 300.
    Ctrgcn,
    /// 2s-AGCN / MS-G3D: two most energetic bodies, repeat padding, centre, rotate.
    Agcn,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Raw => Preset::Raw,
            PresetArg::Stgcn => Preset::Stgcn,
            PresetArg::Ctrgcn => Preset::Ctrgcn,
            PresetArg::Agcn => Preset::Agcn,
        }
    }
}

/// A progress bar over files with throughput.
struct Bar(ProgressBar);

impl Bar {
    fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} files ({per_sec}, eta {eta})",
            )
            .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self(bar)
    }
}

impl Progress for Bar {
    fn start(&self, files: u64) {
        self.0.set_length(files);
        self.0.set_prefix("converting");
    }

    fn file_done(&self, _bytes: u64) {
        self.0.inc(1);
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn options(args: ConvertArgs) -> anyhow::Result<ConvertOptions> {
    let transforms = args.transforms()?;
    let part = args.part()?;
    Ok(ConvertOptions {
        dataset: args.dataset.into(),
        raw: args.raw,
        labels: args.labels,
        out: args.out,
        preset: args.preset.into(),
        threads: args.threads,
        files_per_shard: args.shard_files,
        overwrite: args.overwrite,
        transforms,
        part,
    })
}

fn run_convert(args: ConvertArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let opts = options(args)?;
    let bar = Bar::new(quiet);
    let report =
        convert(&opts, &bar).with_context(|| format!("converting {}", opts.raw.display()))?;
    bar.0.finish_and_clear();
    let m = &report.manifest;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    println!(
        "converted {} samples from {} raw files ({:.1} MB) in {:.1} s ({:.0} files/s, {:.1} MB/s) into {}",
        m.counts.samples,
        m.counts.files,
        m.counts.raw_bytes as f64 / 1e6,
        secs,
        m.counts.files as f64 / secs,
        m.counts.raw_bytes as f64 / 1e6 / secs,
        opts.out.display()
    );
    if report.reused_shards > 0 {
        println!(
            "resumed an interrupted conversion: reused {} of {} shards, converted the other {}",
            report.reused_shards,
            report.total_shards,
            report.total_shards - report.reused_shards
        );
    }
    let chain: Vec<String> = m.transforms.iter().map(|t| t.to_string()).collect();
    println!(
        "preset {} ({}), transforms: {}; {} shards, {} on the official missing-skeleton list skipped",
        m.preset,
        m.preset_variant,
        if chain.is_empty() { "none".to_owned() } else { chain.join(" -> ") },
        m.shards.len(),
        m.counts.missing_listed
    );
    if m.quarantine.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    const SHOWN: usize = 20;
    eprintln!(
        "\n{} quarantined (all listed in {}/manifest.yaml):",
        m.quarantine.len(),
        opts.out.display()
    );
    for q in m.quarantine.iter().take(SHOWN) {
        // The reason already starts with "line N" where a line is known.
        eprintln!("  {}: {}", q.file, q.reason);
    }
    if m.quarantine.len() > SHOWN {
        eprintln!("  ... and {} more", m.quarantine.len() - SHOWN);
    }
    Ok(ExitCode::from(2))
}

/// `bench`: the flags of `convert`, and how often to measure.
#[derive(clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    convert: ConvertArgs,
    /// Rounds of the three passes, interleaved; each pass reports its median
    /// round (CPU time), since other programs on the machine slow single runs
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
}

/// Makes glibc's allocator keep and reuse the memory a conversion frees.
///
/// By default blocks of 128 kB and more (a parsed file, a Parquet page) are
/// mapped for each allocation and unmapped when freed, and free memory at
/// the top of a heap is handed back at once: every file then pays for fresh
/// zeroed pages, about a quarter of a conversion's time in page faults
/// (`perf`). Peak memory stays what the workers hold at once.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any other thread exists; mallopt only changes
    // allocator thresholds.
    unsafe {
        // 32 MiB is the largest mmap threshold glibc accepts on 64-bit.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`skel-pipeline inspect DIR | head`), as
    // command-line tools do, instead of failing to print.
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Convert(args) => run_convert(args, cli.quiet),
        Command::Bench(BenchArgs { convert, rounds }) => options(convert).and_then(|opts| {
            let report = skel_pipeline::bench::bench(&opts, rounds).context("benchmarking")?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }),
        Command::Split(args) => run_split(args),
        Command::Synth(args) => run_synth(args, cli.quiet),
        Command::Export(args) => run_export(args, cli.quiet),
        Command::Merge { dir } => skel_pipeline::merge::merge(&dir)
            .with_context(|| format!("merging {}", dir.display()))
            .map(|m| {
                println!(
                    "merged {} shards ({} samples, {} quarantined) into {}",
                    m.shards.len(),
                    m.counts.samples,
                    m.counts.quarantined,
                    dir.join(skel_schemas::MANIFEST_FILE).display()
                );
                ExitCode::SUCCESS
            }),
        Command::Inspect { dir } => inspect(&dir)
            .with_context(|| format!("inspecting {}", dir.display()))
            .map(|report| {
                print!("{report}");
                ExitCode::SUCCESS
            }),
        Command::Verify { dir } => verify(&dir)
            .with_context(|| format!("verifying {}", dir.display()))
            .map(|v| {
                if let Some(holder) =
                    skel_pipeline::lock::holder(&dir, skel_pipeline::lock::LOCK_FILE)
                {
                    eprintln!(
                        "note: a writer holds {} ({holder}): the dataset may change while it works",
                        dir.display()
                    );
                }
                for (file, problem) in &v.problems {
                    eprintln!(
                        "{}: {problem}\n  fix: {}",
                        dir.join(skel_schemas::SHARD_DIR).join(file).display(),
                        problem.fix()
                    );
                }
                if v.is_ok() {
                    println!(
                        "{} shards verified: sizes, SHA-256 and row counts match the manifest",
                        v.shards
                    );
                    ExitCode::SUCCESS
                } else {
                    eprintln!("{} problems in {} shards", v.problems.len(), v.shards);
                    ExitCode::FAILURE
                }
            }),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", chain(&e));
        ExitCode::FAILURE
    })
}

/// An error and its causes joined by `: `, leaving out a cause whose text the
/// message before it already shows (the library's errors print their source).
fn chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out += ": ";
            out += &text;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn command_line_is_consistent_and_every_flag_has_help() {
        skel_pipeline::cli_docs::assert_documented(Cli::command());
    }
}
