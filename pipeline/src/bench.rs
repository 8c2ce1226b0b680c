//! `bench`: conversion throughput against its floor.
//!
//! The floor reads the same bytes and parses every number in them with the
//! pipeline's own number parser, and does nothing else (no structure checks, no cleaning, no Parquet): a conversion
//! can never be faster. Both run in one process on the same warm page cache
//! and the same thread count, so their ratio is meaningful.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::convert::{convert, ConvertOptions, NoProgress};
use crate::discover::discover;
use crate::error::PipelineError;
use crate::text::{parse_f64, Fields, Lines};

/// Throughput of one pass.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Pass {
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn files_per_s(&self) -> f64 {
        self.files as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The floor and the full conversion, measured in one run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub threads: usize,
    pub floor: Pass,
    pub convert: Pass,
    /// Numbers parsed by the floor (a check that it did its work).
    pub numbers: u64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "threads {}; {} files, {:.1} MB",
            self.threads,
            self.floor.files,
            self.floor.bytes as f64 / 1e6
        )?;
        writeln!(
            f,
            "{:<40} {:>9} {:>10} {:>10}",
            "pass", "seconds", "MB/s", "files/s"
        )?;
        for (name, pass) in [
            ("floor: read + parse every number", &self.floor),
            ("convert: parse + clean + write", &self.convert),
        ] {
            writeln!(
                f,
                "{name:<40} {:>9.2} {:>10.1} {:>10.0}",
                pass.elapsed.as_secs_f64(),
                pass.mb_per_s(),
                pass.files_per_s()
            )?;
        }
        write!(
            f,
            "convert / floor throughput: {:.2} ({} numbers parsed by the floor)",
            self.convert.mb_per_s() / self.floor.mb_per_s(),
            self.numbers
        )
    }
}

/// Reads every file of `raw` and parses every whitespace-separated number.
pub fn floor(paths: &[PathBuf]) -> Result<(Pass, u64), PipelineError> {
    let started = Instant::now();
    let results: Vec<Result<(u64, u64), PipelineError>> = paths
        .par_iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(PipelineError::io(path))?;
            let mut numbers = 0u64;
            let mut lines = Lines::new(&bytes);
            while let Some(line) = lines.next_line() {
                let mut fields = Fields::new(line);
                while let Some(field) = fields.next_field() {
                    for token in field.split(|&b| b == b',') {
                        if parse_f64(token, 0, "number").is_ok() {
                            numbers += 1;
                        }
                    }
                }
            }
            Ok((bytes.len() as u64, numbers))
        })
        .collect();
    let mut pass = Pass {
        files: paths.len() as u64,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    let mut numbers = 0;
    for r in results {
        let (b, n) = r?;
        pass.bytes += b;
        numbers += n;
    }
    pass.elapsed = started.elapsed();
    Ok((pass, numbers))
}

/// Runs the floor and a full conversion of `opts.raw` into `opts.out`.
pub fn bench(opts: &ConvertOptions) -> Result<BenchReport, PipelineError> {
    let paths: Vec<PathBuf> = discover(&opts.raw, opts.dataset)?
        .into_iter()
        .map(|i| i.path)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| PipelineError::Usage(format!("cannot start worker threads: {e}")))?;
    // Warm the page cache so that neither pass pays for the disk.
    pool.install(|| warm(&paths))?;
    let (floor_pass, numbers) = pool.install(|| floor(&paths))?;
    let report = convert(opts, &NoProgress)?;
    let convert_pass = Pass {
        files: report.manifest.counts.files,
        bytes: report.manifest.counts.raw_bytes,
        elapsed: report.elapsed,
    };
    Ok(BenchReport {
        threads: pool.current_num_threads(),
        floor: floor_pass,
        convert: convert_pass,
        numbers,
    })
}

fn warm(paths: &[PathBuf]) -> Result<(), PipelineError> {
    paths.par_iter().try_for_each(|p: &PathBuf| read_discard(p))
}

fn read_discard(path: &Path) -> Result<(), PipelineError> {
    std::fs::read(path)
        .map(drop)
        .map_err(PipelineError::io(path))
}
