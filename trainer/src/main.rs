//! `skel-trainer`: batch jobs on converted datasets and split files. The work
//! lives in the library; this is argument parsing and reporting.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skel_trainer::config::DeviceChoice;
use skel_trainer::extract::{run_file, ExtractOptions};

/// Zero-shot skeleton action recognition training on libtorch.
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
    /// Train the skeleton feature extractor on the split's seen training
    /// samples, checkpointing every epoch, then write every sample's feature
    /// and seen-class logits to RUN_DIR/features.parquet.
    Extract {
        /// The job's YAML config (see configs/experiments/).
        #[arg(long)]
        config: PathBuf,
        /// Continue the run in the config's run_dir from its last checkpoint.
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
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
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
        .init();
}

fn main() -> ExitCode {
    skel_trainer::allocator::tune();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
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
            let device = device.map(|d| match d {
                DeviceArg::Cpu => DeviceChoice::Cpu,
                DeviceArg::Cuda => DeviceChoice::Cuda,
            });
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
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
