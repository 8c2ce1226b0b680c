"""`skel-pipeline export`: each toolbox's files read back with the calls its
own loader makes (CTR-GCN `feeders/feeder_ntu.py`, st-gcn `feeder/feeder.py`,
PySKL `PoseDataset`), checked against the shards read with pyarrow, and
CTR-GCN's npz checked byte for byte against what `np.savez` writes from the
reference scripts' own per-sample outputs (the golden files)."""

import io
import json
import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PIPELINE = os.environ.get("SKEL_PIPELINE", str(TARGET / "debug" / "skel-pipeline"))
GOLDEN = ROOT / "pipeline" / "tests" / "fixtures" / "golden-ntu"

# The published NTU protocols (SPEC section 2), written out here
# independently of the Rust code.
NTU60_TRAIN_SUBJECTS = [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38]
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS + [
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86,
    89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
]


def run(*args, check=True):
    return subprocess.run([PIPELINE, *map(str, args)], check=check, capture_output=True, text=True)


def export(data, out, fmt, *extra):
    run("export", data, "--format", fmt, "--out", out, "--quiet", *extra)
    return out


def shard_rows(data):
    """{sample: row} of every shard row, joints as (T, M, 25, 3) float32."""
    rows = {}
    for row in pq.read_table(data / "shards").to_pylist():
        row["joints"] = np.asarray(row["joints"], np.float32).reshape(row["frames"], row["actors"], 25, 3)
        rows[row["sample"]] = row
    return rows


@pytest.fixture(scope="module")
def raw60(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw60")
    run("synth", "--dataset", "ntu60", "--per-class", "6", "--seed", "3", "--out", raw)
    return raw


def converted(raw, tmp_path_factory, preset, dataset="ntu60"):
    out = tmp_path_factory.mktemp(preset) / "data"
    run("convert", "--dataset", dataset, "--raw", raw, "--out", out, "--preset", preset, "--quiet")
    return out


@pytest.fixture(scope="module")
def ctrgcn60(raw60, tmp_path_factory):
    return converted(raw60, tmp_path_factory, "ctrgcn")


@pytest.fixture(scope="module")
def stgcn60(raw60, tmp_path_factory):
    return converted(raw60, tmp_path_factory, "stgcn")


@pytest.fixture(scope="module")
def agcn60(raw60, tmp_path_factory):
    return converted(raw60, tmp_path_factory, "agcn")


def ctrgcn_order(rows, key, ids):
    """CTR-GCN `get_indices`: id by id in the list's order, each id's samples in name order."""
    names = sorted(rows)
    return [n for i in ids for n in names if rows[n][key] == i]


def ctrgcn_arrays(rows, key, train_ids, test_ids, classes, padded):
    """x_train, y_train, x_test, y_test as `seq_transformation.py` builds them;
    `padded(name, frames)` gives a sample's (frames, 150) row."""
    frames = max(r["valid_frames"] for r in rows.values())
    arrays = {}
    for part, ids in [("train", train_ids), ("test", test_ids)]:
        names = ctrgcn_order(rows, key, ids)
        x = np.zeros((len(names), frames, 150), np.float32)
        y = np.zeros((len(names), classes))
        for i, n in enumerate(names):
            x[i] = padded(n, frames)
            y[i, rows[n]["label"]] = 1
        arrays[f"x_{part}"], arrays[f"y_{part}"] = x, y
    return arrays


def savez_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def shard_padded(rows):
    def padded(name, frames):
        j = rows[name]["joints"].reshape(rows[name]["frames"], 150)[:frames]
        return np.pad(j, ((0, frames - len(j)), (0, 0)))

    return padded


def test_ctrgcn_npz_reads_as_feeder_ntu_does_and_equals_savez(ctrgcn60, tmp_path):
    out = export(ctrgcn60, tmp_path / "out", "ctrgcn")
    rows = shard_rows(ctrgcn60)
    test_subjects = [s for s in range(1, 41) if s not in NTU60_TRAIN_SUBJECTS]
    for file, key, train, test in [
        ("NTU60_CS.npz", "subject", NTU60_TRAIN_SUBJECTS, test_subjects),
        ("NTU60_CV.npz", "camera", [2, 3], [1]),
    ]:
        expected = ctrgcn_arrays(rows, key, train, test, 60, shard_padded(rows))
        assert len(expected["x_train"]) and len(expected["x_test"]), "both sets need samples"
        assert (out / file).read_bytes() == savez_bytes(expected), file
        # feeder_ntu.py: np.load, x reshaped (N, T, 2, 25, 3) -> (N, C, T, V, M),
        # labels from the one-hot rows.
        npz = np.load(out / file)
        for part in ["train", "test"]:
            data, onehot = npz[f"x_{part}"], npz[f"y_{part}"]
            assert data.dtype == np.float32 and onehot.dtype == np.float64
            n, t, _ = data.shape
            data = data.reshape((n, t, 2, 25, 3)).transpose(0, 4, 1, 3, 2)
            names = ctrgcn_order(rows, key, train if part == "train" else test)
            assert list(np.where(onehot > 0)[1]) == [rows[s]["label"] for s in names]
            for i, s in enumerate(names):
                r = rows[s]
                ctvm = r["joints"].transpose(3, 0, 2, 1)
                np.testing.assert_array_equal(data[i, :, : r["frames"]], ctvm[:, :t])
                assert not data[i, :, r["frames"]:].any()


def test_ctrgcn_npz_is_byte_identical_to_the_reference_scripts(tmp_path):
    """From the golden raw files: the npz equals np.savez of CTR-GCN's own
    per-sample `seq_translation` outputs, aligned as `align_frames` does
    (longest sample of the set, one-actor second slot zero for NTU-60)."""
    data = tmp_path / "golden60"
    result = run("convert", "--dataset", "ntu60", "--raw", GOLDEN / "raw", "--out", data,
                 "--preset", "ctrgcn", "--quiet", check=False)
    assert result.returncode == 2, result.stderr  # NTU-120 names and the failing files
    out = export(data, tmp_path / "out", "ctrgcn", "--protocol", "cross-subject")
    translated = {p.stem: np.load(p) for p in (GOLDEN / "ctrgcn60").glob("*.npy")}
    rows = {n: r for n, r in shard_rows(data).items()}
    assert sorted(rows) == sorted(translated)
    assert max(len(v) for v in translated.values()) == 310  # S004C001P008R001A009: no cut

    def padded(name, frames):
        seq = translated[name]
        x = np.zeros((frames, 150), np.float32)
        x[: len(seq), : seq.shape[1]] = seq  # a 75-wide sequence: [x, zeros] (NTU-60)
        return x

    assert all(r["valid_frames"] == len(translated[n]) for n, r in rows.items())
    test_subjects = [s for s in range(1, 41) if s not in NTU60_TRAIN_SUBJECTS]
    expected = ctrgcn_arrays(rows, "subject", NTU60_TRAIN_SUBJECTS, test_subjects, 60, padded)
    for aligned in (GOLDEN / "ctrgcn60" / "aligned").glob("*.npy"):
        names = ctrgcn_order(rows, "subject", NTU60_TRAIN_SUBJECTS + test_subjects)
        i = names.index(aligned.stem)
        part, i = ("train", i) if i < len(expected["x_train"]) else ("test", i - len(expected["x_train"]))
        golden = np.load(aligned)
        np.testing.assert_array_equal(expected[f"x_{part}"][i, : len(golden)], golden)
    assert (out / "NTU60_CS.npz").read_bytes() == savez_bytes(expected)


def test_ctrgcn120_duplicates_a_lone_actor(tmp_path):
    raw, data = tmp_path / "raw", tmp_path / "ntu120"
    run("synth", "--dataset", "ntu120", "--per-class", "1", "--seed", "1", "--noise-rate", "0", "--out", raw)
    run("convert", "--dataset", "ntu120", "--raw", raw, "--out", data, "--preset", "ctrgcn", "--quiet")
    out = export(data, tmp_path / "out", "ctrgcn")
    rows = shard_rows(data)
    test_subjects = [s for s in range(1, 107) if s not in NTU120_TRAIN_SUBJECTS]
    evens, odds = list(range(2, 33, 2)), list(range(1, 33, 2))
    for file, key, train, test in [
        ("NTU120_CSub.npz", "subject", NTU120_TRAIN_SUBJECTS, test_subjects),
        ("NTU120_CSet.npz", "setup", evens, odds),
    ]:
        expected = ctrgcn_arrays(rows, key, train, test, 120, shard_padded(rows))
        assert (out / file).read_bytes() == savez_bytes(expected), file
    x = np.load(out / "NTU120_CSub.npz")["x_train"]
    lone = [i for i, n in enumerate(ctrgcn_order(rows, "subject", NTU120_TRAIN_SUBJECTS))
            if rows[n]["bodies"] == 1]
    assert lone, "a one-body sample"
    np.testing.assert_array_equal(x[lone, :, :75], x[lone, :, 75:])


def stgcn_expected(rows, train):
    names = [n for n in sorted(rows) if train(rows[n])]
    return names, [rows[n]["label"] for n in names]


@pytest.mark.parametrize("fmt", ["stgcn", "agcn"])
def test_stgcn_and_agcn_read_as_their_feeders_do(stgcn60, agcn60, tmp_path, fmt):
    data = stgcn60 if fmt == "stgcn" else agcn60
    extra = ["--streams", "joint,bone,motion"] if fmt == "agcn" else []
    out = export(data, tmp_path / "out", fmt, *extra)
    rows = shard_rows(data)
    suffix = "" if fmt == "stgcn" else "_joint"
    for folder, train in [
        ("xsub", lambda r: r["subject"] in NTU60_TRAIN_SUBJECTS),
        ("xview", lambda r: r["camera"] in [2, 3]),
    ]:
        for part in ["train", "val"]:
            # feeder.py: pickle.load of (sample_name, label), np.load with mmap_mode='r'.
            with open(out / folder / f"{part}_label.pkl", "rb") as f:
                sample_name, label = pickle.load(f)
            names, labels = stgcn_expected(rows, train if part == "train" else lambda r: not train(r))
            assert names, f"{folder} {part} has samples"
            assert sample_name == [f"{n}.skeleton" for n in names] and label == labels
            joint = np.load(out / folder / f"{part}_data{suffix}.npy", mmap_mode="r")
            assert joint.dtype == np.float32 and joint.shape == (len(names), 3, 300, 25, 2)
            for i, n in enumerate(names):
                np.testing.assert_array_equal(joint[i], rows[n]["joints"].transpose(3, 0, 2, 1))
            if fmt == "agcn":
                check_streams(out / folder, part, np.asarray(joint))


# 2s-AGCN's NTU bones (1-based): bone of joint a = joint a - joint b.
BONES = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
         (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
         (20, 19), (22, 23), (21, 21), (23, 8), (24, 25), (25, 12)]


def check_streams(folder, part, joint):
    bone = np.zeros_like(joint)
    for a, b in BONES:
        bone[:, :, :, a - 1] = joint[:, :, :, a - 1] - joint[:, :, :, b - 1]
    for name, base in [("joint", joint), ("bone", bone)]:
        motion = np.zeros_like(base)
        motion[:, :, :-1] = base[:, :, 1:] - base[:, :, :-1]
        np.testing.assert_array_equal(np.load(folder / f"{part}_data_{name}_motion.npy"), motion)
    np.testing.assert_array_equal(np.load(folder / f"{part}_data_bone.npy"), bone)


def test_pyskl_pickle_reads_as_pose_dataset_does(ctrgcn60, tmp_path):
    out = export(ctrgcn60, tmp_path / "out", "pyskl")
    with open(out / "ntu60_3danno.pkl", "rb") as f:
        pkl = pickle.load(f)
    rows = shard_rows(ctrgcn60)
    split, annotations = pkl["split"], pkl["annotations"]
    assert sorted(split) == ["xsub_train", "xsub_val", "xview_train", "xview_val"]
    assert split["xsub_train"] == [n for n in sorted(rows) if rows[n]["subject"] in NTU60_TRAIN_SUBJECTS]
    assert split["xview_val"] == [n for n in sorted(rows) if rows[n]["camera"] == 1]
    # PoseDataset.load_annotations: keep the annotations whose frame_dir is in the split.
    wanted = set(split["xsub_val"])
    kept = [a for a in annotations if a["frame_dir"] in wanted]
    assert len(kept) == len(wanted) > 0
    assert [a["frame_dir"] for a in annotations] == sorted(rows)
    two = 0
    for a in annotations:
        r = rows[a["frame_dir"]]
        kp = a["keypoint"]
        assert kp.dtype == np.float32 and kp.shape[1:] == (a["total_frames"], 25, 3)
        assert a["label"] == r["label"] and a["total_frames"] == r["valid_frames"]
        expected = r["joints"][: r["valid_frames"]].transpose(1, 0, 2, 3)
        if not expected[1].any():
            expected = expected[:1]
        np.testing.assert_array_equal(kp, expected)
        two += len(kp) == 2
    assert 0 < two < len(annotations), "one- and two-actor samples"


def test_refusals_name_the_fix_and_leave_nothing(stgcn60, ctrgcn60, tmp_path):
    out = tmp_path / "out"
    wrong_preset = run("export", stgcn60, "--format", "ctrgcn", "--out", out, check=False)
    assert wrong_preset.returncode == 1 and "convert the raw files again with --preset ctrgcn" in wrong_preset.stderr
    wrong_protocol = run("export", ctrgcn60, "--format", "ctrgcn", "--protocol", "cross-setup", "--out", out, check=False)
    assert wrong_protocol.returncode == 1 and "cross-setup is not a protocol of ntu60" in wrong_protocol.stderr
    streams = run("export", stgcn60, "--format", "stgcn", "--streams", "bone", "--out", out, check=False)
    assert streams.returncode == 1 and "--format agcn" in streams.stderr
    export(ctrgcn60, out, "ctrgcn", "--protocol", "cross-view")
    before = (out / "NTU60_CV.npz").read_bytes()
    again = run("export", ctrgcn60, "--format", "ctrgcn", "--protocol", "cross-view", "--out", out, check=False)
    assert again.returncode == 1 and "exists; pass --overwrite" in again.stderr
    export(ctrgcn60, out, "ctrgcn", "--protocol", "cross-view", "--overwrite")
    assert (out / "NTU60_CV.npz").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["NTU60_CV.npz"]


def split_parts(path):
    """{part: [sample names]} of a split file's `parts:` (plain YAML lists)."""
    parts, current, inside = {}, None, False
    for line in path.read_text().splitlines():
        if line == "parts:":
            inside = True
        elif inside and line.startswith("  - "):
            parts[current].append(line[4:])
        elif inside and line.startswith("  ") and line.endswith(":"):
            current = line.strip()[:-1]
            parts[current] = []
        elif inside and not line.startswith(" "):
            inside = False
    return parts


def test_a_split_files_main_phase(ctrgcn60, stgcn60, tmp_path):
    run("split", ctrgcn60, "--unseen", "5", "--runs", "1", "--out", tmp_path / "splits")
    (split,) = (tmp_path / "splits").glob("*.yaml")
    parts = split_parts(split)
    train = sorted(parts["train_seen"])
    test = sorted(parts["test_seen"] + parts["test_unseen"])
    assert train and parts["test_seen"] and parts["test_unseen"]
    out = export(ctrgcn60, tmp_path / "out", "ctrgcn", "--split", split)
    rows = shard_rows(ctrgcn60)
    frames = max(r["valid_frames"] for r in rows.values())
    npz = np.load(out / f"{split.stem}.npz")
    for names, x, y in [(train, npz["x_train"], npz["y_train"]), (test, npz["x_test"], npz["y_test"])]:
        assert list(np.where(y > 0)[1]) == [rows[n]["label"] for n in names]
        for i, n in enumerate(names):
            np.testing.assert_array_equal(x[i], rows[n]["joints"].reshape(-1, 150)[:frames])
    export(ctrgcn60, tmp_path / "pyskl", "pyskl", "--split", split)
    with open(tmp_path / "pyskl" / "ntu60_3danno.pkl", "rb") as f:
        pkl = pickle.load(f)
    assert pkl["split"] == {f"{split.stem}_train": train, f"{split.stem}_val": test}
    other = run("export", stgcn60, "--format", "stgcn", "--split", split, "--out", tmp_path / "x", check=False)
    assert other.returncode == 1 and "make the split again from this dataset" in other.stderr
