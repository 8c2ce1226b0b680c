//! `skel-trainer`: batch jobs on converted datasets and split files. The work
//! lives in the library; this is argument parsing and reporting.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use skel_trainer::config::{DeviceChoice, Phase};
use skel_trainer::experiment::{self, Experiment, ExperimentConfig};
use skel_trainer::extract::{run_file, ExtractOptions};
use skel_trainer::sadvae::Variant;

/// Zero-shot skeleton action recognition training on libtorch.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Log debug output (default: info); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bars (results, log lines and errors are still printed).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the skeleton feature extractor on the split's seen training
    /// samples, checkpointing every epoch, then write every sample's feature
    /// and seen-class logits to RUN_DIR/features.parquet.
    Extract {
        /// The job's YAML config (e.g. configs/experiments/extract-tiny-stgcn.yaml).
        #[arg(long)]
        config: PathBuf,
        /// Continue the run in the config's run_dir from its last epoch
        /// checkpoint (ends with the same weights as an uninterrupted run).
        #[arg(long)]
        resume: bool,
        /// Override the config's device; cuda fails when no GPU is visible
        /// (never a silent CPU fallback).
        #[arg(long, value_enum)]
        device: Option<DeviceArg>,
    },
    /// Embed the class texts of a dataset (or take the shipped CLIP features)
    /// and write them to Parquet; prints the file, the size and the time.
    Embed(skel_trainer::text::cli::EmbedArgs),
    /// Run every stage of an experiment for each run (split file): extract
    /// features (main and validation phases), embed class texts, fit SA-DVAE,
    /// fit the gate, evaluate; then write results.json, results.md and plots
    /// to the experiment's out_dir. Stages whose inputs are unchanged are
    /// reused; interrupted ones resume.
    Run(StageArgs),
    /// Fit SA-DVAE for one run: the validation phase (which chooses the
    /// epoch on validation data), or the main phase (which needs it).
    /// Extracts the features it needs first.
    Fit {
        #[command(flatten)]
        stage: StageArgs,
        /// Which phase to fit.
        #[arg(long, value_enum, default_value = "validation")]
        phase: PhaseArg,
    },
    /// Fit the gate of one run on the validation phase's outputs (fits what
    /// it needs first).
    Gate(StageArgs),
    /// Random search of SA-DVAE settings (the paper's Table A space): each
    /// trial fits the validation phase and the gate and is scored by GZSL H
    /// on held-out validation samples; writes out_dir/search/search.md.
    #[command(
        mut_arg("run", |a| a.help("The run whose validation data scores the trials (0-based index into the config's splits) [default: 0]")),
        mut_arg("variant", |a| a.help("The SA-DVAE variant to search; default: the config's first variant")),
    )]
    Search {
        #[command(flatten)]
        stage: StageArgs,
        /// Number of random configurations to try.
        #[arg(long, default_value_t = 20)]
        trials: usize,
        /// Seed of the draws (the same seed draws the same trials).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Export a run's extracted features (main and validation phases) in the
    /// resources/ layout the official SA-DVAE code reads unchanged
    /// (sk_feats/ with train.npy, ztest.npy, gtest.npy, gtest_out.npy,
    /// val.npy, ...; label_splits/; text_feats/), to compare both
    /// implementations on identical inputs, or to import again
    /// (`features:`). Extracts first if needed.
    Export {
        /// The experiment's YAML config (see configs/experiments/).
        #[arg(long)]
        config: PathBuf,
        /// The run (0-based index into the config's splits).
        #[arg(long, default_value_t = 0)]
        run: usize,
        /// The output layout.
        #[arg(long, value_enum, default_value = "sa-dvae")]
        format: ExportFormat,
        /// Output folder, laid out as the official code's resources/
        /// (sk_feats/, label_splits/, text_feats/).
        #[arg(long)]
        out: PathBuf,
        /// The name the official scripts take as --dataset [default:
        /// DATASET_runN, e.g. ntu60_run0].
        #[arg(long)]
        name: Option<String>,
    },
    /// Evaluate one run on the test partition: ZSL, GZSL Acc_s, Acc_u, H,
    /// per-class accuracy and confusion matrices (fits what it needs first).
    Eval(StageArgs),
    /// Diagnose the libtorch install: its version and folder, whether its
    /// CUDA library loaded (and if not, why), CUDA, cuDNN, the GPUs, CPU
    /// threads, the Sentence-BERT weights, and what `--device cuda` needs.
    Doctor {
        /// Exit with status 1 unless `--device cuda` can work here.
        #[arg(long)]
        require_cuda: bool,
    },
    /// Throughput benchmarks on seeded data (see bench/README.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The batch loader alone, no model: renders the split's train_seen
    /// samples into training batches (crop, resample, rotation) and their
    /// input tensors; prints samples/s.
    Loader {
        /// Converted dataset folder.
        #[arg(long)]
        dataset: PathBuf,
        /// Split file of that dataset.
        #[arg(long)]
        split: PathBuf,
        /// Frames per sample (T).
        #[arg(long, default_value_t = 64)]
        frames: usize,
        /// Samples per batch.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Passes over train_seen.
        #[arg(long, default_value_t = 3)]
        epochs: usize,
        /// Render threads per batch (extract uses 1).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// cuda: hand batches over in pinned memory, as for a GPU.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceArg,
    },
    /// Standard-width ST-GCN (or, with --arch, Shift-GCN) training steps
    /// (forward, cross-entropy, backward, SGD) on the seeded batches of
    /// FOLDER (written when absent), which bench/stgcn_train_throughput.py
    /// reads too; prints samples/s.
    Stgcn {
        /// Folder of inputs.npy and targets.npy.
        #[arg(long)]
        folder: PathBuf,
        /// Where to train.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceArg,
        /// Samples per step.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Frames per sample (T).
        #[arg(long, default_value_t = 64)]
        frames: usize,
        /// Steps in all, warm-up included.
        #[arg(long, default_value_t = 12)]
        steps: usize,
        /// Untimed first steps.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Arithmetic of the forward pass.
        #[arg(long, value_enum, default_value = "fp32")]
        precision: skel_trainer::precision::Precision,
        /// Let cuDNN choose its convolution algorithms by timing them (CUDA).
        #[arg(long)]
        cudnn_benchmark: bool,
        /// libtorch intra-op threads (CPU).
        #[arg(long, default_value_t = 2)]
        threads: i32,
        /// A 2-block, 8-16-channel network instead of the standard one (tests).
        #[arg(long)]
        tiny: bool,
        /// The network: stgcn (dropout 0.5) or shiftgcn (no dropout), as published.
        #[arg(long, value_enum, default_value = "stgcn")]
        arch: skel_trainer::model::Arch,
        /// Shift-GCN's temporal unit: adaptive (the paper's) or fixed.
        #[arg(long, value_enum, default_value = "adaptive")]
        temporal_shift: skel_trainer::model::TemporalShift,
    },
    /// The SA-DVAE fd_tc training step at the Table 5 NTU-60 sizes, batch
    /// 32, on the seeded features of FOLDER (written when absent): the fused
    /// step on the CPU, autograd on CUDA; prints samples/s.
    Sadvae {
        /// Folder of fx.npy, labels.npy and text.npy.
        #[arg(long)]
        folder: PathBuf,
        /// Where to train.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceArg,
        /// libtorch intra-op threads (fit uses 1).
        #[arg(long, default_value_t = 1)]
        threads: i32,
        /// Steps in all, the first quarter (at most 20) untimed; 256 steps
        /// make one pass over the 8,192 samples.
        #[arg(long, default_value_t = 1024)]
        steps: usize,
    },
}

/// The experiment, and which run and variants a stage works on.
#[derive(Args)]
struct StageArgs {
    /// The experiment's YAML config (see configs/experiments/).
    #[arg(long)]
    config: PathBuf,
    /// Only this run (0-based index into the config's splits); default: all.
    #[arg(long)]
    run: Option<usize>,
    /// Only this SA-DVAE variant; default: each of the config's variants.
    #[arg(long, value_enum)]
    variant: Option<VariantArg>,
    /// Override the config's device; cuda fails when no GPU is visible
    /// (never a silent CPU fallback).
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// The original SA-DVAE code's npy files.
    SaDvae,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PhaseArg {
    /// Train on validation_train, score every epoch by ZSL accuracy on the
    /// pseudo-unseen classes, choose the epoch.
    Validation,
    /// Train on train_seen for the epochs the validation phase chose.
    Main,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum VariantArg {
    /// No style head, no discriminator (the paper's baseline).
    Naive,
    /// Feature disentanglement: the style head, no discriminator.
    Fd,
    /// The full SA-DVAE: style head and total-correlation discriminator.
    #[value(name = "fd_tc")]
    FdTc,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DeviceArg {
    /// The CPU.
    Cpu,
    /// The first CUDA device; an error if libtorch sees none.
    Cuda,
}

fn device_choice(d: DeviceArg) -> DeviceChoice {
    match d {
        DeviceArg::Cpu => DeviceChoice::Cpu,
        DeviceArg::Cuda => DeviceChoice::Cuda,
    }
}

/// Opens the experiment of a stage command; returns it with the runs and
/// variants to work on.
fn open(args: &StageArgs, quiet: bool) -> anyhow::Result<(Experiment, Vec<usize>, Vec<Variant>)> {
    let mut cfg = ExperimentConfig::read(&args.config).map_err(anyhow::Error::msg)?;
    if let Some(d) = args.device {
        cfg.device = device_choice(d);
    }
    if let Some(v) = args.variant {
        cfg.variants = vec![match v {
            VariantArg::Naive => Variant::Naive,
            VariantArg::Fd => Variant::Fd,
            VariantArg::FdTc => Variant::FdTc,
        }];
    }
    let exp = Experiment::open(cfg, !quiet)?;
    let runs = match args.run {
        Some(r) if r >= exp.runs() => anyhow::bail!(
            "--run {r}: the config lists {} split files (runs 0-{})",
            exp.runs(),
            exp.runs() - 1
        ),
        Some(r) => vec![r],
        None => (0..exp.runs()).collect(),
    };
    let variants = exp.cfg.variants.clone();
    Ok((exp, runs, variants))
}

fn run_stage(command: Command, quiet: bool) -> anyhow::Result<()> {
    match command {
        Command::Extract { .. } | Command::Embed(_) | Command::Doctor { .. } => {
            unreachable!("handled in main")
        }
        Command::Bench(b) => bench(b)?,
        Command::Run(args) => {
            let (exp, runs, variants) = open(&args, quiet)?;
            let mut outcomes = Vec::new();
            for &run in &runs {
                experiment::extract(&exp, run, Phase::Main)?;
                experiment::extract(&exp, run, Phase::Validation)?;
                for &v in &variants {
                    outcomes.push(experiment::eval(&exp, run, v)?);
                }
            }
            let summary = experiment::write_report(&exp, &outcomes)?;
            println!("{}", experiment::report::table(&summary));
            println!("report: {}", exp.cfg.out_dir.join("results.md").display());
            for f in summary
                .files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "png"))
            {
                println!("figure: {}", exp.cfg.out_dir.join(f).display());
            }
        }
        Command::Fit { stage, phase } => {
            let (exp, runs, variants) = open(&stage, quiet)?;
            for &run in &runs {
                for &v in &variants {
                    match phase {
                        PhaseArg::Validation => {
                            let s = experiment::fit_validation(&exp, run, v)?;
                            println!(
                                "run {run} {}: epoch {} chosen (validation ZSL {:.1} %)",
                                v.name(),
                                s.chosen_epoch,
                                100.0 * s.validation_zsl[s.chosen_epoch - 1].1
                            );
                        }
                        PhaseArg::Main => {
                            let dir = experiment::fit_main(&exp, run, v)?;
                            println!("run {run} {}: {}", v.name(), dir.root.display());
                        }
                    }
                }
            }
        }
        Command::Gate(args) => {
            let (exp, runs, variants) = open(&args, quiet)?;
            for &run in &runs {
                for &v in &variants {
                    let g = experiment::gate(&exp, run, v)?;
                    println!(
                        "run {run} {}: temperature {}, threshold {:.2}, held-out accuracy {:.1} %",
                        v.name(),
                        g.temperature,
                        g.threshold,
                        100.0 * g.held_out_accuracy
                    );
                }
            }
        }
        Command::Search {
            stage,
            trials,
            seed,
        } => {
            let (mut exp, runs, variants) = open(&stage, quiet)?;
            let runs = if stage.run.is_some() { runs } else { vec![0] };
            let best = experiment::search::search(&mut exp, &runs, variants[0], trials, seed)?;
            if let Some(t) = best.first() {
                println!(
                    "best of {trials} trials: trial {} with validation H {:.2} %; settings:\n{}",
                    t.trial,
                    100.0 * t.validation_h,
                    serde_saphyr::to_string(&t.sadvae)?
                );
            }
            println!(
                "table: {}",
                exp.cfg.out_dir.join("search/search.md").display()
            );
        }
        Command::Export {
            config,
            run,
            format: ExportFormat::SaDvae,
            out,
            name,
        } => {
            let args = StageArgs {
                config,
                run: Some(run),
                variant: None,
                device: None,
            };
            let (exp, _, _) = open(&args, quiet)?;
            let (main, validation) = experiment::export_sa_dvae(&exp, run, name.as_deref(), &out)?;
            println!(
                "wrote {} and {}, with {}/label_splits and {}/text_feats",
                main.display(),
                validation.display(),
                out.display(),
                out.display()
            );
        }
        Command::Eval(args) => {
            let (exp, runs, variants) = open(&args, quiet)?;
            for &run in &runs {
                for &v in &variants {
                    let o = experiment::eval(&exp, run, v)?;
                    let m = &o.metrics;
                    println!(
                        "run {run} {}: ZSL {:.2} %, Acc_s {:.2} %, Acc_u {:.2} %, H {:.2} %",
                        v.name(),
                        100.0 * m.zsl,
                        100.0 * m.acc_s,
                        100.0 * m.acc_u,
                        100.0 * m.h
                    );
                }
            }
        }
    }
    Ok(())
}

fn bench(b: BenchCommand) -> anyhow::Result<()> {
    use skel_trainer::bench;
    let report = |what: &str, (n, seconds): (usize, f64), detail: String| {
        println!(
            "{what}: {:.1} samples/s ({n} samples in {seconds:.2} s; {detail})",
            n as f64 / seconds.max(1e-9)
        );
    };
    match b {
        BenchCommand::Loader {
            dataset,
            split,
            frames,
            batch_size,
            epochs,
            workers,
            device,
        } => {
            let r = bench::loader(&bench::LoaderBench {
                dataset,
                split,
                frames,
                batch_size,
                epochs,
                workers,
                device: device_choice(device),
            })?;
            report(
                "skel-trainer loader",
                r,
                format!("T={frames}, batch {batch_size}, {workers} render threads"),
            );
        }
        BenchCommand::Stgcn {
            folder,
            device,
            batch_size,
            frames,
            steps,
            warmup,
            precision,
            cudnn_benchmark,
            threads,
            tiny,
            arch,
            temporal_shift,
        } => {
            tch::set_num_threads(threads);
            let b = bench::StgcnBench {
                folder,
                device: device_choice(device),
                batch_size,
                frames,
                steps,
                warmup,
                classes: 55,
                precision,
                cudnn_benchmark,
                tiny,
                arch,
                temporal_shift,
            };
            let r = bench::stgcn(&b)?;
            let network = match (arch, temporal_shift) {
                (skel_trainer::model::Arch::Stgcn, _) => "ST-GCN".to_owned(),
                (_, shift) => format!("Shift-GCN ({} shift)", format!("{shift:?}").to_lowercase()),
            };
            report(
                &format!("skel-trainer {network} train"),
                r,
                format!(
                    "{} steps of {batch_size}, T={frames}, {}, {}, {threads} threads",
                    steps - warmup,
                    if b.device.is_cpu() { "cpu" } else { "cuda" },
                    precision.name()
                ),
            );
        }
        BenchCommand::Sadvae {
            folder,
            device,
            threads,
            steps,
        } => {
            tch::set_num_threads(threads);
            let device = device_choice(device);
            let r = bench::sadvae(&bench::SadvaeBench {
                folder,
                device,
                steps,
            })?;
            report(
                "skel-trainer SA-DVAE fd_tc",
                r,
                format!(
                    "batch 32, {}, {threads} threads",
                    if device.is_cpu() {
                        "cpu (fused step)"
                    } else {
                        "cuda (autograd)"
                    }
                ),
            );
        }
    }
    Ok(())
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    // Before libtorch makes its first tensor (its libraries read these once).
    skel_trainer::numerics::pin();
    skel_trainer::allocator::tune();
    // Before anything asks libtorch about CUDA (it caches the answer).
    skel_trainer::cuda::load();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Doctor { require_cuda } => {
            let (report, ready) = skel_trainer::cuda::doctor_report();
            print!("{report}");
            Ok(if require_cuda && !ready {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Extract {
            config,
            resume,
            device,
        } => {
            let opts = ExtractOptions {
                resume,
                progress: !cli.quiet,
                stop_after: None,
            };
            let device = device.map(device_choice);
            run_file(&config, device, &opts).map(|r| {
                println!(
                    "trained {} epochs{} in {:.0} s: test-seen accuracy {:.1} %; {} feature rows written",
                    r.epochs_done,
                    r.resumed_from.map_or_else(String::new, |e| format!(" (resumed after epoch {e})")),
                    r.seconds,
                    100.0 * r.test_seen_accuracy,
                    r.feature_rows
                );
                ExitCode::SUCCESS
            })
        }
        Command::Embed(args) => skel_trainer::text::cli::run(&args).map(|()| ExitCode::SUCCESS),
        command => run_stage(command, cli.quiet).map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
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
