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
    # The official code's resources/ layout: the paths train.py, gating_train.py and
    # gating_eval.py build for --dataset ntu60_run0 --ve stgcn --le clip-vit-b-32 --tm lb.
    splits = out / "label_splits" / "ntu60_run0"
    unseen = np.load(splits / "ru5.npy")
    seen = np.load(splits / "rs55.npy")
    assert unseen.dtype == np.int64 and seen.dtype == np.int64
    assert sorted(unseen.tolist()) == [4, 19, 31, 47, 51]
    assert len(set(unseen) | set(seen)) == 60

    main = out / "sk_feats" / "stgcn_ntu60_run0_5_r"
    train, train_label = np.load(main / "train.npy"), np.load(main / "train_label.npy")
    assert train.dtype == np.float32 and train.shape == (len(by_part["train_seen"]), 16)
    assert train_label.dtype == np.int64 and set(train_label) <= set(seen)
    np.testing.assert_array_equal(train[0], np.float32(by_part["train_seen"][0]["feature"]))
    ztest, z_label = np.load(main / "ztest.npy"), np.load(main / "z_label.npy")
    assert ztest.shape == (len(by_part["test_unseen"]), 16) and set(z_label) <= set(unseen)
    gtest, g_label = np.load(main / "gtest.npy"), np.load(main / "g_label.npy")
    n_g = len(by_part["test_seen"]) + len(by_part["test_unseen"])
    assert gtest.shape == (n_g, 16) and g_label.shape == (n_g,)

    # One logit column per class: gating_eval.py indexes them by class id
    # (prob_test_seen[i, seen_inds]); unseen columns are -inf, so its softmax
    # over all columns (temp_scale) equals the softmax over the seen ones.
    gtest_out = np.load(main / "gtest_out.npy")
    assert gtest_out.shape == (n_g, 60) and gtest_out.dtype == np.float32
    assert np.isneginf(gtest_out[:, unseen]).all() and np.isfinite(gtest_out[:, seen]).all()
    first = by_part["test_seen"][0]["seen_logits"]
    np.testing.assert_array_equal(gtest_out[0, seen], np.float32(first))
    t = 3
    scaled = (gtest_out + 1e-12) / t
    official = np.array([np.exp(i) / np.sum(np.exp(i)) for i in scaled])
    logits = gtest_out[:, seen] / t
    ours = np.exp(logits - logits.max(1, keepdims=True))
    ours /= ours.sum(1, keepdims=True)
    np.testing.assert_allclose(official[:, seen], ours, rtol=1e-5, atol=1e-7)
    assert (official[:, unseen] == 0).all()

    val = out / "sk_feats" / "stgcn_ntu60_run0_val_5_r"
    held = np.load(splits / "rv5_0.npy")
    rest = np.load(splits / "rs50_0.npy")
    assert set(np.load(val / "z_label.npy")) <= set(held)
    assert set(np.load(val / "val_label.npy")) <= set(rest)
    for name in ["ztest", "val"]:
        logits = np.load(val / f"{name}_out.npy")
        assert logits.shape == (len(np.load(val / f"{name}.npy")), 60)
        assert np.isfinite(logits[:, rest]).all() and np.isneginf(np.delete(logits, rest, 1)).all()

    text = np.load(out / "text_feats" / "ntu60_run0" / "clip-vit-b-32" / "lb_60.npy")
    assert text.shape == (60, 512) and text.dtype == np.float32
