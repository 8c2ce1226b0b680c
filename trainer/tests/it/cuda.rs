//! libtorch's CUDA library is loaded at run time: `doctor` reports what it
//! found, and `--device cuda` says what is missing and the fix. On this
//! project's machines there is no GPU: the lean install (torch without its
//! CUDA libraries, `scripts/setup.sh`) must name the missing library; a full
//! install must load libtorch_cuda and find no GPU.

use std::path::PathBuf;
use std::process::Command;

use crate::util::run_cli;

/// The torch/lib folder the test binary runs with.
fn torch_lib() -> PathBuf {
    skel_trainer::cuda::libtorch_lib_dir().expect("libtorch_cpu.so is loaded")
}

/// Whether the venv beside that libtorch holds cuBLAS (a `setup.sh --cuda` install).
fn full_cuda_install() -> bool {
    torch_lib()
        .join("../../nvidia/cu13/lib/libcublas.so.13")
        .exists()
}

#[test]
fn doctor_reports_libtorch_and_what_cuda_lacks() {
    let out = run_cli(&["doctor"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("libtorch:         2.11.0"), "{text}");
    assert!(text.contains(&torch_lib().display().to_string()), "{text}");
    assert!(text.contains("intra-op"), "{text}");
    assert!(text.contains("Sentence-BERT:"), "{text}");
    if full_cuda_install() {
        assert!(text.contains("libtorch_cuda:    loaded"), "{text}");
    } else {
        // The lean install: the loader's message names the missing library.
        let line = text
            .lines()
            .find(|l| l.starts_with("libtorch_cuda:"))
            .unwrap();
        assert!(
            line.contains("not loaded") && line.contains(".so") && line.contains("cannot open"),
            "{line}"
        );
        assert!(text.contains("./scripts/setup.sh --cuda"), "{text}");
    }
    assert!(text.contains("--device cuda:    cannot work"), "{text}");
    assert!(text.contains("\nfix:"), "{text}");
}

#[test]
fn doctor_require_cuda_fails_without_a_gpu() {
    let out = run_cli(&["doctor", "--require-cuda"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn device_cuda_names_the_missing_piece_and_points_to_doctor() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("extract.yaml");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../configs/experiments/extract-tiny-stgcn.yaml"
        ),
        &config,
    )
    .unwrap();
    let out = run_cli(&[
        "extract",
        "--config",
        config.to_str().unwrap(),
        "--device",
        "cuda",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("error: device cuda was asked for"), "{err}");
    assert!(err.contains("skel-trainer doctor"), "{err}");
    if !full_cuda_install() {
        assert!(err.contains("cannot open shared object file"), "{err}");
    }
}

/// With torch's full CUDA libraries (a venv where `pip install torch==2.11.0`
/// ran with its dependencies), libtorch_cuda loads and no GPU is found. Run it
/// with SKEL_TEST_FULL_TORCH_LIB=<that venv>/lib/python3.X/site-packages/torch/lib
/// and `-- --ignored`; CI has no full install, so the lean case above is what
/// it checks.
#[test]
#[ignore = "needs a full torch install: SKEL_TEST_FULL_TORCH_LIB=<venv>/.../torch/lib"]
fn full_cuda_libraries_load_libtorch_cuda_and_find_no_gpu() {
    let lib = std::env::var_os("SKEL_TEST_FULL_TORCH_LIB")
        .expect("SKEL_TEST_FULL_TORCH_LIB: the torch/lib folder of a full torch install");
    let out = Command::new(env!("CARGO_BIN_EXE_skel-trainer"))
        .arg("doctor")
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("libtorch_cuda:    loaded"), "{text}");
    assert!(
        text.contains("CUDA:             not available") && text.contains("NVIDIA driver:    none"),
        "{text}"
    );
    assert!(text.contains("cannot work: no NVIDIA driver"), "{text}");
}
