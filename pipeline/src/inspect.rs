//! `inspect`: what a converted dataset holds, from its manifest and the
//! metadata columns of its shards (joint data is not read).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;

use skel_schemas::{Manifest, SampleRecord, MANIFEST_FILE};

use crate::error::PipelineError;
use crate::shard::read_shard;

/// Width of one frame-length histogram bin.
const BIN: u32 = 25;

/// A dataset directory summarised.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub manifest: Manifest,
    pub rows: Vec<SampleRecord>,
}

/// Reads the manifest and the metadata of every shard of `dir`.
pub fn inspect(dir: &Path) -> Result<Inspection, PipelineError> {
    let manifest = Manifest::read(&dir.join(MANIFEST_FILE))?;
    let mut rows = Vec::new();
    for shard in &manifest.shards {
        rows.extend(read_shard(&Manifest::shard_path(dir, shard), false)?);
    }
    Ok(Inspection { manifest, rows })
}

fn counts<K: Ord>(rows: &[SampleRecord], key: impl Fn(&SampleRecord) -> K) -> BTreeMap<K, usize> {
    let mut map = BTreeMap::new();
    for row in rows {
        *map.entry(key(row)).or_insert(0) += 1;
    }
    map
}

fn optional(v: Option<u16>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let bytes: u64 = m.shards.iter().map(|s| s.bytes).sum();
        writeln!(
            f,
            "dataset      {} ({} classes)",
            m.dataset,
            m.classes.len()
        )?;
        writeln!(
            f,
            "preset       {} (reproduces {})",
            m.preset, m.preset_variant
        )?;
        let chain = if m.transforms.is_empty() {
            "none".to_owned()
        } else {
            m.transforms
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" -> ")
        };
        writeln!(f, "transforms   {chain}")?;
        writeln!(f, "written by   {} {}", m.tool.name, m.tool.version)?;
        writeln!(
            f,
            "samples      {} in {} shards ({:.1} MB), from {} raw files ({:.1} MB)",
            self.rows.len(),
            m.shards.len(),
            bytes as f64 / 1e6,
            m.counts.files,
            m.counts.raw_bytes as f64 / 1e6
        )?;
        writeln!(
            f,
            "skipped      {} quarantined, {} on the official missing-skeleton list",
            m.quarantine.len(),
            m.missing_listed.len()
        )?;
        let bodies: u64 = self.rows.iter().map(|r| u64::from(r.bodies)).sum();
        let dropped: u64 = self.rows.iter().map(|r| u64::from(r.bodies_dropped)).sum();
        let empty: u64 = self.rows.iter().map(|r| u64::from(r.empty_frames)).sum();
        writeln!(f, "bodies       {bodies} body IDs in the raw files, {dropped} dropped by the preset; {empty} raw frames had no body")?;

        writeln!(f, "\nsamples per class:")?;
        let per_class = counts(&self.rows, |r| r.label);
        for class in &m.classes.0 {
            let n = per_class.get(&class.index).copied().unwrap_or(0);
            writeln!(
                f,
                "  {:>3} A{:03} {:<48} {n}",
                class.index,
                class.action,
                truncate(&class.name, 48)
            )?;
        }
        for (title, map) in [
            ("camera", counts(&self.rows, |r| optional(r.camera))),
            ("setup", counts(&self.rows, |r| optional(r.setup))),
            ("subject", counts(&self.rows, |r| optional(r.subject))),
        ] {
            let line = map.iter().fold(String::new(), |mut s, (k, v)| {
                let _ = write!(s, " {k}:{v}");
                s
            });
            writeln!(f, "\nsamples per {title}:{line}")?;
        }

        writeln!(f, "\nframe lengths (valid frames):")?;
        let hist = counts(&self.rows, |r| r.valid_frames / BIN);
        let widest = hist.values().copied().max().unwrap_or(1).max(1);
        for (bin, n) in &hist {
            let bar = "#".repeat((n * 40).div_ceil(widest));
            writeln!(
                f,
                "  {:>4}-{:<4} {n:>7} {bar}",
                bin * BIN,
                bin * BIN + BIN - 1
            )?;
        }

        if !m.quarantine.is_empty() {
            writeln!(f, "\nquarantined ({}):", m.quarantine.len())?;
            for q in &m.quarantine {
                let line = q.line.map_or_else(String::new, |l| format!(":{l}"));
                writeln!(f, "  {}{line}: {}", q.file, q.reason)?;
            }
        }
        Ok(())
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}
