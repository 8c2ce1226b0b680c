"""docs/python.md: its code blocks, run as they stand, read a converted
dataset into the same (N, C, T, V, M) arrays as the shards' rows and as the
st-gcn export; the Dataset block runs with a stand-in for torch (the .venv
has no usable torch), which checks its row-group bookkeeping."""

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PIPELINE = os.environ.get("SKEL_PIPELINE", str(TARGET / "debug" / "skel-pipeline"))
DOC = ROOT / "docs" / "python.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def run(*args):
    subprocess.run([PIPELINE, *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("doc")
    raw, data = tmp / "raw", tmp / "stgcn"
    run("synth", "--dataset", "ntu60", "--per-class", "3", "--seed", "5", "--out", raw)
    # Small shards: several files and row groups to walk across.
    run("convert", "--dataset", "ntu60", "--raw", raw, "--out", data, "--preset", "stgcn",
        "--shard-files", "100", "--quiet")
    return data


@pytest.fixture(scope="module")
def doc():
    namespace = {}
    exec(blocks()[0], namespace)
    return namespace


def test_read_dataset_equals_rows_and_the_stgcn_export(data, doc, tmp_path):
    names, labels, x = doc["read_dataset"](data)
    rows = pq.read_table(data / "shards").to_pylist()
    assert names == sorted(r["sample"] for r in rows)
    assert x.shape == (len(rows), 3, 300, 25, 2) and x.dtype == np.float32
    for i, r in enumerate(sorted(rows, key=lambda r: r["sample"])):
        joints = np.asarray(r["joints"], np.float32).reshape(r["frames"], r["actors"], 25, 3)
        np.testing.assert_array_equal(x[i], joints.transpose(3, 0, 2, 1))
        assert labels[i] == r["label"]
    run("export", data, "--format", "stgcn", "--protocol", "cross-view", "--out", tmp_path / "st", "--quiet")
    train = np.load(tmp_path / "st" / "xview" / "train_data.npy")
    val = np.load(tmp_path / "st" / "xview" / "val_data.npy")
    cam1 = [i for i, n in enumerate(names) if "C001" in n]
    others = [i for i, n in enumerate(names) if "C001" not in n]
    np.testing.assert_array_equal(x[others], train)
    np.testing.assert_array_equal(x[cam1], val)
    part = [names[i] for i in cam1]
    sub_names, sub_labels, sub_x = doc["read_dataset"](data, samples=part, frames=120)
    assert sub_names == part and list(sub_labels) == list(labels[cam1])
    np.testing.assert_array_equal(sub_x, x[cam1][:, :, :120])


def test_shard_dataset_reads_each_row_group_once_in_order(data, doc, monkeypatch):
    torch = types.ModuleType("torch")
    torch.utils = types.SimpleNamespace(data=types.SimpleNamespace(Dataset=object))
    torch.from_numpy = lambda a: a
    monkeypatch.setitem(sys.modules, "torch", torch)
    decoded = []
    real = pq.ParquetFile.read_row_group

    def counting(self, g, **kw):
        decoded.append(g)
        return real(self, g, **kw)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    namespace = dict(doc)
    exec(blocks()[1], namespace)
    dataset = namespace["ShardDataset"](data)
    names, labels, x = doc["read_dataset"](data)
    assert len(dataset) == len(names)
    for i in range(len(dataset)):
        xi, label = dataset[i]
        np.testing.assert_array_equal(xi, x[i])
        assert label == labels[i]
    groups = sum(pq.ParquetFile(p).metadata.num_row_groups for p in doc["shard_files"](data))
    assert len(decoded) == groups > 2
