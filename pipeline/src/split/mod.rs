//! `split`: reproducible zero-shot split files (SPEC section 4).
//!
//! A split is made from a converted dataset (its manifest's checksum is
//! recorded, and consumers refuse a split of another dataset), a protocol
//! (which samples train and which test) and a class split (published, or
//! `k` unseen classes drawn from a seed for each of `r` runs). The same
//! inputs give the same file on every machine.

pub mod protocol;
pub mod published;

use std::path::{Path, PathBuf};

use skel_schemas::{
    ClassEntry, ClassTable, Dataset, Manifest, Protocol, SampleRecord, SplitClasses, SplitFile,
    SplitParts, MANIFEST_FILE, SPLIT_SCHEMA_VERSION,
};

use crate::error::PipelineError;
use crate::inspect::inspect;
use crate::rng::{hash_str, Rng};
use crate::shard::hash_file;

/// Which classes are unseen.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassChoice {
    /// A published split by name (`synse-55-5`, `paper-random`, ...).
    Published(String),
    /// `unseen` classes drawn at random for each of `runs` runs.
    Random { unseen: usize, runs: u32 },
}

/// Everything a split depends on besides the dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitRequest {
    pub protocol: Protocol,
    pub classes: ClassChoice,
    pub seed: u64,
    /// Share of the training samples of each validation-seen class held out
    /// to evaluate the gate.
    pub validation_fraction: f64,
}

/// The class roles of one run, 0-based indices.
struct ClassRun {
    name: String,
    unseen: Vec<u16>,
    validation: Vec<u16>,
}

fn class_runs(req: &SplitRequest, dataset: Dataset) -> Result<Vec<ClassRun>, String> {
    let n = dataset.num_classes() as u16;
    let draw = |rng: &mut Rng, from: &[u16], k: usize| -> Vec<u16> {
        let mut pool = from.to_vec();
        rng.shuffle(&mut pool);
        let mut chosen = pool[..k].to_vec();
        chosen.sort_unstable();
        chosen
    };
    match &req.classes {
        ClassChoice::Published(name) => {
            let published = published::find(name, dataset).ok_or_else(|| {
                format!(
                    "no published split {name:?} for {dataset}; known: {}",
                    published::names_for(dataset).join(", ")
                )
            })?;
            Ok(published
                .runs
                .iter()
                .enumerate()
                .map(|(r, run)| {
                    let validation = match run.validation {
                        Some(v) => v.to_vec(),
                        None => {
                            let seen: Vec<u16> =
                                (0..n).filter(|c| !run.unseen.contains(c)).collect();
                            let mut rng = Rng::from_parts(&[
                                req.seed,
                                hash_str(&format!("{name}/validation/{r}")),
                            ]);
                            draw(&mut rng, &seen, run.unseen.len())
                        }
                    };
                    ClassRun {
                        name: name.clone(),
                        unseen: run.unseen.to_vec(),
                        validation,
                    }
                })
                .collect())
        }
        ClassChoice::Random { unseen, runs } => {
            let k = *unseen;
            if k == 0 || 2 * k >= usize::from(n) {
                return Err(format!(
                    "--unseen {k}: needs at least 1 unseen class and as many validation classes among the seen ones, out of {n}"
                ));
            }
            let all: Vec<u16> = (0..n).collect();
            Ok((0..*runs)
                .map(|r| {
                    let mut rng =
                        Rng::from_parts(&[req.seed, hash_str(&format!("random-{k}/run-{r}"))]);
                    let unseen = draw(&mut rng, &all, k);
                    let seen: Vec<u16> = all
                        .iter()
                        .copied()
                        .filter(|c| !unseen.contains(c))
                        .collect();
                    let validation = draw(&mut rng, &seen, k);
                    ClassRun {
                        name: format!("random-{k}"),
                        unseen,
                        validation,
                    }
                })
                .collect())
        }
    }
}

/// The split files of a request, from the rows of a dataset (metadata only).
pub fn make_splits(
    rows: &[SampleRecord],
    classes: &ClassTable,
    dataset: Dataset,
    manifest_sha256: &str,
    req: &SplitRequest,
) -> Result<Vec<SplitFile>, String> {
    protocol::check(dataset, req.protocol)?;
    if !(0.0..1.0).contains(&req.validation_fraction) {
        return Err(format!(
            "--validation-fraction {} must be in [0, 1)",
            req.validation_fraction
        ));
    }
    let train: Vec<bool> = rows
        .iter()
        .map(|r| protocol::is_train(r, dataset, req.protocol))
        .collect::<Result<_, _>>()?;
    let entries = |indices: &[u16]| -> Result<Vec<ClassEntry>, String> {
        indices
            .iter()
            .map(|&i| {
                classes
                    .by_index(i)
                    .cloned()
                    .ok_or_else(|| format!("class index {i} is not in the dataset's class table"))
            })
            .collect()
    };
    let mut files = Vec::new();
    for (run, class_run) in class_runs(req, dataset)?.into_iter().enumerate() {
        let ClassRun {
            name,
            unseen,
            validation,
        } = class_run;
        if let Some(c) = validation.iter().find(|c| unseen.contains(c)) {
            return Err(format!(
                "{name} run {run}: validation class {c} is also unseen"
            ));
        }
        let seen: Vec<u16> = classes
            .0
            .iter()
            .map(|c| c.index)
            .filter(|c| !unseen.contains(c))
            .collect();
        let mut parts = SplitParts::default();
        let mut pool: Vec<Vec<&str>> = vec![Vec::new(); classes.len()];
        for (row, &is_train) in rows.iter().zip(&train) {
            let name = row.sample.clone();
            let label = row.label;
            match (
                is_train,
                unseen.contains(&label),
                validation.contains(&label),
            ) {
                (true, true, _) => {}
                (true, false, true) => {
                    parts.train_seen.push(name.clone());
                    parts.validation_unseen.push(name);
                }
                (true, false, false) => {
                    parts.train_seen.push(name);
                    if let Some(p) = pool.get_mut(usize::from(label)) {
                        p.push(&row.sample);
                    }
                }
                (false, true, _) => parts.test_unseen.push(name),
                (false, false, _) => parts.test_seen.push(name),
            }
        }
        for (class, names) in pool.iter_mut().enumerate() {
            names.sort_unstable();
            let stream = hash_str(&format!("{name}/run-{run}/holdout/{class}"));
            let mut rng = Rng::from_parts(&[req.seed, stream]);
            rng.shuffle(names);
            let hold = (names.len() as f64 * req.validation_fraction).round() as usize;
            let (held, kept) = names.split_at(hold.min(names.len()));
            parts
                .validation_seen
                .extend(held.iter().map(|s| s.to_string()));
            parts
                .validation_train
                .extend(kept.iter().map(|s| s.to_string()));
        }
        for part in [
            &mut parts.train_seen,
            &mut parts.test_seen,
            &mut parts.test_unseen,
            &mut parts.validation_train,
            &mut parts.validation_seen,
            &mut parts.validation_unseen,
        ] {
            part.sort_unstable();
        }
        let counts = parts.counts();
        files.push(SplitFile {
            schema_version: SPLIT_SCHEMA_VERSION,
            name,
            dataset,
            protocol: req.protocol,
            run: run as u32,
            seed: req.seed,
            validation_fraction: req.validation_fraction,
            manifest_sha256: manifest_sha256.to_owned(),
            classes: SplitClasses {
                seen: entries(&seen)?,
                unseen: entries(&unseen)?,
                validation_unseen: entries(&validation)?,
            },
            counts,
            parts,
        });
    }
    Ok(files)
}

/// File name of a split: `{name}-{protocol}-run{r}.yaml`.
pub fn file_name(split: &SplitFile) -> String {
    format!(
        "{}-{}-run{}.yaml",
        split.name,
        split.protocol.name(),
        split.run
    )
}

/// Makes the splits of a dataset folder and writes them into `out`
/// (atomically, one file per run); returns the files and their paths.
pub fn split(
    dir: &Path,
    out: &Path,
    req: &SplitRequest,
) -> Result<Vec<(PathBuf, SplitFile)>, PipelineError> {
    let inspection = inspect(dir)?;
    let (sha, _) = hash_file(&dir.join(MANIFEST_FILE))?;
    let Manifest {
        dataset, classes, ..
    } = &inspection.manifest;
    let files = make_splits(&inspection.rows, classes, *dataset, &sha, req)
        .map_err(PipelineError::Usage)?;
    let _lock = crate::lock::WriterLock::acquire(out, crate::lock::LOCK_FILE)?;
    let mut written = Vec::new();
    for file in files {
        let path = out.join(file_name(&file));
        let tmp = out.join(format!(".{}.tmp", file_name(&file)));
        let text = file
            .to_yaml()
            .map_err(|e| PipelineError::Usage(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(PipelineError::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(PipelineError::io(&path))?;
        written.push((path, file));
    }
    Ok(written)
}
