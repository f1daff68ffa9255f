"""Noise-aware verdicts: the spread arithmetic against slow references, the three-valued rule, and VERIFY's views
reading replicate seeds from a hand-made results folder."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest

from rdm_core.report import noise as nz
from rdm_core.report.verify import CLAIMS, ClassRuns, build_verify, spread_rows, t2i_view_ours, toy_view_ours

K = 2.0


def test_measured_mean_sd_se_match_statistics():
    vals = (0.031, 0.027, 0.0295)
    q = nz.Measured(vals)
    assert q.mean == pytest.approx(statistics.fmean(vals), abs=1e-15)
    assert q.sd == pytest.approx(statistics.stdev(vals), abs=1e-15)
    assert q.se == pytest.approx(statistics.stdev(vals) / math.sqrt(3), abs=1e-15)
    one = nz.Measured((0.03,), borrowed_sd=0.004)
    assert one.sd == 0.004 and one.se == 0.004 and one.fmt() == "0.030 ±~0.004"
    assert nz.Measured((0.03,)).se == 0.0 and nz.Measured((0.03,)).fmt() == "0.030"
    assert q.fmt() == f"{q.mean:.3f} ± {q.sd:.3f} (3 seeds)"
    assert one.scaled(-2.0).values == (-0.06,) and one.scaled(-2.0).borrowed_sd == pytest.approx(0.008)
    with pytest.raises(ValueError):
        nz.Measured(())


def test_pooled_sd_matches_a_loop():
    groups = [(1.0, 1.2, 0.9), (2.0, 2.5), (7.0,)]
    num = den = 0.0
    for g in groups:
        if len(g) > 1:
            m = sum(g) / len(g)
            num += sum((x - m) ** 2 for x in g)
            den += len(g) - 1
    assert nz.pooled_sd(nz.Measured(g) for g in groups) == pytest.approx(math.sqrt(num / den), abs=1e-15)
    assert nz.pooled_sd([nz.Measured((1.0,))]) is None


def test_at_most_three_valued_band():
    a = nz.Measured((1.0, 1.1, 0.9))          # mean 1.0, se 0.1 / sqrt(3)
    se = math.hypot(0.1 / math.sqrt(3), 0.1 / math.sqrt(3))
    just_in = nz.Measured(tuple(v + K * se * 0.99 for v in (1.0, 1.1, 0.9)))
    just_out = nz.Measured(tuple(v + K * se * 1.01 for v in (1.0, 1.1, 0.9)))
    assert nz.at_most(a, just_in, K) == nz.NOISE and nz.at_most(just_in, a, K) == nz.NOISE
    assert nz.at_most(a, just_out, K) == nz.HOLDS and nz.at_most(just_out, a, K) == nz.FAILS
    assert nz.at_most(a, 1.0, K, tol=0.5) == nz.HOLDS          # margin 0.5 >> 2 se of a alone
    assert nz.at_most(1.0, 1.0, K) == nz.HOLDS and nz.at_most(1.01, 1.0, K) == nz.FAILS   # exact: sign, ties hold
    assert nz.at_most(just_out, a, None) == nz.FAILS           # no noise model: sign of the margin
    # a borrowed spread counts as one seed's s.d.
    assert nz.at_most(nz.Measured((1.0,), 0.1), 1.15, K) == nz.NOISE
    assert nz.at_most(nz.Measured((1.0,), 0.1), 1.25, K) == nz.HOLDS


def test_kleene_combinations():
    H, F, N = nz.HOLDS, nz.FAILS, nz.NOISE
    assert nz.all_of([H, H]) == H and nz.all_of([H, N]) == N and nz.all_of([N, F]) == F
    assert nz.any_of([F, F]) == F and nz.any_of([F, N]) == N and nz.any_of([N, H]) == H
    assert [nz.negate(v) for v in (H, F, N)] == [F, H, N]
    assert nz.lowest({"a": 1.0, "b": 2.0, "c": 1.5}, "a", K) == H
    assert nz.non_increasing([3.0, 2.0, 2.004], K, tol=0.005) == H
    assert nz.non_increasing([3.0, 2.0, 2.1], K, tol=0.005) == F


# ------------------------------------------------------------------------------------- views over seeds
ARMS = ["frechet", "sw", "drifting", "mmd_rff", "mmd_exact", "mmd_nystrom"]
PRIMARY = {"frechet": 0.35, "sw": 0.14, "drifting": 0.48, "mmd_rff": 0.11, "mmd_exact": 0.027, "mmd_nystrom": 0.029}


def toy_results(root: Path, seeds: dict[str, list[float]]) -> dict:
    """fig3 CSV at B = 8 and 128 (primary seed) and replicate JSONs of the B = 128 row; returns the noise setting."""
    (root / "tables").mkdir(parents=True)
    rows = [{"distance": d, "batch": b, "recall": 0.0 if d == "drifting" else 1.0, "med_dist": m * (3 if b == 8 else 1)}
            for d, m in PRIMARY.items() for b in (8, 128)]
    pd.DataFrame(rows).to_csv(root / "tables" / "fig3_spiral.csv", index=False)
    (root / "metrics" / "toy" / "seeds").mkdir(parents=True)
    (root / "metrics" / "toy" / "real_floor.json").write_text(json.dumps({"med_dist": 0.034}))
    for i, s in enumerate((43, 44)):
        for d in ARMS:
            med = seeds.get(d, [PRIMARY[d]] * 2)[i]
            (root / "metrics" / "toy" / "seeds" / f"{d}_B128_seed{s}.json").write_text(
                json.dumps({"recall": 0.0 if d == "drifting" else 1.0, "med_dist": med}))
    return {"k": K, "toy": {"distances": ARMS, "batch": 128, "seeds": [43, 44]}, "classcond": {"gens": [], "seeds": []},
            "t2i": {"laws": [], "seeds": []}}


def test_toy_view_reads_seeds_and_borrows_the_spread(tmp_path):
    noise = toy_results(tmp_path, {"mmd_nystrom": [0.031, 0.027], "mmd_exact": [0.030, 0.026]})
    v = toy_view_ours(tmp_path, noise)
    ny = v["cells"]["mmd_nystrom", 128]["med_dist"]
    assert ny.values == (0.029, 0.031, 0.027) and ny.sd == pytest.approx(0.002)
    b8 = v["cells"]["mmd_nystrom", 8]["med_dist"]
    assert b8.values == (0.087,) and b8.borrowed_sd == pytest.approx(ny.sd)   # borrowed from its B = 128 cell
    assert v["cells"]["sw", 8]["med_dist"].borrowed_sd == 0.0                  # sw's replicates agree exactly
    # exact 0.0277 vs Nystrom 0.029, s.d. 0.002 each over 3 seeds: within noise, not "fails"
    verdict, text = CLAIMS["table4_exact_not_better"].check(v, {})
    assert verdict == nz.NOISE and "(3 seeds)" in text
    assert CLAIMS["table4_nystrom_first"].check(v, {})[0] == nz.NOISE


def test_toy_cells_outside_the_replicated_ones_borrow_the_pooled_relative_spread(tmp_path):
    noise = toy_results(tmp_path, {"mmd_nystrom": [0.031, 0.027], "mmd_exact": [0.030, 0.026]})
    noise["toy"]["distances"] = ["mmd_exact", "mmd_nystrom"]
    v = toy_view_ours(tmp_path, noise)
    num = den = 0.0                                  # pooled s.d. of value / mean over the two replicated cells
    for vals in ((0.027, 0.030, 0.026), (0.029, 0.031, 0.027)):
        m = sum(vals) / 3
        num += sum((x / m - 1.0) ** 2 for x in vals)
        den += 2
    rel = math.sqrt(num / den)
    sw = v["cells"]["sw", 128]["med_dist"]
    assert sw.values == (0.14,) and sw.borrowed_sd == pytest.approx(rel * 0.14, rel=1e-12)
    assert v["cells"]["sw", 8]["med_dist"].borrowed_sd == pytest.approx(rel * 0.42, rel=1e-12)
    assert v["cells"]["mmd_exact", 8]["med_dist"].borrowed_sd == pytest.approx(statistics.stdev((0.027, 0.030, 0.026)))
    assert v["cells"]["drifting", 128]["recall"].borrowed_sd == 0.0   # recall 1.0 at every replicated seed
    assert toy_view_ours(tmp_path, noise | {"toy": noise["toy"] | {"seeds": []}})["cells"]["sw", 128]["med_dist"].sd is None


def test_t2i_claims_compare_through_the_rule():
    v = {"geneval": {"student_joint": 0.07, "teacher_nfe4": 0.065, "student_marginal": 0.07},
         "pickscore": {"student_joint": 2.08, "teacher_nfe4": 4.59}, "k": K}
    verdict, text = CLAIMS["t2i_student_passes_teacher"].check(v, {})
    assert verdict == nz.FAILS and "(holds)" in text and "(fails)" in text    # GenEval above, PickScore below
    v["geneval"]["student_joint"] = nz.Measured((0.07, 0.06, 0.08))
    v["pickscore"]["student_joint"] = nz.Measured((4.7, 4.6, 4.8))
    assert CLAIMS["t2i_student_passes_teacher"].check(v, {})[0] == nz.NOISE  # 0.005 above at se 0.006
    assert CLAIMS["t2i_joint_beats_marginal"].check(v, {})[0] == nz.NOISE
    assert CLAIMS["t2i_joint_beats_marginal"].check({"geneval": {"student_joint": 0.06, "student_marginal": 0.07}},
                                                    {})[0] == nz.FAILS


def test_t2i_view_reads_the_students_seeds(tmp_path):
    """Table 2's students measured over their replicate seeds (primary from metrics/t2i, the rest from seeds/);
    the teacher is one run with the students' pooled s.d.; the spread table lists each student's seeds."""
    (tmp_path / "tables").mkdir()
    (tmp_path / "metrics" / "t2i" / "seeds").mkdir(parents=True)
    pd.DataFrame({"id": ["teacher_nfe4", "student_joint", "student_marginal"], "GenEval": [0.49, 0.56, 0.53],
                  "PickScore": [9.6, 9.97, 9.96]}).to_csv(tmp_path / "tables" / "table2_t2i.csv", index=False)
    runs = {"student_joint": [(0.56, 9.97), (0.57, 10.1), (0.58, 10.0)],
            "student_marginal": [(0.53, 9.96), (0.50, 9.9), (0.51, 9.8)]}
    for model, vals in runs.items():
        for s, (g, p) in zip((None, 1, 2), vals):
            path = tmp_path / "metrics" / "t2i" / (f"{model}.json" if s is None else f"seeds/{model}_seed{s}.json")
            path.write_text(json.dumps({"geneval": {"overall": g}, "pickscore": p}))
    noise = {"k": K, "toy": {"seeds": []}, "classcond": {"gens": [], "seeds": []},
             "t2i": {"laws": ["joint", "marginal"], "seeds": [1, 2]}}
    v = t2i_view_ours(tmp_path, noise)
    joint, marginal = v["geneval"]["student_joint"], v["geneval"]["student_marginal"]
    assert joint.values == (0.56, 0.57, 0.58) and marginal.values == (0.53, 0.50, 0.51)
    assert v["pickscore"]["student_marginal"].values == (9.96, 9.9, 9.8)
    teacher = v["geneval"]["teacher_nfe4"]   # one run: it borrows the students' pooled s.d.
    pooled = math.sqrt((statistics.variance(joint.values) + statistics.variance(marginal.values)) / 2)
    assert teacher.values == (0.49,) and teacher.sd == pytest.approx(pooled) and teacher.se == teacher.sd
    assert v["pickscore"]["teacher_nfe4"].sd == pytest.approx(math.sqrt(
        (statistics.variance([9.97, 10.1, 10.0]) + statistics.variance([9.96, 9.9, 9.8])) / 2))
    se = math.hypot(statistics.stdev(joint.values), statistics.stdev(marginal.values)) / math.sqrt(3)
    margin = statistics.mean(joint.values) - statistics.mean(marginal.values)
    expected = nz.HOLDS if margin > K * se else nz.FAILS if margin < -K * se else nz.NOISE
    assert CLAIMS["t2i_joint_beats_marginal"].check(v, {})[0] == expected == nz.HOLDS   # 0.057 apart, se 0.011
    table = spread_rows(tmp_path, {}, noise)
    assert list(table["run"]) == ["text-to-image joint student"] * 2 + ["text-to-image marginal student"] * 2
    assert table["per seed"].iloc[0] == "0.560, 0.570, 0.580"
    assert "3 seeds" in v["note"]
    v["geneval"]["student_joint"] = nz.Measured((0.53, 0.52, 0.51))                     # 0.003 apart: unresolved
    assert CLAIMS["t2i_joint_beats_marginal"].check(v, {})[0] == nz.NOISE


def test_t2i_joint_beats_marginal_is_na_without_a_marginal_student():
    """use_released: Table 2 has the released joint student and no marginal arm, so the claim is n/a (not run),
    not 'not computable'; a missing joint student is still an error."""
    from rdm_core.report.verify import _fmt, _verdict
    check = CLAIMS["t2i_joint_beats_marginal"].check
    released = {"geneval": {"student_joint": 0.82, "teacher_nfe4": 0.80, "teacher_nfe1": 0.3}, "k": K}
    assert _verdict(check, released, {}) is None and _fmt(_verdict(check, released, {})) == "n/a"
    broken = {"geneval": {"teacher_nfe4": 0.80, "student_marginal": 0.78}, "k": K}
    assert _verdict(check, broken, {})[0] == nz.FAILS and "not computable" in _verdict(check, broken, {})[1]


def test_toy_claim_fails_beyond_noise(tmp_path):
    noise = toy_results(tmp_path, {"mmd_nystrom": [0.0291, 0.0289], "mmd_exact": [0.0201, 0.0199]})
    v = toy_view_ours(tmp_path, noise)
    v["cells"]["mmd_exact", 128]["med_dist"] = nz.Measured((0.020, 0.0201, 0.0199))
    assert CLAIMS["table4_exact_not_better"].check(v, {})[0] == nz.FAILS
    assert CLAIMS["nystrom_sharpest_every_row"].check(v, {})[0] == nz.FAILS


def eval_json(root: Path, gen: str, ratios: dict):
    (root / "metrics" / "eval" / f"{gen}.json").write_text(json.dumps({"sw_ratios": ratios, "mmd_ratios": ratios}))


def test_classcond_runs_pool_the_replicated_arms(tmp_path):
    (tmp_path / "metrics" / "eval").mkdir(parents=True)
    seeds = {"irdm": [2.0, 2.2, 2.1], "uniform": [2.3, 2.5, 2.4]}
    for g, vals in seeds.items():
        for s, v in zip((None, 1, 2), vals):
            eval_json(tmp_path, g if s is None else f"{g}_seed{s}", {"a": v, "b": v})
    eval_json(tmp_path, "warmstart", {"a": 4.0, "b": 5.0})
    runs = ClassRuns(tmp_path, {"classcond": {"gens": ["irdm", "uniform"], "seeds": [1, 2]}})
    q = runs.measure(lambda e: (e["sw_ratios"]["a"] + e["sw_ratios"]["b"]) / 2, ["irdm", "uniform", "warmstart"])
    assert q["irdm"].values == (2.0, 2.2, 2.1) and q["uniform"].mean == pytest.approx(2.4)
    assert q["warmstart"].values == (4.5,) and q["warmstart"].borrowed_sd == pytest.approx(0.1)   # pooled s.d.
    v = {"gating": {"irdm": q["irdm"], "uniform": q["uniform"]}, "k": K}
    assert CLAIMS["pid_not_worse_than_uniform"].check(v, {})[0] == nz.HOLDS   # 0.3 apart, se 0.082
    v["gating"]["irdm"] = nz.Measured((2.3, 2.5, 2.45))
    assert CLAIMS["pid_not_worse_than_uniform"].check(v, {})[0] == nz.NOISE


def test_build_verify_shows_spread_and_three_verdicts(tmp_path):
    noise = toy_results(tmp_path, {"mmd_nystrom": [0.031, 0.027], "mmd_exact": [0.030, 0.026]})
    numbers = {"table4": {"order": ARMS[::-1], "claims": {"table4_exact_not_better": "exact not better",
                                                          "table4_nystrom_first": "Nystrom first"}}}
    page = build_verify(tmp_path, numbers, {"table4": {}}, "mini", noise)
    assert "## Claims (0 holds, 2 within noise, 0 fails" in page
    assert "## Spread: the replicated runs" in page and "0.0290, 0.0310, 0.0270" in page
    assert "k = 2.0 (config `noise_k`)" in page and "3 seeds each" in page
