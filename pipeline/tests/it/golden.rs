//! Every preset against the reference preprocessors' outputs on every golden
//! file (`tests/fixtures/golden-ntu/README.md` says how they were made).

use std::collections::BTreeMap;
use std::path::Path;

use skel_pipeline::clean::{self, ctrgcn, CleanError, Cleaned};
use skel_pipeline::npy::{self, NpyArray};
use skel_pipeline::ntu::NtuName;
use skel_schemas::{Dataset, Preset};

use crate::util::{golden_dir, golden_names, max_abs_diff, read_ntu};

/// `{NAME: {error: ...}}` of a preset's `errors.json`.
fn reference_errors(variant: &str) -> BTreeMap<String, String> {
    let path = golden_dir().join(variant).join("errors.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["error"].as_str().unwrap().to_owned()))
        .collect()
}

fn load(path: &Path) -> Option<NpyArray<f32>> {
    path.exists().then(|| npy::read(path).unwrap())
}

/// Reorders ours `[t][m][v][c]` (300 x 2 x 25 x 3) into the references' `(C, T, V, M)`.
fn to_ctvm(out: &Cleaned) -> Vec<f32> {
    let (t_n, m_n) = (out.frames, out.actors);
    let mut v = vec![0.0; out.joints.len()];
    for t in 0..t_n {
        for m in 0..m_n {
            for j in 0..25 {
                for c in 0..3 {
                    v[((c * t_n + t) * 25 + j) * m_n + m] =
                        out.joints[((t * m_n + m) * 25 + j) * 3 + c];
                }
            }
        }
    }
    v
}

fn check_ctvm_preset(preset: Preset, variant: &str, tolerance: f32) {
    let errors = reference_errors(variant);
    let mut compared = 0;
    for name in golden_names() {
        let seq = read_ntu(&golden_dir().join("raw").join(format!("{name}.skeleton")));
        let result = clean::clean(&seq, preset, Dataset::Ntu120);
        match (
            load(&golden_dir().join(variant).join(format!("{name}.npy"))),
            errors.get(&name),
        ) {
            (Some(expected), None) => {
                let out = result.unwrap_or_else(|e| panic!("{variant} {name}: {e}"));
                assert_eq!(expected.shape, vec![3, 300, 25, 2], "{name}");
                let diff = max_abs_diff(&to_ctvm(&out), &expected.data, &name);
                assert!(diff <= tolerance, "{variant} {name}: max difference {diff}");
                assert_eq!(out.valid_frames, seq.num_frames());
                compared += 1;
            }
            (None, Some(error)) => {
                assert!(error.contains("could not broadcast"), "{error}");
                assert!(
                    matches!(result, Err(CleanError::TooLong { frames: 310, .. })),
                    "{variant} {name}: {result:?}"
                );
                compared += 1;
            }
            other => panic!("{variant} {name}: no single reference outcome: {other:?}"),
        }
    }
    assert_eq!(compared, golden_names().len());
}

#[test]
fn stgcn_matches_reference_exactly() {
    check_ctvm_preset(Preset::Stgcn, "stgcn", 0.0);
}

#[test]
fn agcn_matches_reference() {
    check_ctvm_preset(Preset::Agcn, "agcn", 1e-5);
}

fn check_ctrgcn(variant: &str, dataset: Dataset, pad: ctrgcn::LonePad) {
    let dir = golden_dir().join(variant);
    let errors = reference_errors(variant);
    let (mut translated, mut aligned, mut failed) = (0, 0, 0);
    for name in golden_names() {
        let seq = read_ntu(&golden_dir().join("raw").join(format!("{name}.skeleton")));
        let Some(expected) = load(&dir.join(format!("{name}.npy"))) else {
            let Some(error) = errors.get(&name) else {
                // Not applicable: NTU-120 names have no ctrgcn60 output.
                assert_eq!(variant, "ctrgcn60", "{name} has no reference output");
                let meta = NtuName::parse(&name).unwrap();
                assert!(
                    meta.setup > 17 || meta.action > 60,
                    "{name} is an NTU-60 name"
                );
                continue;
            };
            let result = clean::clean(&seq, Preset::Ctrgcn, dataset);
            if error.contains("AssertionError") {
                assert!(
                    matches!(result, Err(CleanError::AllFramesEmpty { .. })),
                    "{name}: {result:?}"
                );
            } else {
                assert!(error.contains("IndexError"), "{error}");
                assert!(
                    matches!(result, Err(CleanError::NoBodyLeft { .. })),
                    "{name}: {result:?}"
                );
            }
            failed += 1;
            continue;
        };
        // Stage by stage: tracks (motion), denoised, translated, aligned.
        let tracks = ctrgcn::read_tracks(&seq).unwrap();
        let info: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("info").join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            tracks.valid_frames as u64,
            info["valid_frames"].as_u64().unwrap(),
            "{name}"
        );
        if let Some(bodies) = info["bodies_in_file_order"].as_array() {
            assert_eq!(bodies.len(), tracks.tracks.len(), "{name}");
            for (track, body) in tracks.tracks.iter().zip(bodies) {
                assert_eq!(track.id.to_string(), body["bodyID"].as_str().unwrap());
                let Some(motion) = body["motion"].as_f64() else {
                    continue;
                };
                assert!(
                    (track.motion - motion).abs() <= 1e-5 * motion.abs().max(1e-3),
                    "{name} motion"
                );
            }
        }
        let mut denoised = ctrgcn::denoise(tracks).unwrap();
        let expected_denoised: NpyArray<f32> =
            npy::read(&dir.join("denoised").join(format!("{name}.npy"))).unwrap();
        assert_eq!(
            expected_denoised.shape,
            vec![denoised.num_rows(), denoised.width()],
            "{name} denoised shape"
        );
        assert_eq!(denoised.rows, expected_denoised.data, "{name} denoised");
        ctrgcn::translate(&mut denoised).unwrap();
        assert_eq!(
            expected.shape,
            vec![denoised.num_rows(), denoised.width()],
            "{name} translated shape"
        );
        assert_eq!(denoised.rows, expected.data, "{name} translated");
        translated += 1;

        let out = clean::clean(&seq, Preset::Ctrgcn, dataset).unwrap();
        assert_eq!(out.valid_frames, denoised.num_rows());
        let expected_aligned = ctrgcn::align(&denoised, pad);
        assert_eq!(out.joints, expected_aligned.joints);
        if let Some(golden) = load(&dir.join("aligned").join(format!("{name}.npy"))) {
            assert_eq!(golden.shape, vec![out.frames, 150], "{name} aligned shape");
            assert_eq!(out.joints, golden.data, "{name} aligned");
            aligned += 1;
        }
    }
    assert_eq!(failed, errors.len());
    assert!(
        translated >= 20 && aligned >= 8,
        "{variant}: {translated} translated, {aligned} aligned"
    );
}

#[test]
fn ctrgcn60_matches_reference_exactly() {
    check_ctrgcn("ctrgcn60", Dataset::Ntu60, ctrgcn::LonePad::Zeros);
}

#[test]
fn ctrgcn120_matches_reference_exactly() {
    check_ctrgcn("ctrgcn120", Dataset::Ntu120, ctrgcn::LonePad::Duplicate);
}
