"""Precisions: bytes per stored element, the compute path on a chip, and the default KV-cache precision.

A weight precision `p` is usable on a chip when
  * the chip has a dense peak for `p` (native: weights and matmuls both in `p`), or
  * weight-only quantization: the chip has a peak for a *wider* precision `q`; weights are stored in `p`
    and dequantized to `q` inside the matmul. This gains memory (and bytes read per step) but no compute:
    FLOP/s are those of `q`.
A chip that only offers narrower precisions than `p` cannot run `p` (that would be a different quantization).
"""

from __future__ import annotations

from planner.schemas.chips import ChipSpec
from planner.schemas.common import BYTES_PER_ELEMENT, PRECISIONS

#: Wider precisions to compute in, in order of preference, when the chip has no peak for the weight
#: precision. 4-bit weights prefer 8-bit activations (W4A8) before 16-bit (W4A16).
_FALLBACK: dict[str, tuple[str, ...]] = {
    "bf16": ("fp16",),
    "fp16": ("bf16",),
    "fp8": ("bf16", "fp16"),
    "int8": ("bf16", "fp16"),
    "int4": ("int8", "fp8", "bf16", "fp16"),
    "fp4": ("fp8", "int8", "bf16", "fp16"),
}

#: Extra bytes per weight for quantization metadata (scales, zero points), as a fraction of the weight bytes.
#: int4: one fp16 scale + 4-bit zero per group of 128 -> 20 bits / (128 x 4 bits) = 3.9 %.
#: fp4 (NVFP4): one fp8 scale per 16 elements -> 8 / (16 x 4) = 12.5 %. 8-bit: per-channel scales, ~0.
QUANT_METADATA_FRACTION: dict[str, float] = {"int4": 20 / 512, "fp4": 8 / 64}

#: KV-cache precision used with each weight precision: 16-bit weights keep a 16-bit cache, 8-bit weights an
#: 8-bit cache (as MLPerf submissions do), 4-bit weights an fp8 cache (4-bit KV is too lossy to plan on).
DEFAULT_KV_PRECISION: dict[str, str] = {
    "bf16": "bf16", "fp16": "fp16", "fp8": "fp8", "int8": "int8", "int4": "fp8", "fp4": "fp8",
}


def bytes_per_element(precision: str) -> float:
    """Bytes per stored element (bf16 2, fp8 1, int4 0.5 ...)."""
    if precision not in BYTES_PER_ELEMENT:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    return BYTES_PER_ELEMENT[precision]


def compute_precision(chip: ChipSpec, weight_precision: str) -> str | None:
    """Precision the matmuls run in for `weight_precision` on `chip`; None when the chip cannot run it."""
    if chip.peak_tflops.get(weight_precision):
        return weight_precision
    for wider in _FALLBACK.get(weight_precision, ()):
        if chip.peak_tflops.get(wider) and bytes_per_element(wider) >= bytes_per_element(weight_precision):
            return wider
    return None


def is_weight_only(chip: ChipSpec, weight_precision: str) -> bool:
    """True when the chip runs `weight_precision` as weight-only quantization (memory gain, no compute gain)."""
    cp = compute_precision(chip, weight_precision)
    return cp is not None and cp != weight_precision


def usable_precisions(chip: ChipSpec) -> list[str]:
    """Weight precisions the chip can run, natively or weight-only."""
    return [p for p in PRECISIONS if compute_precision(chip, p) is not None]


def peak_flops(chip: ChipSpec, precision: str) -> float:
    """Dense peak FLOP/s of the chip in `precision` (TFLOPS x 1e12); 0 when absent."""
    v = chip.peak_tflops.get(precision)
    return float(v) * 1e12 if v else 0.0
