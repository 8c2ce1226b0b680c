//! `merge`: joins the partial manifests of a distributed conversion
//! (`convert --shard I/N` on several machines into one shared folder) into
//! one `manifest.yaml`, after checking that every part is there, that all
//! parts were made the same way, and that every shard matches its checksum.

use std::path::Path;

use skel_schemas::{Counts, Manifest, MANIFEST_FILE};

use crate::convert::write_manifest;
use crate::error::PipelineError;
use crate::verify::check_shards;

/// Merges `dir/manifest.part-I-of-N.yaml` into `dir/manifest.yaml`.
pub fn merge(dir: &Path) -> Result<Manifest, PipelineError> {
    // merge writes manifest.yaml, as a whole conversion does: the same lock.
    let _lock = crate::lock::WriterLock::acquire(dir, crate::lock::LOCK_FILE)?;
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(PipelineError::io(dir))? {
        let path = entry.map_err(PipelineError::io(dir))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("manifest.part-") && name.ends_with(".yaml") {
            let manifest = Manifest::read(&path)?;
            let part = manifest.part.ok_or_else(|| {
                PipelineError::Usage(format!(
                    "{} has no `part`: it is not a partial manifest",
                    path.display()
                ))
            })?;
            parts.push((part, manifest));
        }
    }
    let Some((first, _)) = parts.first() else {
        return Err(PipelineError::Usage(format!(
            "{} holds no partial manifests (manifest.part-I-of-N.yaml): run convert --shard I/N first",
            dir.display()
        )));
    };
    let count = first.count;
    if let Some((p, _)) = parts.iter().find(|(p, _)| p.count != count) {
        return Err(PipelineError::Usage(format!(
            "partial manifests of different runs: part {} of {} beside parts of {count}; remove the stale ones",
            p.index, p.count
        )));
    }
    parts.sort_by_key(|(p, _)| p.index);
    let missing: Vec<String> = (0..count)
        .filter(|i| !parts.iter().any(|(p, _)| p.index == *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(PipelineError::Usage(format!(
            "parts {} are missing: run convert --shard I/N for each before merging",
            missing.join(", ")
        )));
    }
    let base = parts[0].1.clone();
    let mut merged = Manifest {
        shards: Vec::new(),
        quarantine: Vec::new(),
        missing_listed: Vec::new(),
        counts: Counts::default(),
        part: None,
        ..base.clone()
    };
    for (part, m) in &parts {
        let same = m.dataset == base.dataset
            && m.preset == base.preset
            && m.preset_variant == base.preset_variant
            && m.transforms == base.transforms
            && m.classes == base.classes
            && m.tool == base.tool;
        if !same {
            return Err(PipelineError::Usage(format!(
                "part {}/{count} was converted with other settings (dataset, preset, transforms or tool version) than part 0: convert it again",
                part.index
            )));
        }
        let problems = check_shards(dir, m)?;
        if let Some((file, problem)) = problems.first() {
            return Err(PipelineError::Usage(format!(
                "part {}/{count}: shard {file}: {problem}; convert that part again",
                part.index
            )));
        }
        merged.shards.extend(m.shards.iter().cloned());
        merged.quarantine.extend(m.quarantine.iter().cloned());
        merged
            .missing_listed
            .extend(m.missing_listed.iter().cloned());
        let c = &mut merged.counts;
        c.files += m.counts.files;
        c.samples += m.counts.samples;
        c.quarantined += m.counts.quarantined;
        c.missing_listed += m.counts.missing_listed;
        c.raw_bytes += m.counts.raw_bytes;
    }
    merged.quarantine.sort_by(|a, b| a.file.cmp(&b.file));
    merged.missing_listed.sort();
    write_manifest(dir, MANIFEST_FILE, &merged)?;
    Ok(merged)
}
