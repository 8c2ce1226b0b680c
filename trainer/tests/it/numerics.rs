//! The same numbers on a smaller CPU: `skel-trainer` caps MKL, oneDNN and
//! ATen at AVX2 before libtorch starts (`numerics::pin`), so a run here equals
//! a run whose libraries are held to AVX2 the way an AVX2-only CPU holds them.

use std::path::Path;
use std::process::Command;

use crate::util::{config, dataset};
use skel_trainer::numerics::{cpu_isa, PINS, SWITCH};

/// Runs `skel-trainer extract` on `job` with the pinning variables cleared,
/// then `env` set; returns features.parquet's bytes and run.yaml's text.
fn extract(job: &Path, run_dir: &Path, env: &[(&str, &str)]) -> (Vec<u8>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skel-trainer"));
    cmd.args(["--quiet", "extract", "--config", job.to_str().unwrap()]);
    for (name, _) in PINS {
        cmd.env_remove(name);
    }
    cmd.env_remove(SWITCH);
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(run_dir.join("features.parquet")).unwrap(),
        std::fs::read_to_string(run_dir.join("run.yaml")).unwrap(),
    )
}

#[test]
fn pinned_run_equals_a_run_capped_at_avx2_and_records_its_numerics() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 3);
    let run = |name: &str, env: &[(&str, &str)]| {
        let run_dir = tmp.path().join(name);
        let mut cfg = config(&data, &split, &run_dir, 2);
        // Wide enough for the libraries' vectorised kernels to matter.
        cfg.backbone.widths = vec![32, 64];
        let job = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&job, cfg.to_yaml()).unwrap();
        extract(&job, &run_dir, env)
    };

    let (pinned, info) = run("pinned", &[]);
    assert!(info.contains("numerics:"), "{info}");
    assert!(info.contains(&format!("cpu_isa: {}", cpu_isa())), "{info}");
    assert!(info.contains("threads:"), "{info}");
    assert!(info.contains("libtorch: "), "{info}");

    // A smaller CPU: pinning off, every library held to AVX2 by its own variable.
    let mut capped_env: Vec<(&str, &str)> = PINS.to_vec();
    capped_env.push((SWITCH, "native"));
    let (capped, capped_info) = run("capped", &capped_env);
    assert!(
        pinned == capped,
        "features of the pinned run differ from the AVX2-capped run's"
    );
    for (name, value) in PINS {
        let cap = format!("{name}={value}");
        assert!(info.contains(&cap), "{info}");
        assert!(capped_info.contains(&cap), "{capped_info}");
    }

    // Unpinned on a CPU above AVX2, the numbers move: the equality above
    // depends on the pinning.
    if cpu_isa() == "avx512" {
        let (native, native_info) = run("native", &[(SWITCH, "native")]);
        assert!(native_info.contains("isa_caps: native"), "{native_info}");
        assert!(
            native != pinned,
            "unpinned AVX-512 run equals the pinned run"
        );
    }
}
