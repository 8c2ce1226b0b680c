"""Interoperability: `skel-trainer export --format sa-dvae` writes the npy
layout of the original SA-DVAE code, which numpy reads with the expected
shapes, dtypes and labels."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PIPELINE = os.environ.get("SKEL_PIPELINE", str(TARGET / "debug" / "skel-pipeline"))
TRAINER = os.environ.get("SKEL_TRAINER", str(TARGET / "debug" / "skel-trainer"))

CONFIG = """
name: export test
dataset: {data}
splits: [{split}]
out_dir: {out}
extractor:
  backbone: {{ arch: stgcn, widths: [8, 16], strides: [1, 2], temporal_kernel: 9, dropout: 0.0, edge_importance: true }}
  data: {{ frames: 16, batch_size: 16 }}
  train: {{ epochs: 1, optimizer: {{ adam: {{ beta1: 0.9, beta2: 0.999 }} }}, lr: 0.001, schedule: constant }}
text: {{ encoder: clip-vit-b-32, mode: lb }}
sadvae: {{ latent: 8, style_latent: 4, batch_size: 8, lr: 0.001, beta_x: 0.02, beta_y: 0.01, lambda_tc: 0.01, n_d: 2 }}
"""


def run(*args):
    subprocess.run([*args], check=True, stdout=subprocess.DEVNULL)


def test_sa_dvae_export_reads_back_with_numpy(tmp_path):
    raw, data = tmp_path / "raw", tmp_path / "ntu60"
    run(PIPELINE, "synth", "--dataset", "ntu60", "--per-class", "8", "--seed", "2", "--out", str(raw))
    run(PIPELINE, "convert", "--dataset", "ntu60", "--raw", str(raw), "--out", str(data),
        "--preset", "ctrgcn", "--quiet")
    run(PIPELINE, "split", str(data), "--published", "paper-random", "--protocol", "cross-subject")
    split = data / "splits" / "paper-random-cross-subject-run0.yaml"
    config = tmp_path / "exp.yaml"
    config.write_text(CONFIG.format(data=data, split=split, out=tmp_path / "exp"))
    out = tmp_path / "export"
    run(TRAINER, "export", "--config", str(config), "--run", "0", "--out", str(out), "--quiet")

    rows = pq.read_table(tmp_path / "exp" / "run0" / "extract-main" / "features.parquet").to_pylist()
    by_part = {}
    for r in rows:
        by_part.setdefault(r["part"], []).append(r)
    unseen = np.load(out / "label_splits" / "ru5.npy")
    seen = np.load(out / "label_splits" / "rs55.npy")
    assert unseen.dtype == np.int64 and seen.dtype == np.int64
    assert sorted(unseen.tolist()) == [4, 19, 31, 47, 51]
    assert len(set(unseen) | set(seen)) == 60

    main = out / "main"
    train, train_label = np.load(main / "train.npy"), np.load(main / "train_label.npy")
    assert train.dtype == np.float32 and train.shape == (len(by_part["train_seen"]), 16)
    assert train_label.dtype == np.int64 and set(train_label) <= set(seen)
    np.testing.assert_array_equal(train[0], np.float32(by_part["train_seen"][0]["feature"]))
    ztest, z_label = np.load(main / "ztest.npy"), np.load(main / "z_label.npy")
    assert ztest.shape == (len(by_part["test_unseen"]), 16) and set(z_label) <= set(unseen)
    gtest, g_label = np.load(main / "gtest.npy"), np.load(main / "g_label.npy")
    n_g = len(by_part["test_seen"]) + len(by_part["test_unseen"])
    assert gtest.shape == (n_g, 16) and g_label.shape == (n_g,)
    assert np.load(main / "gtest_out.npy").shape == (n_g, 55)

    val = out / "val"
    held = np.load(out / "label_splits" / "rv5_0.npy")
    rest = np.load(out / "label_splits" / "rs50_0.npy")
    assert set(np.load(val / "z_label.npy")) <= set(held)
    assert set(np.load(val / "val_label.npy")) <= set(rest)
    assert np.load(val / "ztest_out.npy").shape == (len(np.load(val / "ztest.npy")), 50)
    assert np.load(val / "val_out.npy").shape == (len(np.load(val / "val.npy")), 50)
