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
use skel_pipeline::{convert, inspect, verify, ConvertOptions, Progress};
use skel_schemas::{Dataset, Preset};

/// Raw NTU RGB+D 60/120 and PKU-MMD skeleton files to Parquet shards with a manifest.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Log more (repeat for debug output); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bars.
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
    /// Summarise a converted dataset: classes, cameras, subjects, frame lengths, quarantine.
    Inspect {
        /// The dataset folder (holding manifest.yaml).
        dir: PathBuf,
    },
    /// Measure conversion throughput (MB/s, files/s) against its floor: reading
    /// the same bytes and parsing every number, nothing else.
    Bench(ConvertArgs),
    /// Re-hash every shard against the manifest; exit status 1 on any mismatch.
    Verify {
        /// The dataset folder (holding manifest.yaml).
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct ConvertArgs {
    /// Raw dataset layout.
    #[arg(long, value_enum)]
    dataset: DatasetArg,
    /// Folder of raw skeleton files (searched recursively; hidden files are ignored).
    #[arg(long)]
    raw: PathBuf,
    /// Folder of PKU-MMD label files, one per skeleton file with the same name.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Output dataset folder (created; gets shards/ and manifest.yaml).
    #[arg(long)]
    out: PathBuf,
    /// Body cleaning preset (the reference preprocessor to reproduce).
    #[arg(long, value_enum, default_value_t = PresetArg::Ctrgcn)]
    preset: PresetArg,
    /// Worker threads (default: every core). Output is identical for any value.
    #[arg(long)]
    threads: Option<usize>,
    /// Raw files per Parquet shard.
    #[arg(long, default_value_t = FILES_PER_SHARD)]
    shard_files: usize,
    /// Replace a dataset already converted into --out.
    #[arg(long)]
    overwrite: bool,
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

fn options(args: ConvertArgs) -> ConvertOptions {
    ConvertOptions {
        dataset: args.dataset.into(),
        raw: args.raw,
        labels: args.labels,
        out: args.out,
        preset: args.preset.into(),
        threads: args.threads,
        files_per_shard: args.shard_files,
        overwrite: args.overwrite,
    }
}

fn run_convert(args: ConvertArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let opts = options(args);
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
    println!(
        "preset {} ({}), {} shards, {} on the official missing-skeleton list skipped",
        m.preset,
        m.preset_variant,
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
        let line = q.line.map_or_else(String::new, |l| format!(":{l}"));
        eprintln!("  {}{line}: {}", q.file, q.reason);
    }
    if m.quarantine.len() > SHOWN {
        eprintln!("  ... and {} more", m.quarantine.len() - SHOWN);
    }
    Ok(ExitCode::from(2))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Convert(args) => run_convert(args, cli.quiet),
        Command::Bench(args) => {
            let opts = options(args);
            skel_pipeline::bench::bench(&opts)
                .context("benchmarking")
                .map(|report| {
                    println!("{report}");
                    ExitCode::SUCCESS
                })
        }
        Command::Inspect { dir } => inspect(&dir)
            .with_context(|| format!("inspecting {}", dir.display()))
            .map(|report| {
                print!("{report}");
                ExitCode::SUCCESS
            }),
        Command::Verify { dir } => verify(&dir)
            .with_context(|| format!("verifying {}", dir.display()))
            .map(|v| {
                for (file, problem) in &v.problems {
                    eprintln!("{file}: {problem}");
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
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
