"""Memory fit: weight bytes, KV bytes per token (GQA and MLA), reserve and the largest batch, by hand."""

from __future__ import annotations

import math

import pytest

from planner.catalog import load_chip_catalog, load_model_catalog
from planner.perf.layout import Layout
from planner.perf.memory import kv_bytes_per_token_per_chip, memory_fit
from planner.perf.model_costs import model_costs

MODELS = load_model_catalog()
CHIPS = load_chip_catalog()


def test_llama2_70b_fp16_weights_are_138_gb() -> None:
    # 68.98e9 parameters x 2 bytes; 16-bit weights keep the embeddings at 2 bytes too.
    assert model_costs(MODELS["llama-2-70b"]).weight_bytes("fp16") == pytest.approx(68.98e9 * 2, rel=1e-9)
    assert model_costs(MODELS["llama-2-70b"]).weight_bytes("fp16") / 1e9 == pytest.approx(138.0, abs=0.1)


def test_kv_bytes_per_token_llama31_70b_bf16_is_320_kib() -> None:
    # 2 (K,V) x 80 layers x 8 KV heads x 128 head dim x 2 bytes = 327,680 B = 320 KiB
    kv = kv_bytes_per_token_per_chip(MODELS["llama-3.1-70b"], "bf16", Layout())
    assert kv == 2 * 80 * 8 * 128 * 2 == 320 * 1024


def test_kv_bytes_per_token_mla_deepseek() -> None:
    # MLA caches the latent: 61 layers x (512 + 64) x 2 bytes = 70,272 B, replicated on every TP rank
    m = MODELS["deepseek-r1"]
    assert kv_bytes_per_token_per_chip(m, "bf16", Layout()) == 61 * 576 * 2
    assert kv_bytes_per_token_per_chip(m, "bf16", Layout(tp=8)) == 61 * 576 * 2


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_kv_formula_matches_reference_column(model_id: str) -> None:
    m = MODELS[model_id]
    assert kv_bytes_per_token_per_chip(m, "bf16", Layout()) == m.kv_bytes_per_token_bf16


def test_kv_heads_split_by_tp_and_replicated_beyond() -> None:
    m = MODELS["llama-3.1-70b"]
    assert kv_bytes_per_token_per_chip(m, "bf16", Layout(tp=8)) == 2 * 80 * 1 * 128 * 2
    # TP16 > 8 KV heads: each chip still holds one whole head
    assert kv_bytes_per_token_per_chip(m, "bf16", Layout(tp=16)) == 2 * 80 * 1 * 128 * 2
    # PP2 halves the layers per chip
    assert kv_bytes_per_token_per_chip(m, "bf16", Layout(tp=2, pp=2)) == 2 * 40 * 4 * 128 * 2


def test_int4_weights_keep_16bit_embeddings_and_scales() -> None:
    # (70.55e9 - 2 x 128256 x 8192) x 0.5 B x (1 + 20/512) + 2 x 128256 x 8192 x 2 B ~= 39.8 GB (press: ~40 GB)
    emb = 128256 * 8192
    expected = (70.55e9 - 2 * emb) * 0.5 * (1 + 20 / 512) + 2 * emb * 2
    got = model_costs(MODELS["llama-3.1-70b"]).weight_bytes("int4")
    assert got == pytest.approx(expected, rel=1e-12)
    assert 38e9 < got < 42e9


def test_max_batch_on_one_h200_by_hand() -> None:
    # weights fp8: (68.98e9 - 2 x 32000 x 8192) x 1 B + 2 x 32000 x 8192 x 2 B = 69.504e9
    # HBM is sold in GiB: 141 x 2^30 = 151.398e9 B; vLLM reserve 10 % of it = 15.140e9
    # free = 151.398e9 - 69.504e9 - 15.140e9 = 66.754e9; KV fp8 = 163,840 B/token; 2,000 tokens -> 203
    fit = memory_fit(MODELS["llama-2-70b"], CHIPS["h200_sxm"], "fp8", "fp8", Layout(), 2000)
    emb = 2 * 32000 * 8192
    assert fit.weights_bytes_per_chip == pytest.approx(68.98e9 - emb + 2 * emb, rel=1e-12)
    mem = 141 * 2**30
    free = mem - (68.98e9 + emb) - 0.1 * mem
    assert fit.max_batch == math.floor(free / (163840 * 2000)) == 203
    assert fit.fits


def test_layout_that_does_not_fit_says_so_with_numbers() -> None:
    fit = memory_fit(MODELS["llama-3.1-405b"], CHIPS["h100_sxm"], "bf16", "bf16", Layout(tp=8), 4000)
    assert not fit.fits and fit.max_batch == 0
    text = fit.explain()
    assert "short by" in text and "weights 101.46 GB" in text


def test_trtllm_reserve_is_a_share_of_memory_left_after_weights() -> None:
    from planner.perf.memory import memory_bytes, reserve_bytes

    chip = CHIPS["h100_sxm"]
    assert memory_bytes(chip) == 80 * 2**30  # HBM sold in GiB
    w = 70e9
    assert reserve_bytes(chip, w, "trtllm") == pytest.approx(0.1 * (80 * 2**30 - w))
    assert reserve_bytes(chip, w, "vllm") == pytest.approx(0.1 * 80 * 2**30)
    # more weights leave less for TRT-LLM to hold back; vLLM's reserve does not move
    assert reserve_bytes(chip, 2 * w, "trtllm") < reserve_bytes(chip, w, "trtllm")
