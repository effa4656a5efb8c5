"""`planner perf`: evaluate one model on one chip type, print a table or JSON, optionally plot the roofline.

Figures come from the one predictor (`planner.perf.predictor`) that plans use: a measurement where one covers
the case (the bundled table, or --measurements), else the model corrected for --engine.
`--dp D` runs attention data-parallel (D attention replicas of TP/D chips each, MoE models; SGLang
--enable-dp-attention, TensorRT-LLM "DEP"); with --tp and --ep > 1 on a MoE model and no --dp, TP attention is the
figure and attention DP is evaluated for a note (modelled, not calibrated).
`--concurrency C` asks for a closed-loop benchmark client with C requests in flight against the whole system
(spread evenly over its replicas); `--batch B` limits the running batch per replica.
`--spec-tokens K --spec-acceptance A [--spec-draft MODEL | --spec-head-cost F]` asks with speculative decoding
(`planner.perf.speculative`): the model only (no measurement records speculation), printed with the tokens per step
and the same layout's figure without speculation.

Exit codes: 0 ok; 2 bad input (unknown model or chip, a precision the chip cannot run, a layout that is not
allowed or does not fit, unreadable calibration); 3 the layout fits but no batch meets the latency targets.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.errors import EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_OK, InputError
from planner.perf.burst import DEFAULT_BURST_REQUESTS
from planner.perf.calibration_io import load_calibration
from planner.perf.engines import DEFAULT_ENGINE, ENGINE_BATCH_CAP, ENGINES, normalise_engine
from planner.perf.evaluate import Evaluation, best_evaluation, evaluate
from planner.perf.layout import Layout, layout_problem, tp_limit
from planner.perf.measured import MAX_USER_POINTS, MeasuredPoint, read_plain_csv, read_vllm_json
from planner.perf.memory import memory_fit
from planner.perf.precision import DEFAULT_KV_PRECISION, compute_precision
from planner.perf.predictor import Predictor, build_predictor
from planner.perf.serving import RequestShape, Targets
from planner.perf.speculative import DEFAULT_HEAD_COST, Speculation, speculation_problem
from planner.schemas.common import PRECISIONS


def add_perf_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `perf` subcommand."""
    p = subparsers.add_parser("perf", help="roofline performance of a model on a chip: fit, speed, latency, power",
                              description=__doc__)
    p.add_argument("--model", required=True, help="model id from the model catalog")
    p.add_argument("--chip", required=True, help="chip id from the chip catalog")
    p.add_argument("--chips", required=True, type=int, help="chips in the whole system (replicas = chips / (TP x PP))")
    p.add_argument("--precision", required=True, choices=PRECISIONS, help="weight precision")
    p.add_argument("--kv-precision", choices=PRECISIONS, help="KV-cache precision (default: follows the weights)")
    p.add_argument("--prompt-tokens", required=True, type=float, help="mean prompt tokens per request")
    p.add_argument("--output-tokens", required=True, type=float, help="mean output tokens per request")
    p.add_argument("--tp", type=int, help="tensor parallelism (default: best layout)")
    p.add_argument("--pp", type=int, help="pipeline parallelism (default: best layout)")
    p.add_argument("--ep", type=int, default=1, help="expert parallelism for MoE models (divides TP)")
    p.add_argument("--dp", type=int,
                   help="attention data parallelism for MoE models (divides TP; attention TP = TP / DP). Default: 1, "
                        "and with --tp and --ep > 1 on a MoE model DP = TP is noted, not used: attention DP is modelled but "
                        "not calibrated")
    p.add_argument("--batch", type=int, help="running-batch limit per replica (default: the engine's limit and memory)")
    p.add_argument("--concurrency", type=float,
                   help="closed-loop client concurrency against the whole system (requests in flight, as a benchmark's "
                        "max_concurrency); default: the largest load meeting the targets, or offline without targets")
    p.add_argument("--requests", type=int,
                   help="offline (no --concurrency, no targets): the run is a burst of this many requests sent at once, "
                        f"as benchmark clients measure it (default {DEFAULT_BURST_REQUESTS}); 0 = the steady state; "
                        "refused beside --concurrency, --ttft-ms or --tpot-ms, which ask for a load that does not end")
    p.add_argument("--engine", default=DEFAULT_ENGINE,
                   help=f"serving engine: {', '.join(ENGINES)} (tuned = a tuned benchmark submission, the raw "
                        f"calibrated model; default {DEFAULT_ENGINE})")
    p.add_argument("--measurements", type=Path, nargs="+", metavar="FILE",
                   help="your own results: plain CSVs (measured-points columns) or vLLM benchmark_serving JSONs "
                        "(a JSON is taken to be this --model/--chip/--precision/--tp/--pp/--ep/--engine)")
    p.add_argument("--fit-report", action="store_true",
                   help="also print the correction factors and the residuals of the --measurements against the model")
    p.add_argument("--spec-tokens", type=int, metavar="K",
                   help="speculative decoding: tokens speculated per step (model only; never from measurements)")
    p.add_argument("--spec-acceptance", type=float, metavar="A",
                   help="speculative decoding: per-token acceptance rate in [0, 1) (i.i.d. model)")
    p.add_argument("--spec-draft", metavar="MODEL_ID",
                   help="speculative decoding with a draft model from the catalog, run on the same chips (same vocabulary)")
    p.add_argument("--spec-head-cost", type=float, metavar="F",
                   help=f"speculative decoding with draft heads (EAGLE/MTP): cost per speculated token as a fraction of one "
                        f"target decode step (default {DEFAULT_HEAD_COST:g}, an assumption)")
    p.add_argument("--ttft-ms", type=float, help="TTFT target at the percentile, ms")
    p.add_argument("--tpot-ms", type=float, help="TPOT target at the percentile, ms")
    p.add_argument("--percentile", type=float, default=99.0, help="latency percentile of the targets (default 99)")
    p.add_argument("--length-cv", type=float, default=1.0, help="coefficient of variation of request lengths")
    p.add_argument("--calibration", type=Path, help="efficiency factors JSON, or a measured table CSV to fit")
    p.add_argument("--chip-catalog", type=Path, help="chips.yaml (default: the bundled catalog)")
    p.add_argument("--model-catalog", type=Path, help="models.yaml (default: the bundled catalog)")
    p.add_argument("--electricity-usd-per-kwh", type=float, default=0.08, help="for USD per million tokens")
    p.add_argument("--pue", type=float, default=1.3, help="facility PUE for USD per million tokens")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", type=Path, help="write the roofline with the operating points to this PNG")
    p.set_defaults(func=run_perf)


def _err(msg: str) -> None:
    print(f"planner perf: {msg}", file=sys.stderr)


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else f" Known: {', '.join(sorted(known))}."
    return f"unknown {kind} {name!r}.{hint}"


def _check_numbers(args: argparse.Namespace) -> str | None:
    if args.chips < 1:
        return "--chips must be at least 1"
    if args.prompt_tokens <= 0 or args.output_tokens <= 0:
        return "--prompt-tokens and --output-tokens must be positive"
    for name in ("tp", "pp", "ep", "dp", "batch"):
        v = getattr(args, name)
        if v is not None and v < 1:
            return f"--{name} must be at least 1"
    for name in ("ttft_ms", "tpot_ms"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            return f"--{name.replace('_', '-')} must be positive"
    if not 0 < args.percentile < 100:
        return "--percentile must be between 0 and 100"
    return None


def _burst_rows(ev: Evaluation) -> list[tuple[str, str]]:
    """The offline answer as a finite burst (planner.perf.burst), against the steady state."""
    if not ev.burst_requests or not math.isfinite(ev.steady_tokens_per_s_per_replica):
        return []
    short = 1.0 - ev.tokens_per_s_per_replica / ev.steady_tokens_per_s_per_replica
    return [("offline run", f"a burst of {ev.burst_requests:,} requests per replica sent at once, as benchmark clients "
                            f"measure it: {100 * short:.0f} % below the steady state "
                            f"({ev.steady_tokens_per_s_per_replica:,.0f} tokens/s per replica; --requests 0 for a "
                            "sustained offline job)")]


def _table(ev: Evaluation) -> str:
    f = ev.to_dict()
    rows = [
        ("model / chip", f"{ev.model} on {ev.chips} x {ev.chip}"),
        ("precision", f"weights {ev.precision}, KV {ev.kv_precision}, compute {ev.compute_precision}"),
        ("layout", f"{_layout_label(ev)}: {ev.tp * ev.pp} chips per replica, {ev.replicas} replicas"),
        ("memory per chip", f"weights {ev.memory['weights_gb_per_chip']:.2f} GB, reserve {ev.memory['reserve_gb_per_chip']:.2f} GB, "
                            f"KV room {ev.memory['kv_room_gb_per_chip']:.2f} GB, KV {ev.memory['kv_kib_per_token_per_chip']:.1f} KiB/token"),
        ("batch per replica", f"{ev.batch} (memory allows {ev.max_batch} at {ev.memory['admission_context_tokens']:.0f} tokens"
                              + (" reserved per request: the engine reserves a request's whole length)"
                                 if ev.memory['admission_context_tokens'] != ev.memory['occupancy_context_tokens'] else ")")),
        ("bound", ev.bound),
        ("throughput", f"{ev.throughput_tokens_per_s:,.0f} output tokens/s ({ev.tokens_per_s_per_replica:,.0f} per replica)"),
        ("source", _source_line(ev)),
        *_burst_rows(ev),
        ("TTFT", f"{ev.ttft_ms:,.1f} ms (prompt alone {ev.prefill_ms_batch1:,.1f} ms)"),
        ("TPOT", f"{ev.tpot_ms:,.2f} ms (batch 1: {ev.tpot_ms_batch1:,.2f} ms)"),
        ("prefill share", f"{100 * ev.prefill_share:.0f} % of compute"),
        ("power", f"{ev.power_w / 1e3:,.2f} kW ({ev.power_w_per_replica:,.0f} W per replica, utilisation {100 * ev.utilisation:.0f} %)"),
        ("energy / cost", f"{ev.joules_per_token:.3f} J per token, USD {f['usd_per_million_tokens'] or math.nan:.3f} per million tokens"),
    ]
    if ev.spec_tokens:
        rows += _spec_rows(ev)
    w = max(len(k) for k, _ in rows)
    out = [f"  {k:<{w}}  {v}" for k, v in rows]
    return "\n".join(out + [f"  note: {n}" for n in ev.notes])


SPEC_FLAGS = {"tokens": "--spec-tokens", "acceptance": "--spec-acceptance", "draft_model": "--spec-draft",
              "head_cost": "--spec-head-cost"}


def _spec_rows(ev: Evaluation) -> list[tuple[str, str]]:
    """Speculative decoding: tokens per step, and the figure with vs without it on the same layout and targets."""
    draft = (f"draft {ev.spec_draft_model}" if ev.spec_draft_model
             else f"heads at {ev.spec_head_cost:g} of a step per token")
    x, x0 = ev.tokens_per_s_per_replica, ev.no_spec_tokens_per_s_per_replica
    if math.isfinite(x0) and x0 > 0:
        verdict = (f"{'helps' if x > x0 else 'does not help'}: {x:,.0f} vs {x0:,.0f} tokens/s per replica without "
                   f"(x{x / x0:.2f}), TPOT {ev.tpot_ms:,.2f} vs {ev.no_spec_tpot_ms:,.2f} ms")
    else:
        verdict = f"helps: {x:,.0f} tokens/s per replica; without it no batch meets the targets on this layout"
    return [("speculation", f"k={ev.spec_tokens}, acceptance {ev.spec_acceptance:g}, {draft}: "
                            f"{ev.spec_expected_tokens:.2f} tokens per step (expected)"),
            ("vs no speculation", verdict),
            ("", "model only: a speculative question is never answered from a measurement (none records "
                 "speculation), and speculation is not calibrated")]


def _layout_label(ev: Evaluation) -> str:
    """TP/PP/EP and the attention mode: "TP8 PP1 EP8, attention DP8 (DEP8)" or "TP8 PP1 EP8, attention TP8"."""
    base = f"TP{ev.tp} PP{ev.pp} EP{ev.ep}"
    if ev.dp > 1:
        short = f" (DEP{ev.tp})" if ev.dp == ev.tp and ev.ep == ev.tp else ""
        return f"{base}, attention DP{ev.dp} x TP{ev.tp // ev.dp}{short}"
    return base + (f", attention TP{ev.tp} (TEP{ev.tp})" if ev.ep == ev.tp > 1 else "")


def _source_line(ev: Evaluation) -> str:
    conc = "" if ev.concurrency is None else f" at concurrency {ev.concurrency:g}"
    if ev.perf_source == "measured":
        return f"measured ({ev.engine}{conc})"
    band = (f"; P10-P90 {ev.tokens_per_s_p10 * ev.replicas:,.0f}-{ev.tokens_per_s_p90 * ev.replicas:,.0f} tokens/s"
            if math.isfinite(ev.tokens_per_s_p10) else "")
    what = "raw model (tuned submission)" if ev.perf_source == "model" else f"model x {ev.factor:.3f} ({ev.factor_level})"
    return f"{what}, engine {ev.engine}{conc}{band}" + ("; extrapolated" if ev.extrapolated else "")


def _user_points(args: argparse.Namespace, engine: str, models: Any = None, chips: Any = None) -> list[MeasuredPoint]:
    """Points of --measurements; raises ValueError naming the file and what is wrong (a CSV row's model or chip the
    catalogs lack, located at its cell)."""
    out: list[MeasuredPoint] = []
    from planner.io.safe_read import file_kind

    for path in args.measurements or []:
        if not path.is_file():  # a FIFO would block the read forever; a folder or a typo gets its own words
            raise ValueError(f"--measurements {path}: " + (f"is {file_kind(path)}, not a file" if path.exists()
                                                           else "file not found"))
        try:
            if path.suffix.lower() == ".json":
                if args.tp is None:
                    raise ValueError(f"--measurements {path}: a benchmark JSON does not say its layout; give --tp (and --pp)")
                out.append(read_vllm_json(path, args.model, args.chip, args.precision, args.tp, engine, args.pp or 1, args.ep))
            else:
                out += read_plain_csv(path, models, chips)
        except UnicodeDecodeError as exc:
            raise ValueError(f"--measurements {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if len(out) > MAX_USER_POINTS:  # the files together (fitting costs about 1 ms per point)
        raise ValueError(f"--measurements: {len(out):,} measured points in all; at most {MAX_USER_POINTS:,} (fitting "
                         "costs about 1 ms per point): keep the runs that matter")
    return out


def _fit_report(pr: Predictor) -> str:
    rep = pr.report
    fac = rep.get("factors", {})
    lines = ["fit: " + str(rep.get("method", "")),
             "  factors (engine|family): " + ", ".join(f"{k} {v:.3f}" for k, v in fac.get("engine_x_family", {}).items()),
             "  factors (engine): " + ", ".join(f"{k} {v:.3f}" for k, v in fac.get("engine", {}).items())
             + f"; pooled {fac.get('pooled', 1.0):.3f}"]
    costs = pr.costs
    if costs.by_engine:
        lines.append(f"  engine costs ({costs.source}; planner.perf.engine_costs), FP4 compute ratio "
                     f"{costs.fp4_compute_ratio:g}:")
        for e, c in sorted(costs.by_engine.items()):
            lines.append(f"    {e}: " + ", ".join(f"{k} {v:g}" for k, v in vars(c).items()))
    if rep.get("user_factor_groups"):
        lines.append("  factors set by your measurements: "
                     + ", ".join(f"{k} {v:.3f}" for k, v in rep["user_factor_groups"].items()))
    user = [r for r in rep.get("rows", []) if r["origin"] == "user"]
    if user:
        lines.append("  your measurements (tokens/s per chip): measured / raw model / corrected, error of the corrected")
    for r in user:
        err = r["corrected_error_pct"]
        lines.append(f"    {r['id']}: {r['model']} {r['chip']} {r['precision']} TP{r['tp']} {r['engine']} "
                     f"c={r['concurrency']}: {r['measured_tokens_per_s_per_chip']:,.1f} / "
                     f"{r['raw_tokens_per_s_per_chip'] or float('nan'):,.1f} / {r['corrected_tokens_per_s_per_chip'] or float('nan'):,.1f}"
                     + ("" if err is None else f" ({err:+.1f} %)"))
    return "\n".join(lines)


def _attention_dp_note(tep: Evaluation, dep_layout: Layout, run: Callable[[Layout], Evaluation]) -> Evaluation:
    """With --tp/--ep given and no --dp: the figure is TP attention (what the measurements the model is fitted on
    ran, but one); attention DP = TP is evaluated too and named in a note as modelled, not calibrated."""
    dep = run(dep_layout)
    x = dep.throughput_tokens_per_s
    dep_txt = f"{x:,.0f} output tokens/s" if math.isfinite(x) and dep.meets_targets else (
        "does not meet the targets" if dep.fits else "does not fit")
    note = (f"no --dp given: TP attention ({_layout_label(tep)}); attention DP ({_layout_label(dep)}) {dep_txt} on "
            f"the model, which is not calibrated for attention DP (one bundled measurement); pass --dp {dep_layout.dp} "
            "to use it")
    return replace(tep, notes=[*tep.notes, note])


def run_perf(args: argparse.Namespace) -> int:
    """Run `planner perf`; returns the exit code and never raises for bad input."""
    from planner.io.cli_flags import perf_flag_problem

    problem = perf_flag_problem(args) or _check_numbers(args)
    if problem:
        _err(problem)
        return EXIT_BAD_INPUT
    try:
        from planner.catalog import load_chip_catalog, load_model_catalog

        chips = load_chip_catalog(args.chip_catalog) if args.chip_catalog else load_chip_catalog()
        models = load_model_catalog(args.model_catalog) if args.model_catalog else load_model_catalog()
        calibration = load_calibration(args.calibration)
        engine = normalise_engine(args.engine)
        predictor = build_predictor(calibration, _user_points(args, engine, models, chips), 0.5, models, chips)
    except InputError as exc:
        _err(exc.report())
        return EXIT_BAD_INPUT
    except (ValueError, OSError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    if args.model not in models:
        _err(_unknown("model", args.model, list(models)))
        return EXIT_BAD_INPUT
    if args.chip not in chips:
        _err(_unknown("chip", args.chip, list(chips)))
        return EXIT_BAD_INPUT
    model, chip = models[args.model], chips[args.chip]
    bad_spec = speculation_problem(args.spec_tokens, args.spec_acceptance, args.spec_draft, args.spec_head_cost, model,
                                   models, SPEC_FLAGS)
    if bad_spec:
        _err(bad_spec)
        return EXIT_BAD_INPUT
    spec = None if args.spec_tokens is None else Speculation(
        args.spec_tokens, args.spec_acceptance, args.spec_draft, args.spec_head_cost,
        models[args.spec_draft] if args.spec_draft else None)
    if compute_precision(chip, args.precision) is None:
        _err(f"{chip.chip_id} cannot run {args.precision} weights: it has no {args.precision} compute and no wider "
             f"precision to dequantize into (supports {', '.join(chip.supported_precisions())})")
        return EXIT_BAD_INPUT
    kv = args.kv_precision or DEFAULT_KV_PRECISION[args.precision]
    shape = RequestShape(args.prompt_tokens, args.output_tokens, args.length_cv)
    targets = Targets((args.ttft_ms or math.inf) / 1e3, (args.tpot_ms or math.inf) / 1e3, args.percentile)
    kw = {"electricity_usd_per_kwh": args.electricity_usd_per_kwh, "pue": args.pue}
    how = {"predictor": predictor, "engine": engine, "spec": spec, "requests": DEFAULT_BURST_REQUESTS if args.requests is None else args.requests}
    if args.tp is not None or args.pp is not None:
        layout = Layout(args.tp or 1, args.pp or 1, args.ep, args.dp or 1)
        bad = layout_problem(model, chip, layout)
        if bad:
            _err(bad)
            return EXIT_BAD_INPUT
        if args.chips % layout.chips:
            _err(f"--chips {args.chips} is not a multiple of TP x PP = {layout.chips}")
            return EXIT_BAD_INPUT
        conc = None if args.concurrency is None else args.concurrency / (args.chips // layout.chips)
        ev: Evaluation | None = evaluate(model, chip, args.chips, args.precision, kv, layout, shape, targets,
                                         calibration, args.batch, concurrency=conc, **how, **kw)  # type: ignore[arg-type]
        if args.dp is None and model.moe is not None and layout.ep > 1 and layout.tp > 1:
            ev = _attention_dp_note(ev, replace(layout, dp=layout.tp), lambda lay: evaluate(
                model, chip, args.chips, args.precision, kv, lay, shape, targets, calibration, args.batch,
                concurrency=conc, **how, **kw))  # type: ignore[arg-type]
    else:
        ev = best_evaluation(model, chip, args.chips, args.precision, kv, shape, targets, calibration, args.batch,
                             system_concurrency=args.concurrency, **how, **kw)  # type: ignore[arg-type]
        if ev is None and args.batch:  # the model fits; the running batch asked for does not (engine cap or memory)
            free = best_evaluation(model, chip, args.chips, args.precision, kv, shape, targets, calibration, None,
                                   system_concurrency=args.concurrency, **how, **kw)  # type: ignore[arg-type]
            if free is not None:
                cap = ENGINE_BATCH_CAP.get(engine)
                _err(f"--batch {args.batch} is more than one replica runs on {args.chips} x {chip.chip_id}: at most "
                     f"{free.max_batch} requests of {free.memory['admission_context_tokens']:.0f} tokens fit in its best "
                     f"layout {_layout_label(free)} (memory" + (f", and the {engine} engine's running-batch limit of "
                                                                 f"{cap:.0f}" if cap else "")
                     + f"); give --batch {free.max_batch} or less, or leave it out")
                return EXIT_BAD_INPUT
        if ev is None:
            widest = Layout(tp=min(tp_limit(model, chip), args.chips), pp=1)
            mf = memory_fit(model, chip, args.precision, kv, widest, shape.full_context)
            _err(f"{model.model_id} in {args.precision} does not fit on {args.chips} x {chip.chip_id} in any allowed "
                 f"layout (largest TP in one domain: {widest}; {mf.explain()}). Use more chips or a smaller precision.")
            return EXIT_BAD_INPUT
    assert ev is not None
    if args.json:
        print(json.dumps(ev.to_dict(), indent=1))
    if not ev.fits:
        _err(f"layout {_layout_label(ev)} does not fit: " + "; ".join(ev.notes)
             + (f" (or --batch {args.batch} exceeds the {ev.max_batch} that fit)" if args.batch else ""))
        return EXIT_BAD_INPUT
    if not ev.meets_targets:
        t = lambda v: "none" if v is None else f"{v:g} ms"  # noqa: E731
        _err(f"no batch meets the targets (TTFT {t(args.ttft_ms)}, TPOT {t(args.tpot_ms)} at p{args.percentile:g}) "
             f"on {chip.chip_id} in {args.precision} with TP{ev.tp} PP{ev.pp}: one request alone takes TTFT "
             f"{ev.prefill_ms_batch1:.1f} ms and TPOT {ev.tpot_ms_batch1:.2f} ms")
        return EXIT_INFEASIBLE
    if not args.json:
        print(_table(ev))
    if args.fit_report:
        print(_fit_report(predictor), file=sys.stderr if args.json else sys.stdout)
    if args.plot:
        from planner.perf.plot import plot_roofline

        try:
            plot_roofline(model, chip, args.precision, kv, ev.layout, shape, ev.batch or 1,
                          calibration, args.plot)
        except OSError as exc:
            _err(f"cannot write {args.plot}: {exc}")
            return EXIT_BAD_INPUT
    return EXIT_OK
