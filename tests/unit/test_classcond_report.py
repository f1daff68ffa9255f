"""Table and claim builders of the class-conditional stage on small hand-made metric dicts."""

from __future__ import annotations

import pandas as pd
import pytest

from rdm_core.eval.preference import win_rate
from rdm_core.report import classcond as cc
from rdm_core.report.verify import CLAIMS, classcond_view_paper

import torch

ORDER = ["a", "b", "h"]          # h is held out
HELD = ["h"]


def ev(a, b, h, agree=0.9, mmd=None):
    sw = {"a": a, "b": b, "h": h}
    return {"sw_ratios": sw, "mmd_ratios": mmd or {k: 2 * v for k, v in sw.items()}, "class_agreement": agree}


EVALS = {"real": ev(1, 1, 1, 0.98, {"a": 1, "b": 1, "h": 1}), "irdm": ev(1.2, 1.3, 1.5),
         "warmstart": ev(2.0, 2.2, 2.4), "flow_nfe1": ev(5.0, 6.0, 7.0), "flow_nfe4": ev(1.8, 1.9, 2.0),
         "single": ev(1.1, 2.5, 2.6), "uniform": ev(1.3, 1.4, 1.6), "gaming": ev(2.1, 0.8, 3.0),
         "batch_n128": ev(1.5, 1.5, 1.6), "batch_n256": ev(1.4, 1.4, 1.5), "batch_n512": ev(1.3, 1.35, 1.4)}
ENC = {"irdm": ["a", "b"], "uniform": ["a", "b"], "single": ["a"], "gaming": ["b"]}


def test_table1_sorted_starred_and_extra_columns():
    df = cc.ratio_table(EVALS, ["real", "irdm", "warmstart", "flow_nfe1", "flow_nfe4", "single"], ORDER, HELD,
                        "sw", ENC)
    assert list(df.columns) == ["model", "generator", "NFE", "a", "b", "h*", "SW_r3", "SW_r held-out",
                                "class agreement"]
    assert list(df["generator"]) == ["real", "irdm", "flow_nfe4", "single", "warmstart", "flow_nfe1"]
    assert df.loc[0, "SW_r3"] == pytest.approx(1.0)
    assert df.set_index("generator").loc["irdm", "SW_r held-out"] == pytest.approx(1.5)
    assert df.set_index("generator").loc["flow_nfe4", "NFE"] == "4"
    t7 = cc.ratio_table(EVALS, ["real", "irdm"], ORDER, HELD, "mmd", ENC)
    assert "MMDr3" in t7.columns and t7.loc[1, "MMDr3"] == pytest.approx(2 * (1.2 + 1.3 + 1.5) / 3)


def test_table3_and_table6():
    t3 = cc.table3(EVALS, {"PID": "irdm", "uniform": "uniform"}, ORDER, HELD, ["a", "b"])
    assert list(t3["weighting"]) == ["PID", "uniform"] and t3.loc[0, "SW_r trained"] == pytest.approx(1.25)
    sweep = [{"arm": f"batch_n{n}", "N": n, "steps": 51200 // n, "lr": 1e-3, "budget": "51200 samples seen"}
             for n in (512, 128, 256)]
    t6 = cc.table6(EVALS, sweep, "a", ORDER, HELD)
    assert list(t6["N"]) == [128, 256, 512] and set(t6["samples seen"]) == {51200}
    assert set(t6["budget"]) == {"51200 samples seen"}
    assert list(t6["SW ratio a (trained)"]) == [1.5, 1.4, 1.3] and list(t6["lr x1e3"]) == [1.0, 1.0, 1.0]


def _view(**over):
    t1 = cc.ratio_table(EVALS, ["real", "irdm", "warmstart", "flow_nfe4", "single"], ORDER, HELD, "sw", ENC)
    game = cc.gaming_table(EVALS, ["warmstart", "irdm", "gaming"], ["b"], ORDER, HELD, ENC).set_index("generator")
    view = {"real": "real", "sw": dict(zip(t1["generator"], t1["SW_r3"])), "gating": {"irdm": 1.33, "uniform": 1.43},
            "batch": {128: 1.53, 256: 1.43, 512: 1.35}, "gaming": game,
            "preference": {"warmstart": 0.7, "real": 0.4, "flow_best": 0.6}}
    view.update(over)
    return view


def check(cid, view):
    """True for holds, False for fails (these views are exact: one seed, no spread)."""
    verdict = CLAIMS[cid].check(view, {})[0]
    assert verdict in ("holds", "fails"), (cid, verdict)
    return verdict == "holds"


def test_claims_hold_on_good_numbers():
    v = _view()
    for cid in ("irdm_lowest_sw", "pid_not_worse_than_uniform", "batch_interior_or_monotone",
                "gaming_below_one_trained_only", "gaming_trained_improves_most", "gaming_beats_irdm_on_gamed_only",
                "irdm_preferred_over_warmstart"):
        assert check(cid, v), cid
    assert not check("irdm_preferred_over_real", v)


def test_claims_fail_on_bad_numbers():
    assert not check("irdm_lowest_sw", _view(sw={"real": 1.0, "irdm": 2.0, "warmstart": 1.5}))
    assert not check("pid_not_worse_than_uniform", _view(gating={"irdm": 1.6, "uniform": 1.4}))
    assert not check("batch_interior_or_monotone", _view(batch={128: 1.2, 256: 1.4, 512: 1.5}))
    assert not check("batch_interior_or_monotone", _view(batch={128: 1.5, 256: 1.2, 512: 1.6, 1024: 1.1}))
    assert check("batch_interior_or_monotone", _view(batch={128: 1.5, 256: 1.2, 512: 1.6}))
    evidence = CLAIMS["batch_interior_or_monotone"].check(_view(batch_budget="6000 s wall-clock"), {})[1]
    assert evidence.startswith("matched on 6000 s wall-clock; ")  # VERIFY names the budget of the sweep
    bad = dict(EVALS, gaming=ev(0.9, 0.8, 3.0))  # two encoders below 1
    game = cc.gaming_table(bad, ["warmstart", "irdm", "gaming"], ["b"], ORDER, HELD, ENC).set_index("generator")
    assert not check("gaming_below_one_trained_only", _view(gaming=game))
    above = dict(EVALS, gaming=ev(2.1, 1.2, 1.4))  # no drop below 1, held-out better than iRDM
    game = cc.gaming_table(above, ["warmstart", "irdm", "gaming"], ["b"], ORDER, HELD, ENC).set_index("generator")
    assert not check("gaming_below_one_trained_only", _view(gaming=game))
    text = CLAIMS["gaming_below_one_trained_only"].check(_view(gaming=game), {})[1]
    assert "b: warm start 2.200 -> 1.200, 83% of the way to 1.00 (fails below 1.00)" in text   # (2.2 - 1.2) / 1.2
    assert "why it stops short" in text
    assert "why" not in CLAIMS["gaming_below_one_trained_only"].check(_view(), {})[1]
    assert not check("gaming_trained_improves_most", _view(gaming=game))
    assert not check("gaming_beats_irdm_on_gamed_only", _view(gaming=game))
    assert not check("irdm_preferred_over_warmstart", _view(preference={"warmstart": 0.45, "real": 0.3}))


def test_paper_view_reads_published_numbers():
    numbers = {"table1": {"sw_r14": {"real": 1.0, "irdm": 1.30, "warmstart": 2.05, "RAE-XL": 2.43}},
               "fig6": {"win_rate": {"warmstart": 0.712, "real": 0.636}}}
    v = classcond_view_paper(numbers)
    assert check("irdm_lowest_sw", v) and check("irdm_preferred_over_warmstart", v)
    assert check("irdm_preferred_over_real", v)


def test_win_rate_counts_ties_half():
    r = win_rate(torch.tensor([1.0, 2.0, 3.0, 0.0]), torch.tensor([0.0, 2.0, 4.0, -1.0]))
    assert r["win_rate"] == pytest.approx(2.5 / 4) and r["ties"] == 1 and r["pairs"] == 4


def test_preference_table_and_names():
    recs = [{"player": "irdm", "opponent": "flow_nfe4", "win_rate": 0.6, "stderr": 0.01, "pairs": 10,
             "mean_score_a": -0.1, "mean_score_b": -0.3}]
    df = cc.preference_table(recs, ENC)
    assert df.loc[0, "opponent"] == "flow matching, NFE=4" and df.loc[0, "opponent id"] == "flow_nfe4"
    assert isinstance(df, pd.DataFrame)
