"""Smoke test of the benchmark harness (benchmarks/): every case runs end to end on tiny
sizes and produces a table, targets and JSON. Nothing here asserts a timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("rockpool")

from benchmarks import conv, ensemble, lif, parse, run, scaling, seed, startup  # noqa: E402

TINY = run.Config(
    mlp=seed.SeedConfig(channels_in=16, hidden=4, length=20, steps=6, rockpool_repeats=1,
                        fused_repeats=1, fit=True),
    rate=seed.SeedConfig(channels_in=16, hidden=8, length=20, steps=6, rockpool_repeats=1,
                         fused_repeats=1, fit=False),
    lif=lif.LIFConfig(sizes=(16,), length=20, batch=2, repeats=1),
    scaling=scaling.ScalingConfig(lengths=(20, 40), mem_length=40, remat=10, repeats=1,
                                  compile_repeats=1,
                                  rate_spec=lif.spec_text(8).replace("lif", "rate"),
                                  rec_size=8, rec_in=4, memory_specs=("recurrent",)),
    parse=parse.ParseConfig(layers=20, repeats=1, chain_nodes=30),
    conv=conv.ConvConfig(length=3, batch=1, repeats=1),
    startup=startup.StartupConfig(epochs=1, channels_in=8, hidden=4, length=10,
                                  check_repeats=1, plots=False),
    # the sweep kind runs the ensemble's code path with per-model learning rates
    ensemble=ensemble.EnsembleConfig(cases=(("mlp-sweep", 2),), steps=3, repeats=1,
                                     channels_in=8, length=10),
    name="tiny",
)


def test_harness_runs_every_case(tmp_path: Path) -> None:
    res = run.run(run.CASES, TINY, log=lambda s: None, keep_going=False)
    assert not res.errors
    cases = {r.case for r in res.rows}
    assert {"mlp", "rate", "lif N=16", "scaling compile", "scaling memory T=40",
            "parse 20 layers", "graph 30-node chain bottom-up", startup.CASE} <= cases
    assert {r.impl for r in res.rows if r.case == startup.CASE} == {
        "rpgraph cold cache", "rpgraph warm cache", "rockpool"}
    assert res.find("startup: chunk programs per run", "rpgraph").value == 1  # type: ignore[union-attr]
    assert res.find("ensemble mlp-sweep K=2", "rpgraph ensemble") is not None
    assert res.find("lif N=16", "rpgraph bf16") is not None
    for kind in ("mlp", "rate"):
        impls = {r.impl for r in res.rows if r.case == kind}
        assert {"rockpool", "hand-written", "rpgraph"} <= impls
        # all three train the same network from the same start: the losses agree
        row = res.find(kind, "rpgraph")
        assert row is not None and row.value is not None and row.value > 0
        assert row.extra["loss_rel_diff"]["rpgraph_vs_rockpool"] < 1e-2
        assert row.extra["loss_rel_diff"]["handwritten_vs_rockpool"] < 1e-2
    assert res.find("mlp", "rpgraph fit()") is not None
    spyx = res.find("lif N=16", "spyx")
    assert spyx is not None and (spyx.value is not None or spyx.note.startswith("n/a"))

    text = run.report(res, TINY)
    assert "targets:" in text and "x Rockpool" in text
    conv_row = res.find("conv SNN T=3 B=1", "rpgraph")
    assert conv_row is not None and conv_row.extra["loss_rel_diff"] < 1e-5
    assert len(run.targets(res, TINY)) == 21
    out = tmp_path / "r.json"
    out.write_text(json.dumps(run.to_json(res, TINY), default=str), encoding="utf-8")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["machine"]["cpu_count"] and data["machine"]["jax_backend"]
    assert len(data["rows"]) == len(res.rows)


def test_cli_rejects_unknown_case() -> None:
    with pytest.raises(SystemExit):
        run.main(["--cases", "nope"])
