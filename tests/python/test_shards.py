"""Interoperability: shards written by skel-pipeline, read with pyarrow, hold
exactly the raw text values of the genuine sample files (as float32)."""

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
PKU_LABELS = ROOT / "pipeline" / "tests" / "fixtures" / "pkummd" / "labels"
BINARY = os.environ.get("SKEL_PIPELINE", str(ROOT / "target" / "debug" / "skel-pipeline"))


def convert(tmp_path, *args):
    out = tmp_path / "out"
    subprocess.run([BINARY, "convert", *args, "--out", str(out), "--preset", "raw", "--quiet"], check=True)
    return out


def read_ntu(path):
    """Reference reader: {frame: [(body_id, xyz (25, 3) float32)]} as float32(float(text))."""
    lines = path.read_text().splitlines()
    frames, i = [], 1
    for _ in range(int(lines[0])):
        bodies = []
        n, i = int(lines[i]), i + 1
        for _ in range(n):
            body_id, i = int(lines[i].split()[0]), i + 2
            xyz = np.array([[float(v) for v in lines[i + j].split()[:3]] for j in range(25)], dtype=np.float32)
            bodies.append((body_id, xyz))
            i += 25
        frames.append(bodies)
    return frames


def table(out):
    return pq.read_table(out / "shards")


def test_ntu_samples_equal_raw_text(tmp_path):
    out = convert(tmp_path, "--dataset", "ntu60", "--raw", str(SAMPLES / "ntu"))
    rows = table(out).to_pylist()
    assert [r["sample"] for r in rows] == [p.stem for p in sorted((SAMPLES / "ntu").glob("*.skeleton"))]
    for row in rows:
        frames = read_ntu(SAMPLES / "ntu" / row["source"])
        ids = list(dict.fromkeys(b for f in frames for b, _ in f))
        joints = np.asarray(row["joints"], dtype=np.float32).reshape(row["frames"], row["actors"], 25, 3)
        assert row["frames"] == len(frames) and row["actors"] == len(ids)
        for t, bodies in enumerate(frames):
            for body_id, xyz in bodies:
                np.testing.assert_array_equal(joints[t, ids.index(body_id)], xyz)
        assert row["label"] == row["action"] - 1
        assert (row["setup"], row["camera"], row["subject"]) == (1, 1, 1)


def test_pku_sample_equals_raw_text(tmp_path):
    out = convert(tmp_path, "--dataset", "pku-v2", "--raw", str(SAMPLES / "pkummd"), "--labels", str(PKU_LABELS))
    raw = np.loadtxt(SAMPLES / "pkummd" / "A10N08-L.txt").astype(np.float32)
    rows = table(out).to_pylist()
    assert len(rows) == 3
    for row in rows:
        start = row["start_frame"] - 1
        clip = raw[start : start + row["frames"]].reshape(row["frames"], 2, 75)
        joints = np.asarray(row["joints"], dtype=np.float32).reshape(row["frames"], row["actors"], 75)
        present = [m for m in range(2) if clip[:, m].any()]
        assert row["actors"] == len(present)
        np.testing.assert_array_equal(joints, clip[:, present])


@pytest.mark.parametrize("preset", ["stgcn", "ctrgcn", "agcn"])
def test_schema_and_checksums(tmp_path, preset):
    out = tmp_path / preset
    subprocess.run(
        [BINARY, "convert", "--dataset", "ntu60", "--raw", str(SAMPLES / "ntu"), "--out", str(out), "--preset", preset, "--quiet"],
        check=True,
    )
    shard = next((out / "shards").glob("part-*.parquet"))
    schema = pq.read_schema(shard)
    assert str(schema.field("joints").type) == "list<item: float not null>"
    assert str(schema.field("label").type) == "uint16"
    manifest = (out / "manifest.yaml").read_text()
    assert hashlib.sha256(shard.read_bytes()).hexdigest() in manifest
    rows = pq.read_table(shard).to_pylist()
    for row in rows:
        assert len(row["joints"]) == row["frames"] * row["actors"] * 75
        assert row["frames"] == 300 and row["actors"] == 2
