//! `export --format sa-dvae`: a run's extracted features in the layout the
//! original SA-DVAE code reads, so both implementations can be compared on
//! identical inputs.
//!
//! ```text
//! OUT/main/  train.npy train_label.npy    train_seen
//!            ztest.npy z_label.npy        test_unseen
//!            gtest.npy g_label.npy        test_seen + test_unseen
//!            gtest_out.npy                seen-class logits of gtest
//! OUT/val/   train.npy train_label.npy    validation_train
//!            ztest.npy z_label.npy        validation_unseen
//!            val.npy val_label.npy        validation_seen
//!            ztest_out.npy val_out.npy    seen-class logits of ztest and val
//! OUT/label_splits/ ru{U}.npy rs{S}.npy rv{U}_0.npy rs{S-V}_0.npy
//! ```
//! Features are float32 N x F, labels and class lists int64 (0-based class
//! indices of the dataset). The extractor's seen head covers the seen classes
//! only, so the logits have |seen| columns in the order of `rs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

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

/// Writes features, labels and seen logits of `parts` under `dir`.
fn write_set(
    dir: &Path,
    parts: &BTreeMap<String, Vec<FeatureRow>>,
    sets: &[(&str, &[&str], Option<&str>)],
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
            write_f32(
                &dir.join(format!("{out}.npy")),
                &rows.iter().map(|r| &r.seen_logits).collect::<Vec<_>>(),
            )?;
        }
    }
    Ok(())
}

/// Exports the main and validation features of a run (`main` and
/// `validation` are features.parquet files of the two extract phases) with
/// the split's class lists.
pub fn sa_dvae(
    split: &skel_schemas::SplitFile,
    main: &Path,
    validation: Option<&Path>,
    out: &Path,
) -> anyhow::Result<()> {
    let parts = group(features::read(main)?);
    write_set(
        &out.join("main"),
        &parts,
        &[
            ("train", &["train_seen"], None),
            ("ztest", &["test_unseen"], None),
            ("gtest", &["test_seen", "test_unseen"], Some("gtest_out")),
        ],
    )?;
    if let Some(validation) = validation {
        let parts = group(features::read(validation)?);
        write_set(
            &out.join("val"),
            &parts,
            &[
                ("train", &["validation_train"], None),
                ("ztest", &["validation_unseen"], Some("ztest_out")),
                ("val", &["validation_seen"], Some("val_out")),
            ],
        )?;
    }
    let ids =
        |c: &[skel_schemas::ClassEntry]| c.iter().map(|c| i64::from(c.index)).collect::<Vec<_>>();
    let (seen, unseen, val) = (
        ids(&split.classes.seen),
        ids(&split.classes.unseen),
        ids(&split.classes.validation_unseen),
    );
    let held: std::collections::BTreeSet<i64> = val.iter().copied().collect();
    let seen_less_val: Vec<i64> = seen.iter().copied().filter(|c| !held.contains(c)).collect();
    let dir = out.join("label_splits");
    std::fs::create_dir_all(&dir)?;
    write_i64(&dir.join(format!("ru{}.npy", unseen.len())), &unseen)?;
    write_i64(&dir.join(format!("rs{}.npy", seen.len())), &seen)?;
    write_i64(&dir.join(format!("rv{}_0.npy", val.len())), &val)?;
    write_i64(
        &dir.join(format!("rs{}_0.npy", seen_less_val.len())),
        &seen_less_val,
    )?;
    Ok(())
}
