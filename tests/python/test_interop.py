"""Interoperability: the shards read the same with pyarrow, polars and duckdb
(sample names, labels, frame counts and joint values), from a conversion of
the genuine NTU RGB+D samples plus generated files."""

import os
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BINARY = os.environ.get("SKEL_PIPELINE", str(TARGET / "debug" / "skel-pipeline"))


def dataset(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    subprocess.run([BINARY, "synth", "--dataset", "ntu60", "--per-class", "1", "--seed", "4", "--out", str(raw)],
                   check=True, stdout=subprocess.DEVNULL)
    for f in (ROOT / "data" / "samples" / "ntu").glob("*.skeleton"):
        (raw / f.name).write_bytes(f.read_bytes())
    subprocess.run([BINARY, "convert", "--dataset", "ntu60", "--raw", str(raw), "--out", str(out),
                    "--preset", "ctrgcn", "--shard-files", "16", "--quiet"], check=True)
    return out


def test_pyarrow_polars_and_duckdb_agree(tmp_path):
    out = dataset(tmp_path)
    shards = sorted((out / "shards").glob("*.parquet"))
    assert len(shards) > 1
    reference = pq.read_table(out / "shards").sort_by("sample")
    names = reference.column("sample").to_pylist()

    frame = pl.read_parquet(out / "shards" / "*.parquet").sort("sample")
    assert frame["sample"].to_list() == names
    assert frame["label"].to_list() == reference.column("label").to_pylist()
    assert frame["frames"].to_list() == reference.column("frames").to_pylist()
    first = np.asarray(frame["joints"][0].to_list(), dtype=np.float32)
    np.testing.assert_array_equal(first, np.asarray(reference.column("joints")[0].as_py(), dtype=np.float32))

    con = duckdb.connect()
    glob = str(out / "shards" / "*.parquet")
    rows = con.execute(
        f"SELECT sample, label, frames, len(joints) FROM read_parquet('{glob}') ORDER BY sample").fetchall()
    assert [r[0] for r in rows] == names
    assert [r[1] for r in rows] == reference.column("label").to_pylist()
    assert all(n == f * a * 75 for (_, _, f, n), a in zip(rows, reference.column("actors").to_pylist()))
    per_class = con.execute(
        f"SELECT label, count(*) FROM read_parquet('{glob}') GROUP BY label ORDER BY label").fetchall()
    assert sum(c for _, c in per_class) == len(names)
