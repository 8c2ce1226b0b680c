//! The synthetic data behaves like the real data: it converts cleanly, its
//! noise is what the reference denoiser removes, and its classes are
//! learnable across subjects (that camera views change the raw coordinates is
//! tested beside the generator).

use std::collections::BTreeSet;
use std::path::Path;

use skel_pipeline::split::protocol::NTU60_TRAIN_SUBJECTS;
use skel_pipeline::synth::{generate, Scale, SynthConfig, TrackKind};
use skel_pipeline::{convert, NoProgress};
use skel_schemas::{Dataset, Preset, Reference, Temporal, TransformSpec};

use crate::util::{options, read_all};

fn synth(dir: &Path, per_class: u32, noise: f64, damage: f64) -> skel_pipeline::synth::SynthReport {
    let cfg = SynthConfig {
        noise_rate: noise,
        damage_rate: damage,
        ..SynthConfig::new(Dataset::Ntu60, Scale::PerClass(per_class), 11)
    };
    generate(&cfg, dir, &|_| {}).unwrap()
}

#[test]
fn damaged_files_are_exactly_the_quarantined_ones_and_noise_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let report = synth(&raw, 3, 0.5, 0.05);
    assert!(!report.damaged.is_empty() && report.noise_bodies.len() >= 50);
    let out = tmp.path().join("out");
    let converted = convert(
        &options(Dataset::Ntu60, &raw, &out, Preset::Ctrgcn),
        &NoProgress,
    )
    .unwrap();
    let quarantined: BTreeSet<&str> = converted
        .manifest
        .quarantine
        .iter()
        .map(|q| q.file.as_str())
        .collect();
    let damaged: BTreeSet<&str> = report.damaged.iter().map(|d| d.file.as_str()).collect();
    assert_eq!(quarantined, damaged);

    let rows = read_all(&out);
    let (mut injected, mut removed) = (0, 0);
    for noise in &report.noise_bodies {
        let Some(row) = rows.iter().find(|r| r.source == noise.file) else {
            continue;
        };
        injected += 1;
        let dropped = row
            .drop_reasons
            .split(';')
            .any(|d| d.starts_with(&format!("{}:", noise.body_id)));
        removed += usize::from(dropped);
        assert!(matches!(
            noise.kind,
            TrackKind::ShortGhost | TrackKind::FlatObject
        ));
    }
    let share = removed as f64 / injected as f64;
    eprintln!("ctrgcn removed {removed} of {injected} injected noise bodies");
    assert!(
        injected >= 50 && share >= 0.95,
        "ctrgcn removed {removed} of {injected} noise bodies"
    );
}

/// Nearest class mean on canonicalised, resampled joints, cross-subject.
#[test]
fn classes_are_learnable_and_canonicalised_subjects_face_plus_z() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    synth(&raw, 12, 0.0, 0.0);
    let out = tmp.path().join("out");
    let mut opts = options(Dataset::Ntu60, &raw, &out, Preset::Ctrgcn);
    opts.transforms = vec![
        TransformSpec::Canonicalize {
            reference: Reference::Sequence,
        },
        TransformSpec::Frames {
            frames: 16,
            method: Temporal::Linear,
        },
    ];
    opts.threads = None;
    convert(&opts, &NoProgress).unwrap();
    let rows = read_all(&out);
    // Subjects filmed from every camera yaw face +z after canonicalisation.
    let mut facing = 0;
    for r in &rows {
        let first = &r.joints[..75];
        if first.iter().any(|&v| v != 0.0) {
            let f = skel_pipeline::transform::forward(first);
            assert!(
                (f - nalgebra::Vector3::z()).norm() < 1e-4,
                "{} faces {f:?}",
                r.sample
            );
            facing += 1;
        }
    }
    assert!(facing * 10 >= rows.len() * 9);
    let feature = |r: &skel_schemas::SampleRecord| -> Vec<f32> {
        // Actor 1 only, all 16 frames.
        (0..16)
            .flat_map(|t| r.joints[t * 150..t * 150 + 75].iter().copied())
            .collect()
    };
    let (train, test): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| NTU60_TRAIN_SUBJECTS.contains(&r.subject.unwrap()));
    let dim = 16 * 75;
    let mut means = vec![vec![0f64; dim]; 60];
    let mut counts = vec![0usize; 60];
    for r in &train {
        let f = feature(r);
        let c = usize::from(r.label);
        counts[c] += 1;
        for (m, v) in means[c].iter_mut().zip(f) {
            *m += f64::from(v);
        }
    }
    for (m, n) in means.iter_mut().zip(&counts) {
        m.iter_mut().for_each(|v| *v /= (*n).max(1) as f64);
    }
    let correct = test
        .iter()
        .filter(|r| {
            let f = feature(r);
            let dist = |m: &Vec<f64>| {
                m.iter()
                    .zip(&f)
                    .map(|(a, b)| (a - f64::from(*b)).powi(2))
                    .sum::<f64>()
            };
            let best = (0..60)
                .min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b])))
                .unwrap();
            best == usize::from(r.label)
        })
        .count();
    let accuracy = correct as f64 / test.len() as f64;
    eprintln!(
        "nearest class mean: {correct}/{} = {accuracy:.3} (chance 0.017)",
        test.len()
    );
    assert!(test.len() >= 200 && accuracy > 0.3, "accuracy {accuracy}");
}

#[test]
fn synthetic_pku_mmd_converts_and_splits_cross_subject() {
    use skel_pipeline::split::{split, ClassChoice, SplitRequest};
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let cfg = SynthConfig::new(Dataset::PkuV1, Scale::PerClass(3), 2);
    let report = generate(&cfg, &raw, &|_| {}).unwrap();
    let out = tmp.path().join("out");
    let mut opts = options(Dataset::PkuV1, &raw.join("skeletons"), &out, Preset::Ctrgcn);
    opts.labels = Some(raw.join("labels"));
    let converted = convert(&opts, &NoProgress).unwrap();
    assert!(
        converted.manifest.quarantine.is_empty(),
        "{:?}",
        converted.manifest.quarantine
    );
    let clips: usize = report.samples.iter().map(|s| s.classes.len()).sum();
    assert_eq!(converted.manifest.counts.samples as usize, clips);
    let req = SplitRequest {
        protocol: skel_schemas::Protocol::CrossSubject,
        classes: ClassChoice::Published("paper-random".into()),
        seed: 0,
        validation_fraction: 0.2,
    };
    let files = split(&out, &out.join("splits"), &req).unwrap();
    assert_eq!(files.len(), 3);
    for (_, s) in &files {
        assert!(
            s.counts.train_seen > 0 && s.counts.test_seen > 0 && s.counts.test_unseen > 0,
            "{:?}",
            s.counts
        );
    }
}
