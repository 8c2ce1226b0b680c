//! `export --format sa-dvae`: a run's extracted features in the `resources/`
//! layout the official SA-DVAE code (pha123661/SA-DVAE at 90d99b8) reads
//! unchanged, so both implementations can be compared on identical inputs.
//!
//! ```text
//! OUT/label_splits/NAME/  ru{U}.npy rs{S}.npy rv{V}_0.npy rs{S-V}_0.npy
//! OUT/sk_feats/VE_NAME_{U}_r/      main phase (train.py --phase train, gating_eval.py)
//!     train.npy train_label.npy    train_seen
//!     ztest.npy z_label.npy        test_unseen
//!     gtest.npy g_label.npy        test_seen + test_unseen
//!     gtest_out.npy                their seen-class logits
//! OUT/sk_feats/VE_NAME_val_{U}_r/  validation phase (train.py --phase val, gating_train.py)
//!     train.npy train_label.npy    validation_train
//!     ztest.npy z_label.npy        validation_unseen
//!     val.npy val_label.npy        validation_seen
//!     ztest_out.npy val_out.npy    their seen-class logits
//! OUT/text_feats/NAME/LE/{MODE}_{N}.npy   the experiment's class text features
//! ```
//! NAME is the official scripts' `--dataset` (default `{dataset}_run{R}`), VE
//! `stgcn` or `shift`, LE the text encoder, N the dataset's classes (these
//! are the paths `train.py` lines 411-430 and `gating_*.py` build). Features
//! are float32 N x F, labels and class lists int64 (0-based class indices).
//! Logits have one column per class of the dataset: `gating_eval.py` line
//! 116 indexes them by class id. The extractor scores the phase's seen
//! classes only, so the other columns are -inf: the softmax over all columns
//! (`temp_scale`) is then the softmax over the seen ones. The official
//! `train.py` takes 256-d features for `stgcn` and `shift` (lines 391-396).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::features::{self, FeatureRow};

/// Writes a little-endian npy array of `descr` ('<f4' or '<i8').
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> anyhow::Result<()> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + header, padded with spaces to a
    // multiple of 64 bytes, ending in a newline.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let tmp = path.with_extension("npy.tmp");
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    f.write_all(data)?;
    f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn write_f32(path: &Path, rows: &[&Vec<f32>]) -> anyhow::Result<()> {
    let width = rows.first().map_or(0, |r| r.len());
    let bytes: Vec<u8> = rows
        .iter()
        .flat_map(|r| r.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    write_npy(path, "<f4", &[rows.len(), width], &bytes)
}

fn write_i64(path: &Path, values: &[i64]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(path, "<i8", &[values.len()], &bytes)
}

fn group(rows: Vec<FeatureRow>) -> BTreeMap<String, Vec<FeatureRow>> {
    let mut out: BTreeMap<String, Vec<FeatureRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.part.clone()).or_default().push(r);
    }
    out
}

/// Writes features, labels and seen logits of `parts` under `dir`; the logits
/// go to one column per dataset class (`classes` columns), the phase's seen
/// classes (`seen`, in the order of the extractor's head) holding them.
fn write_set(
    dir: &Path,
    parts: &BTreeMap<String, Vec<FeatureRow>>,
    sets: &[(&str, &[&str], Option<&str>)],
    seen: &[i64],
    classes: usize,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, from, logits) in sets {
        let rows: Vec<&FeatureRow> = from
            .iter()
            .flat_map(|p| parts.get(*p).map(Vec::as_slice).unwrap_or(&[]))
            .collect();
        let (file, label) = match *name {
            "ztest" => ("ztest".to_owned(), "z_label".to_owned()),
            "gtest" => ("gtest".to_owned(), "g_label".to_owned()),
            other => (other.to_owned(), format!("{other}_label")),
        };
        write_f32(
            &dir.join(format!("{file}.npy")),
            &rows.iter().map(|r| &r.feature).collect::<Vec<_>>(),
        )?;
        write_i64(
            &dir.join(format!("{label}.npy")),
            &rows.iter().map(|r| i64::from(r.label)).collect::<Vec<_>>(),
        )?;
        if let Some(out) = logits {
            let wide = rows
                .iter()
                .map(|r| {
                    anyhow::ensure!(
                        r.seen_logits.len() == seen.len(),
                        "sample {}: {} seen logits, the phase has {} seen classes",
                        r.sample,
                        r.seen_logits.len(),
                        seen.len()
                    );
                    let mut all = vec![f32::NEG_INFINITY; classes];
                    for (&c, &v) in seen.iter().zip(&r.seen_logits) {
                        all[c as usize] = v;
                    }
                    Ok(all)
                })
                .collect::<anyhow::Result<Vec<Vec<f32>>>>()?;
            write_f32(
                &dir.join(format!("{out}.npy")),
                &wide.iter().collect::<Vec<_>>(),
            )?;
        }
    }
    Ok(())
}

/// Names in the official layout.
pub struct OfficialNames {
    /// The scripts' `--dataset` (`ntu60_run0`): the folder of the label
    /// splits and text features, and part of the feature folders' names.
    pub name: String,
    /// `stgcn` or `shift` (the scripts' `--ve`).
    pub visual: &'static str,
    /// The scripts' `--le` and `--tm`, with the class text features (one row
    /// per class of the dataset).
    pub text: Option<(String, String, Vec<Vec<f32>>)>,
}

/// The feature folders of `names` under `out`: (main, validation).
pub fn feature_dirs(out: &Path, names: &OfficialNames, unseen: usize) -> (PathBuf, PathBuf) {
    let dir = out.join("sk_feats");
    (
        dir.join(format!("{}_{}_{unseen}_r", names.visual, names.name)),
        dir.join(format!("{}_{}_val_{unseen}_r", names.visual, names.name)),
    )
}

/// Exports the main and validation features of a run (`main` and
/// `validation` are features.parquet files of the two extract phases) with
/// the split's class lists and, when given, the class text features.
pub fn sa_dvae(
    split: &skel_schemas::SplitFile,
    main: &Path,
    validation: &Path,
    classes: usize,
    names: &OfficialNames,
    out: &Path,
) -> anyhow::Result<()> {
    let ids =
        |c: &[skel_schemas::ClassEntry]| c.iter().map(|c| i64::from(c.index)).collect::<Vec<_>>();
    let (seen, unseen, val) = (
        ids(&split.classes.seen),
        ids(&split.classes.unseen),
        ids(&split.classes.validation_unseen),
    );
    let held: std::collections::BTreeSet<i64> = val.iter().copied().collect();
    let seen_less_val: Vec<i64> = seen.iter().copied().filter(|c| !held.contains(c)).collect();
    let (main_dir, val_dir) = feature_dirs(out, names, unseen.len());
    write_set(
        &main_dir,
        &group(features::read(main)?),
        &[
            ("train", &["train_seen"], None),
            ("ztest", &["test_unseen"], None),
            ("gtest", &["test_seen", "test_unseen"], Some("gtest_out")),
        ],
        &seen,
        classes,
    )?;
    write_set(
        &val_dir,
        &group(features::read(validation)?),
        &[
            ("train", &["validation_train"], None),
            ("ztest", &["validation_unseen"], Some("ztest_out")),
            ("val", &["validation_seen"], Some("val_out")),
        ],
        &seen_less_val,
        classes,
    )?;
    let dir = out.join("label_splits").join(&names.name);
    std::fs::create_dir_all(&dir)?;
    write_i64(&dir.join(format!("ru{}.npy", unseen.len())), &unseen)?;
    write_i64(&dir.join(format!("rs{}.npy", seen.len())), &seen)?;
    write_i64(&dir.join(format!("rv{}_0.npy", val.len())), &val)?;
    write_i64(
        &dir.join(format!("rs{}_0.npy", seen_less_val.len())),
        &seen_less_val,
    )?;
    if let Some((encoder, mode, rows)) = &names.text {
        let dir = out.join("text_feats").join(&names.name).join(encoder);
        std::fs::create_dir_all(&dir)?;
        write_f32(
            &dir.join(format!("{mode}_{classes}.npy")),
            &rows.iter().collect::<Vec<_>>(),
        )?;
    }
    Ok(())
}
