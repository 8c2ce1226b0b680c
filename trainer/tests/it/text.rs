//! Text encoders against their references (`trainer/scripts/gen_text_fixtures.py`)
//! on every distinct NTU-60/120 class text: Sentence-BERT equals
//! sentence-transformers and the tiny CLIP equals `transformers` within 1e-5,
//! CLIP token ids equal Hugging Face's (after ftfy) exactly. Weights that do
//! not fit are refused by tensor name; class features are cached and reused.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use skel_pipeline::npy;
use skel_schemas::Dataset;
use skel_trainer::text::bert::SentenceBert;
use skel_trainer::text::clip::ClipTextEncoder;
use skel_trainer::text::clip_bpe::{ClipBpe, CONTEXT};
use skel_trainer::text::texts::{class_texts, TextKind};
use skel_trainer::text::{cache_path, class_features, TextConfig, TextEncoder};
use tch::{Device, Tensor};

use crate::util::run_cli;

const TOLERANCE: f64 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/text")
        .join(name)
}

/// The fixture's distinct texts, which must cover every NTU class text.
fn fixture_texts() -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("texts.json")).unwrap()).unwrap();
    let texts: Vec<String> = serde_json::from_value(json["texts"].clone()).unwrap();
    for dataset in [Dataset::Ntu60, Dataset::Ntu120] {
        for kind in TextKind::ALL {
            for t in class_texts(dataset, kind) {
                assert!(
                    texts.contains(&t),
                    "{dataset} {kind} text {t:?} is not in the fixture: run trainer/scripts/gen_text_fixtures.py"
                );
            }
        }
    }
    texts
}

fn matrix(name: &str) -> Tensor {
    let a = npy::read::<f32>(&fixture(name)).unwrap();
    Tensor::from_slice(&a.data).view([a.shape[0] as i64, a.shape[1] as i64])
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// The tiny CLIP's folder (the fixture's weights are gzipped) in `dir`.
fn tiny_clip(dir: &Path) -> PathBuf {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(fixture("clip-tiny/model.safetensors.gz")).unwrap(),
    )
    .read_to_end(&mut bytes)
    .unwrap();
    std::fs::write(dir.join("model.safetensors"), bytes).unwrap();
    std::fs::copy(fixture("clip-tiny/config.json"), dir.join("config.json")).unwrap();
    dir.join("model.safetensors")
}

#[test]
fn sentence_bert_equals_sentence_transformers_on_every_ntu_text() {
    let texts = fixture_texts();
    let dir = SentenceBert::locate(None).unwrap();
    let model = SentenceBert::load(&dir, Device::Cpu).unwrap();
    let d = max_diff(&model.embed(&texts).unwrap(), &matrix("sbert.npy"));
    println!("Sentence-BERT, {} texts: max abs diff {d:.2e}", texts.len());
    assert!(d <= TOLERANCE, "Sentence-BERT differs by {d}");
}

#[test]
fn clip_token_ids_equal_hugging_face_on_every_ntu_text() {
    let texts = fixture_texts();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("clip_ids.json")).unwrap()).unwrap();
    let want: Vec<Vec<u32>> = serde_json::from_value(json["ids"].clone()).unwrap();
    let bpe = ClipBpe::new();
    for (text, want) in texts.iter().zip(&want) {
        assert_eq!(&bpe.tokenize(text, CONTEXT), want, "{text:?}");
    }
}

#[test]
fn tiny_clip_equals_transformers_on_every_ntu_text() {
    let texts = fixture_texts();
    let tmp = tempfile::tempdir().unwrap();
    let model = ClipTextEncoder::load(&tiny_clip(tmp.path()), Device::Cpu).unwrap();
    let d = max_diff(&model.embed(&texts).unwrap(), &matrix("clip_tiny.npy"));
    println!("tiny CLIP, {} texts: max abs diff {d:.2e}", texts.len());
    assert!(d <= TOLERANCE, "CLIP differs by {d}");
}

/// Rewrites a safetensors file with `edit` applied to its tensors.
fn edit_weights(path: &Path, edit: impl FnOnce(&mut HashMap<String, Tensor>)) {
    let mut tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .collect();
    edit(&mut tensors);
    let named: Vec<(String, Tensor)> = tensors.into_iter().collect();
    Tensor::write_safetensors(&named, path).unwrap();
}

#[test]
fn weights_that_do_not_fit_are_refused_by_tensor_name() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = tiny_clip(tmp.path());
    let fc2 = "text_model.encoder.layers.1.mlp.fc2.weight";
    edit_weights(&weights, |t| {
        t.remove(fc2);
    });
    let e = ClipTextEncoder::load(&weights, Device::Cpu)
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(
        e.contains(fc2) && e.contains(&weights.display().to_string()) && e.contains("[64, 128]"),
        "{e}"
    );

    let weights = tiny_clip(tmp.path());
    edit_weights(&weights, |t| {
        t.insert(
            "text_projection.weight".into(),
            Tensor::zeros([16, 64], tch::kind::FLOAT_CPU),
        );
    });
    let e = ClipTextEncoder::load(&weights, Device::Cpu)
        .unwrap_err()
        .to_string();
    println!("{e}");
    assert!(
        e.contains("`text_projection.weight` has shape [16, 64], the model needs [32, 64]"),
        "{e}"
    );

    // BERT weights are not a CLIP text model.
    let sbert = SentenceBert::locate(None)
        .unwrap()
        .join("model.safetensors");
    std::fs::copy(&sbert, &weights).unwrap();
    let e = ClipTextEncoder::load(&weights, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no tensor `text_model."), "{e}");
}

#[test]
fn class_features_are_cached_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TextConfig {
        encoder: TextEncoder::ClipVitB32,
        mode: "lb_ad".into(),
        weights: None,
    };
    let first = class_features(&cfg, Dataset::Ntu60, tmp.path(), Device::Cpu).unwrap();
    assert_eq!((first.rows.len(), first.dim), (60, 1024));
    for row in &first.rows {
        // Each part unit length, then the whole: both halves have norm 1/sqrt(2).
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm(row) - 1.0).abs() < 1e-5);
        assert!((norm(&row[..512]) - 0.5f32.sqrt()).abs() < 1e-5);
    }
    let path = cache_path(tmp.path(), &first.key);
    let written = std::fs::metadata(&path).unwrap().modified().unwrap();
    let again = class_features(&cfg, Dataset::Ntu60, tmp.path(), Device::Cpu).unwrap();
    assert_eq!(again, first);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        written,
        "cache not reused"
    );

    // Another mode or dataset is another key; a damaged file is rewritten.
    let lb = TextConfig {
        mode: "lb".into(),
        ..cfg.clone()
    };
    assert_ne!(
        class_features(&lb, Dataset::Ntu60, tmp.path(), Device::Cpu)
            .unwrap()
            .key,
        first.key
    );
    std::fs::write(&path, b"not parquet").unwrap();
    assert_eq!(
        class_features(&cfg, Dataset::Ntu60, tmp.path(), Device::Cpu).unwrap(),
        first
    );
}

#[test]
fn clip_class_features_are_the_normalised_encoder_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = TextConfig {
        encoder: TextEncoder::Clip,
        mode: "lb".into(),
        weights: Some(tiny_clip(tmp.path())),
    };
    let features = class_features(&cfg, Dataset::Ntu120, tmp.path(), Device::Cpu).unwrap();
    let texts = fixture_texts();
    let reference = matrix("clip_tiny.npy");
    for (i, label) in class_texts(Dataset::Ntu120, TextKind::Lb)
        .iter()
        .enumerate()
    {
        let row = reference.get(texts.iter().position(|t| t == label).unwrap() as i64);
        let row = &row / row.norm();
        let d = max_diff(&Tensor::from_slice(&features.rows[i]), &row);
        assert!(d <= TOLERANCE, "{label}: {d}");
    }
}

#[test]
fn embed_command_writes_parquet_and_explains_bad_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("features");
    let run = run_cli(&[
        "embed",
        "--dataset",
        "ntu120",
        "--encoder",
        "clip-vit-b-16",
        "--mode",
        "md",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        stdout.contains("120 classes x 512 (clip-vit-b-16 md)"),
        "{stdout}"
    );
    let file = stdout.split(':').next().unwrap();
    assert!(Path::new(file).is_file(), "{stdout}");

    let run = run_cli(&[
        "embed",
        "--dataset",
        "pku-v1",
        "--encoder",
        "sbert",
        "--mode",
        "lb_ad",
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.contains("pku-v1 has lb texts only (no `ad`)"),
        "{stderr}"
    );
}
