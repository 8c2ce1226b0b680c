"""`scripts/gpu-check.sh --dry`: the prepared GPU check runs every one of its
steps here, on the CPU with tiny sizes, so that no GPU minute is lost to a
typo. Each step must pass and leave its figures in summary.md and the CSVs."""

import csv
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PIPELINE = os.environ.get("SKEL_PIPELINE", str(TARGET / "debug" / "skel-pipeline"))
TRAINER = os.environ.get("SKEL_TRAINER", str(TARGET / "debug" / "skel-trainer"))


def test_dry_mode_runs_every_step_and_reports_its_figures(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, SKEL_TRAINER=TRAINER, SKEL_PIPELINE=PIPELINE)
    env.pop("OUT", None)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu-check.sh"), "--dry", "--work", str(tmp_path / "work"),
         "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=900)
    log = (out / "log.txt").read_text() if (out / "log.txt").exists() else ""
    assert done.returncode == 0, done.stderr[-4000:] + log[-4000:]
    summary = (out / "summary.md").read_text()
    for n in range(1, 7):
        assert f"## Step {n}:" in summary
    assert summary.count("status: ok") == 6 and "FAILED" not in summary
    assert "steps failed: 0" in summary

    # Step 1: doctor ran and gave its verdict on --device cuda.
    doctor = (out / "doctor.txt").read_text()
    assert "libtorch:" in doctor and "--device cuda:" in doctor

    # Step 3: two CPU runs of the same job give the same loss curve exactly.
    rows = list(csv.DictReader((out / "losses.csv").open()))
    assert len(rows) == 1 and float(rows[0]["relative_difference"]) == 0.0

    # Step 4: skel-trainer's rate for both precisions (PyTorch's too where
    # this Python imports torch).
    bench = list(csv.DictReader((out / "bench.csv").open()))
    sides = {(r["precision"], r["side"]) for r in bench}
    assert {("fp32", "skel-trainer"), ("bf16", "skel-trainer")} <= sides
    assert all(float(r["samples_per_second"]) > 0 for r in bench)

    # Steps 5 and 6: the SA-DVAE rates, the fit, and the demo's table.
    assert "fd_tc step, batch 32" in summary and "epoch" in summary.split("## Step 5")[1]
    assert "SA-DVAE (FD + TC)" in summary.split("## Step 6")[1]
