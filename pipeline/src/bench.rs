//! `bench`: conversion throughput against what the machine allows.
//!
//! Three passes over the same files, in one process, on the same warm page
//! cache and the same thread count, so that their ratios mean something:
//!
//! 1. **read**: map every file the way `convert` does and touch every byte
//!    (count its newlines with `memchr`);
//! 2. **external parse**: map every file and parse every number in it with
//!    `fast-float2` (a Rust port of Lemire's fast_float, Eisel-Lemire with a
//!    correct fallback), and nothing else: no structure checks, no
//!    cleaning, no Parquet. A conversion that parses as fast as a
//!    well-known parser and does the rest for free would reach it;
//! 3. **convert**: the full conversion (`convert`), written to `--out`.
//!
//! Every pass reports MB/s of wall time and MB/s per core: the bytes over
//! the CPU time the process used during the pass (user + system), which
//! other programs on the machine do not inflate.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::convert::{convert, map_file, ConvertOptions, NoProgress};
use crate::discover::discover;
use crate::error::PipelineError;

/// Throughput of one pass.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    pub files: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// CPU time of the whole process during the pass (user + system).
    pub cpu: Duration,
    /// What the pass counted (newlines, numbers or samples): proof it did its work.
    pub items: u64,
}

impl Pass {
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Megabytes per second of CPU time: the rate of one core.
    pub fn mb_per_core_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.cpu.as_secs_f64().max(1e-9)
    }

    pub fn files_per_s(&self) -> f64 {
        self.files as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Files per second of CPU time.
    pub fn files_per_core_s(&self) -> f64 {
        self.files as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

/// The three passes, measured in one run: each pass's median round.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub threads: usize,
    pub rounds: usize,
    pub read: Pass,
    pub external: Pass,
    pub convert: Pass,
    /// The convert / external parse ratio (per core) of single rounds: the
    /// lowest, the median and the highest (how much the rounds disagreed).
    pub round_ratios: (f64, f64, f64),
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "threads {}; {} files, {:.1} MB; median of {} rounds",
            self.threads,
            self.read.files,
            self.read.bytes as f64 / 1e6,
            self.rounds
        )?;
        writeln!(
            f,
            "{:<44} {:>8} {:>8} {:>9} {:>10} {:>8} {:>14}",
            "pass", "seconds", "MB/s", "files/s", "MB/s/core", "cpu s", "counted"
        )?;
        for (name, pass, what) in [
            ("read: map + count newlines (memchr)", &self.read, "lines"),
            (
                "external parse: every number (fast-float2)",
                &self.external,
                "numbers",
            ),
            ("convert: parse + clean + write", &self.convert, "samples"),
        ] {
            writeln!(
                f,
                "{name:<44} {:>8.2} {:>8.1} {:>9.0} {:>10.1} {:>8.2} {:>14}",
                pass.elapsed.as_secs_f64(),
                pass.mb_per_s(),
                pass.files_per_s(),
                pass.mb_per_core_s(),
                pass.cpu.as_secs_f64(),
                format!("{} {what}", pass.items)
            )?;
        }
        let per_core = |a: &Pass, b: &Pass| a.mb_per_core_s() / b.mb_per_core_s();
        let wall = |a: &Pass, b: &Pass| a.mb_per_s() / b.mb_per_s();
        writeln!(
            f,
            "convert / external parse: {:.2} per core, {:.2} wall (single rounds per core: {:.2} to {:.2}, median {:.2})",
            per_core(&self.convert, &self.external),
            wall(&self.convert, &self.external),
            self.round_ratios.0,
            self.round_ratios.2,
            self.round_ratios.1
        )?;
        write!(
            f,
            "convert / read: {:.2} per core, {:.2} wall",
            per_core(&self.convert, &self.read),
            wall(&self.convert, &self.read)
        )
    }
}

/// CPU time used by this process so far (user + system, every thread).
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Runs `work` on every file, summing the counts it returns.
fn pass(paths: &[PathBuf], work: impl Fn(&[u8]) -> u64 + Sync) -> Result<Pass, PipelineError> {
    let (started, cpu) = (Instant::now(), cpu_time());
    let results: Vec<Result<(u64, u64), PipelineError>> = paths
        .par_iter()
        .map(|path| {
            let map = map_file(path).map_err(|e| PipelineError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
            Ok((bytes.len() as u64, work(bytes)))
        })
        .collect();
    let mut out = Pass {
        files: paths.len() as u64,
        bytes: 0,
        elapsed: Duration::ZERO,
        cpu: Duration::ZERO,
        items: 0,
    };
    for r in results {
        let (bytes, items) = r?;
        out.bytes += bytes;
        out.items += items;
    }
    out.elapsed = started.elapsed();
    out.cpu = cpu_time().saturating_sub(cpu);
    Ok(out)
}

/// Touches every byte: the number of newlines.
pub fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// Parses every whitespace-separated number with `fast-float2` alone: how
/// many parsed. Each call parses from a field's first byte and says how far
/// it read, so the parser does the field scanning itself.
pub fn count_numbers_external(bytes: &[u8]) -> u64 {
    let mut numbers = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        match fast_float2::parse_partial::<f64, _>(&bytes[i..]) {
            Ok((_, read)) if read > 0 => {
                numbers += 1;
                i += read;
            }
            // Not a number (PKU-MMD label commas, damage): skip the byte.
            _ => i += 1,
        }
    }
    numbers
}

/// The round whose CPU time is the median.
fn median(mut passes: Vec<Pass>) -> Pass {
    passes.sort_by_key(|p| p.cpu);
    passes[passes.len() / 2]
}

/// Runs the three passes `rounds` times on `opts.raw`, interleaved; the
/// conversion writes to `opts.out` (again in every round after the first).
pub fn bench(opts: &ConvertOptions, rounds: u32) -> Result<BenchReport, PipelineError> {
    let paths: Vec<PathBuf> = discover(&opts.raw, opts.dataset)?
        .into_iter()
        .map(|i| i.path)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| PipelineError::Usage(format!("cannot start worker threads: {e}")))?;
    // Warm the page cache so that no pass pays for the disk.
    pool.install(|| pass(&paths, count_lines))?;
    let (mut reads, mut externals, mut converts) = (Vec::new(), Vec::new(), Vec::new());
    let mut opts = opts.clone();
    for _ in 0..rounds.max(1) {
        reads.push(pool.install(|| pass(&paths, count_lines))?);
        externals.push(pool.install(|| pass(&paths, count_numbers_external))?);
        let cpu = cpu_time();
        let report = convert(&opts, &NoProgress)?;
        converts.push(Pass {
            files: report.manifest.counts.files,
            bytes: report.manifest.counts.raw_bytes,
            elapsed: report.elapsed,
            cpu: cpu_time().saturating_sub(cpu),
            items: report.manifest.counts.samples,
        });
        // The folder is this run's own now.
        opts.overwrite = true;
    }
    let mut ratios: Vec<f64> = converts
        .iter()
        .zip(&externals)
        .map(|(c, e)| c.mb_per_core_s() / e.mb_per_core_s())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let round_ratios = (
        ratios[0],
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1],
    );
    Ok(BenchReport {
        threads: pool.current_num_threads(),
        rounds: converts.len(),
        read: median(reads),
        external: median(externals),
        convert: median(converts),
        round_ratios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_external_pass_counts_every_number() {
        let text = b"2\n1\n72057594037931101 0 1 1 1 1 0 0.01 -0.02 2\r\n25\n-1.5E-05\t7.\n";
        assert_eq!(count_numbers_external(text), 15);
        assert_eq!(count_lines(text), 5);
    }
}
