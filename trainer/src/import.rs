//! Import of features in the official SA-DVAE `resources/` layout (the one
//! its README has users download, and `export --format sa-dvae` writes): an
//! experiment's `features:` list replaces its `splits` and `extractor`, one
//! entry per run.
//!
//! ```yaml
//! features:
//!   - { format: sa-dvae, main: resources/sk_feats/stgcn_ntu60_split2_5_r,
//!       validation: resources/sk_feats/stgcn_ntu60_split2_val_5_r,
//!       label_splits: resources/label_splits/ntu60_split2 }
//! ```
//!
//! Read, as `train.py`, `gating_train.py` and `gating_eval.py` read them:
//! - `label_splits`: `{st}u{U}.npy` (unseen), `{st}s{S}.npy` (seen),
//!   `{st}v{V}_0.npy` (validation, pseudo-unseen) and `{st}s{S-V}_0.npy` (seen
//!   less validation), class ids of the dataset; `unseen: U` picks one where
//!   the folder holds several;
//! - `main`: `train` (+`_label`) -> `train_seen`; `gtest`, `g_label`,
//!   `gtest_out` -> `test_seen` and `test_unseen` by label; `ztest` must hold
//!   the same rows as the unseen part of `gtest` (it is the official ZSL test
//!   set, `gtest` the GZSL one, and here one row serves both);
//! - `validation`: `train` -> `validation_train`; `ztest` + `ztest_out` ->
//!   `validation_unseen`; `val` + `val_out` -> `validation_seen`.
//!
//! Feature widths come from the files. Logits have one column per dataset
//! class (the phase's seen classes are taken, in the order of the seen list)
//! or one per seen class of the phase. Training rows have no logits in this
//! layout. Anything inconsistent is refused naming the file and the fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use skel_pipeline::npy;
use skel_schemas::{ClassEntry, Dataset, Protocol, SplitClasses, SplitFile, SplitParts};

use crate::features::FeatureRow;

/// The layouts `features:` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// The official SA-DVAE code's `resources/` (`sk_feats`, `label_splits`).
    SaDvae,
}

/// One run's imported features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSource {
    pub format: ImportFormat,
    /// The main phase's folder (`sk_feats/{ve}_{dataset}_{U}_r`).
    pub main: PathBuf,
    /// The validation phase's folder (`sk_feats/{ve}_{dataset}_val_{U}_r`).
    pub validation: PathBuf,
    /// The split's class lists (`label_splits/{dataset}`).
    pub label_splits: PathBuf,
    /// The number of unseen classes, where `label_splits` holds several splits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<usize>,
}

/// A run's imported features: the split they imply (classes and parts; made
/// in memory, never written as a split file) and the rows of both phases.
pub struct Imported {
    pub split: SplitFile,
    pub main: Vec<FeatureRow>,
    pub validation: Vec<FeatureRow>,
    /// SHA-256 over every file read, in order: the import's cache key.
    pub sha256: String,
}

/// The files read, hashed as they are read.
struct Reader {
    hash: Sha256,
}

impl Reader {
    fn bytes(&mut self, path: &Path) -> anyhow::Result<Vec<u8>> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read {}; the sa-dvae layout needs it (see trainer/src/import.rs)",
                path.display()
            )
        })?;
        self.hash
            .update(path.file_name().map_or(&[][..], |n| n.as_encoded_bytes()));
        self.hash.update((bytes.len() as u64).to_le_bytes());
        self.hash.update(&bytes);
        Ok(bytes)
    }

    /// An N x F float matrix (float32 or float64 on disk).
    fn matrix(&mut self, path: &Path) -> anyhow::Result<(usize, Vec<Vec<f32>>)> {
        let bytes = self.bytes(path)?;
        let a = npy::parse::<f64>(&bytes, &path.display().to_string())
            .map_err(|e| anyhow::anyhow!("{e}; features and logits must be float32 arrays"))?;
        let [n, width] = a.shape[..] else {
            bail!(
                "{}: shape {:?}, not (samples, width)",
                path.display(),
                a.shape
            );
        };
        let rows = if width == 0 {
            vec![Vec::new(); n]
        } else {
            a.data
                .chunks(width)
                .map(|r| r.iter().map(|&v| v as f32).collect())
                .collect()
        };
        Ok((width, rows))
    }

    /// A vector of class ids.
    fn ids(&mut self, path: &Path, classes: usize) -> anyhow::Result<Vec<u16>> {
        let bytes = self.bytes(path)?;
        let a = npy::parse::<i64>(&bytes, &path.display().to_string())
            .map_err(|e| anyhow::anyhow!("{e}; labels and class lists must be integer arrays"))?;
        if a.shape.len() != 1 {
            bail!("{}: shape {:?}, not a vector", path.display(), a.shape);
        }
        a.data
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                u16::try_from(c)
                    .ok()
                    .filter(|&c| usize::from(c) < classes)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{}: entry {i} is {c}, not a class id of a {classes}-class dataset",
                            path.display()
                        )
                    })
            })
            .collect()
    }
}

/// The class lists of a `label_splits` folder: (seen, unseen, validation,
/// seen less validation), and the files read.
fn label_splits(
    src: &ImportSource,
    classes: usize,
    reader: &mut Reader,
) -> anyhow::Result<[Vec<u16>; 4]> {
    let dir = &src.label_splits;
    let names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the label_splits folder {}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    // `{st}u{U}.npy`: a letter prefix, the kind's letter, a number, the suffix.
    let parse = |name: &str, kind: char, suffix: &str| -> Option<(String, usize)> {
        let stem = name.strip_suffix(suffix)?;
        let at = stem.rfind(kind)?;
        let (prefix, number) = (&stem[..at], &stem[at + 1..]);
        let plain = !prefix.is_empty()
            && prefix.chars().all(|c| c.is_ascii_alphabetic())
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit());
        plain.then(|| number.parse().ok().map(|n| (prefix.to_owned(), n)))?
    };
    let mut unseen: Vec<(String, usize)> = names
        .iter()
        .filter_map(|n| parse(n, 'u', ".npy"))
        .filter(|(_, u)| src.unseen.is_none_or(|want| want == *u))
        .collect();
    unseen.sort();
    let (st, u) = match unseen.as_slice() {
        [one] => one.clone(),
        [] => bail!(
            "{}: no unseen-class list `{{st}}u{{U}}.npy`{}; point label_splits at the folder of one \
             split (resources/label_splits/DATASET)",
            dir.display(),
            src.unseen
                .map_or_else(String::new, |u| format!(" with U = {u} (features.unseen)"))
        ),
        several => bail!(
            "{}: several unseen-class lists ({}); say which with features.unseen: U",
            dir.display(),
            several
                .iter()
                .map(|(st, u)| format!("{st}u{u}.npy"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // The one file of a kind, preferring the official code's own numbering.
    let pick = |kind: char, suffix: &str, preferred: usize| -> anyhow::Result<PathBuf> {
        let found: Vec<usize> = names
            .iter()
            .filter_map(|n| parse(n, kind, suffix))
            .filter(|(p, _)| *p == st)
            .map(|(_, n)| n)
            .collect();
        let n = if found.contains(&preferred) {
            preferred
        } else if let [one] = found[..] {
            one
        } else {
            bail!(
                "{}: expected one `{st}{kind}N{suffix}` file (as `{st}{kind}{preferred}{suffix}`), found {}",
                dir.display(),
                found.len()
            )
        };
        Ok(dir.join(format!("{st}{kind}{n}{suffix}")))
    };
    let unseen = reader.ids(&dir.join(format!("{st}u{u}.npy")), classes)?;
    let seen_path = pick('s', ".npy", classes - u.min(classes))?;
    let seen = reader.ids(&seen_path, classes)?;
    let val_path = pick('v', "_0.npy", u)?;
    let val = reader.ids(&val_path, classes)?;
    let rest_path = pick('s', "_0.npy", seen.len().saturating_sub(val.len()))?;
    let rest = reader.ids(&rest_path, classes)?;

    let set = |v: &[u16]| v.iter().copied().collect::<BTreeSet<u16>>();
    let (s, un, v, r) = (set(&seen), set(&unseen), set(&val), set(&rest));
    let fix = "the class lists of one split must agree: re-download or re-export them";
    if s.len() != seen.len() || un.len() != unseen.len() || v.len() != val.len() {
        bail!("{}: a class list names a class twice; {fix}", dir.display());
    }
    if !s.is_disjoint(&un) {
        bail!(
            "{} and {}: seen and unseen classes overlap; {fix}",
            seen_path.display(),
            dir.join(format!("{st}u{u}.npy")).display()
        );
    }
    if !v.is_subset(&s) {
        bail!(
            "{}: validation classes that are not seen classes ({}); {fix}",
            val_path.display(),
            seen_path.display()
        );
    }
    if r != s.difference(&v).copied().collect() {
        bail!(
            "{}: not the seen classes of {} less the validation classes of {}; {fix}",
            rest_path.display(),
            seen_path.display(),
            val_path.display()
        );
    }
    Ok([seen, unseen, val, rest])
}

/// The seen logits of each row: all `classes` columns narrowed to `seen`, or
/// `seen.len()` columns as they are.
fn seen_logits(
    path: &Path,
    width: usize,
    rows: Vec<Vec<f32>>,
    seen: &[u16],
    classes: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    if width == classes && width != seen.len() {
        Ok(rows
            .into_iter()
            .map(|r| seen.iter().map(|&c| r[usize::from(c)]).collect())
            .collect())
    } else if width == seen.len() {
        Ok(rows)
    } else {
        bail!(
            "{}: {width} logits per sample; the sa-dvae layout has one per class of the dataset \
             ({classes}) or one per seen class of the phase ({}): these logits belong to another \
             split or dataset",
            path.display(),
            seen.len()
        )
    }
}

fn check_finite(path: &Path, rows: &[Vec<f32>]) -> anyhow::Result<()> {
    if let Some(i) = rows.iter().position(|r| r.iter().any(|v| !v.is_finite())) {
        bail!(
            "{}: row {i} holds a value that is not a finite number; the features are damaged",
            path.display()
        );
    }
    Ok(())
}

/// Rows of one set (`train`, `ztest`, `gtest`, `val`) of a phase's folder:
/// (labels, features), checked against the classes the set may hold.
fn set(
    reader: &mut Reader,
    dir: &Path,
    name: &str,
    allowed: &BTreeSet<u16>,
    role: &str,
    classes: usize,
) -> anyhow::Result<(Vec<u16>, usize, Vec<Vec<f32>>)> {
    let label_name = match name {
        "ztest" => "z_label".to_owned(),
        "gtest" => "g_label".to_owned(),
        other => format!("{other}_label"),
    };
    let (path, label_path) = (
        dir.join(format!("{name}.npy")),
        dir.join(format!("{label_name}.npy")),
    );
    let (width, rows) = reader.matrix(&path)?;
    let labels = reader.ids(&label_path, classes)?;
    if labels.len() != rows.len() {
        bail!(
            "{} holds {} labels for the {} rows of {}; the two files belong together",
            label_path.display(),
            labels.len(),
            rows.len(),
            path.display()
        );
    }
    if rows.is_empty() {
        bail!("{} holds no samples", path.display());
    }
    check_finite(&path, &rows)?;
    if let Some((i, c)) = labels
        .iter()
        .enumerate()
        .find(|(_, c)| !allowed.contains(c))
    {
        bail!(
            "{}: sample {i} is of class {c}, which is not among the split's {role} classes ({}); \
             the features belong to another split",
            label_path.display(),
            src_classes(allowed)
        );
    }
    Ok((labels, width, rows))
}

fn src_classes(s: &BTreeSet<u16>) -> String {
    s.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

fn rows(
    phase: &str,
    set: &str,
    part: &str,
    labels: &[u16],
    features: Vec<Vec<f32>>,
    logits: Option<Vec<Vec<f32>>>,
) -> Vec<FeatureRow> {
    let mut logits = logits.map(Vec::into_iter);
    labels
        .iter()
        .zip(features)
        .enumerate()
        .map(|(i, (&label, feature))| FeatureRow {
            sample: format!("{phase}-{set}-{i:06}"),
            label,
            part: part.to_owned(),
            feature,
            seen_logits: logits.as_mut().and_then(Iterator::next).unwrap_or_default(),
        })
        .collect()
}

/// Reads and checks one run's folders.
pub fn read(src: &ImportSource, dataset: Dataset, run: usize) -> anyhow::Result<Imported> {
    let classes = dataset.num_classes();
    let mut reader = Reader {
        hash: Sha256::new(),
    };
    let [seen, unseen, val, rest] = label_splits(src, classes, &mut reader)?;
    let set_of = |v: &[u16]| v.iter().copied().collect::<BTreeSet<u16>>();
    let (seen_set, unseen_set, val_set, rest_set) =
        (set_of(&seen), set_of(&unseen), set_of(&val), set_of(&rest));
    let all: BTreeSet<u16> = seen_set.union(&unseen_set).copied().collect();

    // The main phase.
    let dir = &src.main;
    let (train_labels, width, train) = set(&mut reader, dir, "train", &seen_set, "seen", classes)?;
    let (z_labels, z_width, ztest) =
        set(&mut reader, dir, "ztest", &unseen_set, "unseen", classes)?;
    let (g_labels, g_width, gtest) =
        set(&mut reader, dir, "gtest", &all, "seen or unseen", classes)?;
    let out_path = dir.join("gtest_out.npy");
    let (out_width, out) = reader.matrix(&out_path)?;
    same_count(&out_path, out.len(), &dir.join("gtest.npy"), gtest.len())?;
    let out = seen_logits(&out_path, out_width, out, &seen, classes)?;
    check_finite(&out_path, &out)?;
    for (w, name) in [(z_width, "ztest.npy"), (g_width, "gtest.npy")] {
        same_width(&dir.join(name), w, &dir.join("train.npy"), width)?;
    }
    let mut test_seen = (Vec::new(), Vec::new(), Vec::new());
    let mut test_unseen = (Vec::new(), Vec::new(), Vec::new());
    for ((label, feature), logits) in g_labels.iter().zip(gtest).zip(out) {
        let to = if unseen_set.contains(label) {
            &mut test_unseen
        } else {
            &mut test_seen
        };
        to.0.push(*label);
        to.1.push(feature);
        to.2.push(logits);
    }
    if (&z_labels, &ztest) != (&test_unseen.0, &test_unseen.1) {
        bail!(
            "{}: not the unseen-class rows of {} (labels and features, in order); here one row \
             serves both ZSL (ztest) and GZSL (gtest): export both from the same features",
            dir.join("ztest.npy").display(),
            dir.join("gtest.npy").display()
        );
    }
    let mut main = rows("main", "train", "train_seen", &train_labels, train, None);
    main.extend(rows(
        "main",
        "gtest",
        "test_seen",
        &test_seen.0,
        test_seen.1,
        Some(test_seen.2),
    ));
    let unseen_rows = rows(
        "main",
        "gtest",
        "test_unseen",
        &test_unseen.0,
        test_unseen.1,
        Some(test_unseen.2),
    );
    main.extend(unseen_rows);

    // The validation phase.
    let dir = &src.validation;
    let (vt_labels, vt_width, vtrain) = set(
        &mut reader,
        dir,
        "train",
        &rest_set,
        "seen less validation",
        classes,
    )?;
    let (vz_labels, vz_width, vztest) =
        set(&mut reader, dir, "ztest", &val_set, "validation", classes)?;
    let (vv_labels, vv_width, vval) = set(
        &mut reader,
        dir,
        "val",
        &rest_set,
        "seen less validation",
        classes,
    )?;
    for (w, name) in [
        (vt_width, "train.npy"),
        (vz_width, "ztest.npy"),
        (vv_width, "val.npy"),
    ] {
        same_width(&dir.join(name), w, &src.main.join("train.npy"), width)?;
    }
    let mut logits = |name: &str, n: usize| -> anyhow::Result<Vec<Vec<f32>>> {
        let path = dir.join(format!("{name}_out.npy"));
        let (w, l) = reader.matrix(&path)?;
        same_count(&path, l.len(), &dir.join(format!("{name}.npy")), n)?;
        let l = seen_logits(&path, w, l, &rest, classes)?;
        check_finite(&path, &l)?;
        Ok(l)
    };
    let vz_logits = logits("ztest", vztest.len())?;
    let vv_logits = logits("val", vval.len())?;
    let mut validation = rows("val", "train", "validation_train", &vt_labels, vtrain, None);
    validation.extend(rows(
        "val",
        "ztest",
        "validation_unseen",
        &vz_labels,
        vztest,
        Some(vz_logits),
    ));
    validation.extend(rows(
        "val",
        "val",
        "validation_seen",
        &vv_labels,
        vval,
        Some(vv_logits),
    ));

    let table = skel_pipeline::classes::class_table(dataset).0;
    let entries = |ids: &[u16]| -> Vec<ClassEntry> {
        ids.iter().map(|&c| table[usize::from(c)].clone()).collect()
    };
    let names = |rows: &[FeatureRow], part: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.part == part)
            .map(|r| r.sample.clone())
            .collect()
    };
    let parts = SplitParts {
        train_seen: names(&main, "train_seen"),
        test_seen: names(&main, "test_seen"),
        test_unseen: names(&main, "test_unseen"),
        validation_train: names(&validation, "validation_train"),
        validation_seen: names(&validation, "validation_seen"),
        validation_unseen: names(&validation, "validation_unseen"),
    };
    let counts = parts.counts();
    let split = SplitFile {
        schema_version: skel_schemas::SPLIT_SCHEMA_VERSION,
        name: "sa-dvae-import".into(),
        dataset,
        // Not known for imported features, and not used by the stages.
        protocol: Protocol::CrossSubject,
        run: run as u32,
        seed: 0,
        validation_fraction: 0.0,
        manifest_sha256: String::new(),
        classes: SplitClasses {
            seen: entries(&seen),
            unseen: entries(&unseen),
            validation_unseen: entries(&val),
        },
        counts,
        parts,
    };
    Ok(Imported {
        split,
        main,
        validation,
        sha256: hex::encode(reader.hash.finalize()),
    })
}

fn same_count(path: &Path, n: usize, other: &Path, m: usize) -> anyhow::Result<()> {
    if n != m {
        bail!(
            "{}: {n} rows, but {} has {m}; the two files belong together",
            path.display(),
            other.display()
        );
    }
    Ok(())
}

fn same_width(path: &Path, w: usize, other: &Path, width: usize) -> anyhow::Result<()> {
    if w != width {
        bail!(
            "{}: {w}-d features, but {} has {width}-d ones; one extractor must make all of a run's features",
            path.display(),
            other.display()
        );
    }
    Ok(())
}
