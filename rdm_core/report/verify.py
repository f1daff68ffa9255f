"""VERIFY: our numbers beside the paper's, and each claim of the paper marked holds or fails.

Claims are small functions over a view of the results; each is evaluated on our results and, where the
paper published the numbers it rests on, on the paper's numbers too, which checks that our reading of
the claim is the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from rdm_core.io import read_json

Verdict = tuple[bool, str]


@dataclass(frozen=True)
class Claim:
    artifact: str
    view: str  # name of the view the check reads (see VIEWS)
    check: Callable[[dict, Mapping], Verdict]  # (view, published numbers) -> verdict


CLAIMS: dict[str, Claim] = {}


def claim(claim_id: str, artifact: str, view: str):
    def deco(fn):
        CLAIMS[claim_id] = Claim(artifact, view, fn)
        return fn
    return deco


# ----------------------------------------------------------------------------------------------- views
def toy_view_ours(results: Path) -> dict:
    """Every toy cell that any artifact used, and the measured real-data floor."""
    tables = [results / "tables" / name for name in ("fig3_spiral.csv", "fig4_batch_lowdim.csv")]
    frames = [pd.read_csv(t) for t in tables if t.exists()]
    cells = pd.concat(frames).drop_duplicates(["distance", "batch"]) if frames else pd.DataFrame()
    floor = read_json(results / "metrics" / "toy" / "real_floor.json")["med_dist"]
    return {"cells": cells, "floor": floor}


def toy_view_paper(numbers: Mapping) -> dict:
    fig3 = numbers["fig3"]
    rows = [{"distance": d, "batch": int(b), "recall": v[0], "med_dist": v[1]}
            for d, by_b in fig3["cells"].items() for b, v in by_b.items()]
    return {"cells": pd.DataFrame(rows), "floor": fig3["floor_med_dist"]}


def probes_view_ours(results: Path) -> dict:
    return read_json(results / "metrics" / "eval" / "probes.json")


def classcond_view_ours(results: Path) -> dict:
    """The class-conditional stage's tables (mini scale): SW_rK / MMDrK by generator id, the gating and batch
    tables, the gaming table and the preference win rates by opponent id."""
    tables = results / "tables"
    t1 = pd.read_csv(tables / "table1_sw.csv")
    sw_col = [c for c in t1.columns if c.startswith("SW_r") and c[4:].isdigit()][0]
    view = {"sw": dict(zip(t1["generator"], t1[sw_col])), "real": "real"}
    if (tables / "table7_mmd.csv").exists():
        t7 = pd.read_csv(tables / "table7_mmd.csv")
        mmd_col = [c for c in t7.columns if c.startswith("MMDr") and c[4:].isdigit()][0]
        view["mmd"] = dict(zip(t7["generator"], t7[mmd_col]))
    if (tables / "table3_gating.csv").exists():
        t3 = pd.read_csv(tables / "table3_gating.csv")
        view["gating"] = dict(zip(t3["generator"], t3[sw_col]))
    if (tables / "table6_batch.csv").exists():
        t6 = pd.read_csv(tables / "table6_batch.csv")
        view["batch"] = dict(zip(t6["N"].astype(int), t6[sw_col]))
        view["batch_budget"] = str(t6["budget"].iloc[0])
    if (tables / "fig5_gaming.csv").exists():
        view["gaming"] = pd.read_csv(tables / "fig5_gaming.csv").set_index("generator")
    if (tables / "fig6_preference.csv").exists():
        t6p = pd.read_csv(tables / "fig6_preference.csv")
        view["preference"] = {("flow_best" if o.startswith("flow_nfe") else o): w
                              for o, w in zip(t6p["opponent id"], t6p["win rate"])}
    return view


def classcond_view_paper(numbers: Mapping) -> dict:
    """The paper's Table 1 / 7 rows and Fig. 6 win rates, keyed like ours (the pMF-H FD-SIM warm start is
    "warmstart"; the multi-step baselines keep their names)."""
    view = {"real": "real"}
    if "table1" in numbers:
        view["sw"] = dict(numbers["table1"]["sw_r14"])
    if "table7" in numbers:
        view["mmd"] = dict(numbers["table7"]["mmd_r14"])
    if "fig6" in numbers:
        view["preference"] = dict(numbers["fig6"]["win_rate"])
    return view


def t2i_view_ours(results: Path) -> dict:
    """Table 2 by model id: GenEval overall and PickScore."""
    t2 = pd.read_csv(results / "tables" / "table2_t2i.csv").set_index("id")
    return {"geneval": t2["GenEval"].to_dict(), "pickscore": t2["PickScore"].dropna().to_dict()}


def t2i_view_paper(numbers: Mapping) -> dict:
    t2 = numbers["table2"]
    return {"geneval": dict(t2["geneval"]), "pickscore": {k: v for k, v in t2["pickscore"].items() if v is not None}}


VIEWS = {"toy": (toy_view_ours, toy_view_paper), "probes": (probes_view_ours, lambda numbers: {}),
         "classcond": (classcond_view_ours, classcond_view_paper), "t2i": (t2i_view_ours, t2i_view_paper)}


def _at(cells: pd.DataFrame, batch: int) -> pd.DataFrame:
    return cells[cells["batch"] == batch].set_index("distance")


def _rows(cells: pd.DataFrame, distances=None):
    if distances is not None:
        cells = cells[cells["distance"].isin(distances)]
    return sorted(cells["batch"].unique())


# ---------------------------------------------------------------------------------------------- claims
FIG3_ARMS = ["frechet", "sw", "drifting", "mmd_rff", "mmd_exact", "mmd_nystrom"]


def _fig3_grid(cells):
    return cells[cells["distance"].isin(FIG3_ARMS)].groupby("batch").filter(lambda g: len(g) == len(FIG3_ARMS))


@claim("nystrom_sharpest_every_row", "fig3", "toy")
def _(v, numbers):
    grid = _fig3_grid(v["cells"])
    winners = {int(b): g.loc[g["med_dist"].idxmin(), "distance"] for b, g in grid.groupby("batch")}
    ok = bool(winners) and all(w == "mmd_nystrom" for w in winners.values())
    return ok, "lowest medDist per B: " + ", ".join(f"B={b}: {w}" for b, w in winners.items())


@claim("nystrom_strong_every_b", "fig3", "toy")
def _(v, numbers):
    # strong = recall >= 0.95 and medDist within 25% of the best medDist of its row
    grid = _fig3_grid(v["cells"])
    strong = {}
    for b, g in grid.groupby("batch"):
        best = g["med_dist"].min()
        strong[int(b)] = set(g[(g["recall"] >= 0.95) & (g["med_dist"] <= 1.25 * best)]["distance"])
    always = set.intersection(*strong.values()) if strong else set()
    return always == {"mmd_nystrom"}, f"strong at every B: {sorted(always) or 'none'}"


@claim("drifting_collapses_b128", "fig3", "toy")
def _(v, numbers):
    row = _at(v["cells"], 128)
    recall = row.loc["drifting", "recall"]
    return bool(recall <= 0.10), f"Drifting at B=128: recall {recall:.2f}, medDist {row.loc['drifting', 'med_dist']:.3f}"


@claim("nystrom_near_floor_b128", "fig3", "toy")
def _(v, numbers):
    med = _at(v["cells"], 128).loc["mmd_nystrom", "med_dist"]
    return bool(med <= v["floor"] + 0.01), f"Nystrom medDist {med:.3f} vs floor {v['floor']:.3f}"


@claim("lowdim_bigger_batch_better", "fig4", "toy")
def _(v, numbers):
    arm = v["cells"][v["cells"]["distance"] == "mmd_nystrom"].sort_values("batch")
    med = arm["med_dist"].tolist()
    ok = len(med) >= 2 and all(b <= a + 0.005 for a, b in zip(med, med[1:]))
    return ok, "medDist by B: " + ", ".join(f"{int(b)}: {m:.3f}" for b, m in zip(arm["batch"], med))


def _order_b128(v):
    row = _at(v["cells"], 128)
    return row[row.index.isin(FIG3_ARMS)].sort_values("med_dist", na_position="last")


@claim("table4_nystrom_first", "table4", "toy")
def _(v, numbers):
    order = list(_order_b128(v).index)
    return order[0] == "mmd_nystrom", f"first: {order[0]}"


@claim("table4_exact_not_better", "table4", "toy")
def _(v, numbers):
    row = _at(v["cells"], 128)
    ny, ex = row.loc["mmd_nystrom", "med_dist"], row.loc["mmd_exact", "med_dist"]
    return bool(ex >= ny), f"exact {ex:.3f} vs Nystrom {ny:.3f}"


@claim("table4_order", "table4", "toy")
def _(v, numbers):
    order = list(_order_b128(v).index)
    return order == numbers["table4"]["order"], "ours: " + " > ".join(order)


@claim("probe_fresh_real_near_one", "table5", "probes")
def _(v, numbers):
    score = v["fresh real"]["sw_rK"]
    return bool(abs(score - 1.0) <= 0.15), f"fresh real SW_r{v['fresh real']['K']} = {score:.3f}"


@claim("probe_degraded_well_above", "table5", "probes")
def _(v, numbers):
    blur, noise = v["blurred real"]["sw_rK"], v["uniform noise"]["sw_rK"]
    return bool(min(blur, noise) > 1.5), f"blurred {blur:.2f}, noise {noise:.2f}"


# ------------------------------------------------------------------------------ class-conditional claims
def _generators(scores: Mapping[str, float], real: str) -> dict[str, float]:
    return {g: float(v) for g, v in scores.items() if g != real}


@claim("irdm_lowest_sw", "table1", "classcond")
def _(v, numbers):
    gens = _generators(_need(v, "sw"), v["real"])
    best = min(gens, key=gens.get)
    runner = min((g for g in gens if g != "irdm"), key=gens.get)
    return best == "irdm", f"lowest: {best} ({gens[best]:.3f}); next: {runner} ({gens[runner]:.3f})"


@claim("irdm_lowest_mmd", "table7", "classcond")
def _(v, numbers):
    gens = _generators(_need(v, "mmd"), v["real"])
    if len(gens) < 2:
        raise NotPublished("fewer than two generators with MMDr14")
    best = min(gens, key=gens.get)
    return best == "irdm", f"lowest MMDrK: {best} ({gens[best]:.3f}); iRDM {gens['irdm']:.3f}"


PID_TOLERANCE = 0.02  # absolute SW_rK; "not worse" allows run-to-run noise of this size


@claim("pid_not_worse_than_uniform", "table3", "classcond")
def _(v, numbers):
    pid, uni = _need(v, "gating")["irdm"], v["gating"]["uniform"]
    return bool(pid <= uni + PID_TOLERANCE), f"PID {pid:.3f} vs uniform {uni:.3f} (tolerance {PID_TOLERANCE})"


@claim("batch_interior_or_monotone", "table6", "classcond")
def _(v, numbers):
    by_n = dict(sorted(_need(v, "batch").items()))
    ns, sw = list(by_n), list(by_n.values())
    best = ns[sw.index(min(sw))]
    monotone = all(b <= a + 0.01 for a, b in zip(sw, sw[1:]))
    interior = best not in (ns[0], ns[-1])
    kind = "interior optimum" if interior else ("monotone gain" if monotone else "neither")
    text = ", ".join(f"N={n}: {s:.3f}" for n, s in by_n.items())
    budget = f"matched on {v['batch_budget']}; " if "batch_budget" in v else ""
    return bool(len(ns) >= 3 and (interior or monotone)), f"{budget}{kind} (best N={best}); {text}"


def _gaming(v):
    """(gaming table by generator id, its per-encoder ratio columns, the gamed encoders' columns)."""
    t = _need(v, "gaming")
    cols = [c for c in t.columns if c not in ("model", "NFE", "class agreement", "gamed") and not c.startswith("SW_r")]
    gamed = [c for c in cols if c.rstrip("*") in str(t.loc["gaming", "gamed"]).split(",")]
    if not gamed:
        raise KeyError("the gaming table names no gamed encoder")
    return t, cols, gamed


@claim("gaming_below_one_trained_only", "fig5", "classcond")
def _(v, numbers):
    t, cols, trained = _gaming(v)
    ratios = t.loc["gaming", cols].astype(float)
    below = [c for c in cols if ratios[c] < 1.0]
    others = ratios.drop(trained)
    return below == trained, (f"gaming arm: {', '.join(f'{c} {ratios[c]:.3f}' for c in trained)}; below 1.00: "
                              f"{below or 'none'}; lowest other {others.idxmin()} {others.min():.3f}")


@claim("gaming_trained_improves_most", "fig5", "classcond")
def _(v, numbers):
    t, cols, trained = _gaming(v)
    gain = t.loc["gaming", cols].astype(float) / t.loc["warmstart", cols].astype(float)
    best = gain.idxmin()
    others = gain.drop(trained)
    held_g, held_i = float(t.loc["gaming", "SW_r held-out"]), float(t.loc["irdm", "SW_r held-out"])
    ok = bool(best in trained and gain[trained].max() < others.min() and held_g > held_i)
    return ok, (f"ratio gaming / warm start: {', '.join(f'{c} x{gain[c]:.2f}' for c in trained)}, best other "
                f"{others.idxmin()} x{others.min():.2f}; held-out mean gaming {held_g:.3f} vs iRDM {held_i:.3f}")


@claim("gaming_beats_irdm_on_gamed_only", "fig5", "classcond")
def _(v, numbers):
    t, cols, trained = _gaming(v)
    diff = t.loc["gaming", cols].astype(float) - t.loc["irdm", cols].astype(float)
    others = diff.drop(trained)
    ok = bool((diff[trained] < 0).all() and (others > 0).all())
    return ok, (f"gaming - iRDM: {', '.join(f'{c} {diff[c]:+.3f}' for c in trained)}; other encoders "
                f"{others.min():+.3f} to {others.max():+.3f} ({int((others > 0).sum())} of {len(others)} worse)")


@claim("irdm_preferred_over_warmstart", "fig6", "classcond")
def _(v, numbers):
    w = _need(v, "preference")["warmstart"]
    return bool(w > 0.5), f"iRDM preferred in {100 * w:.1f}% of matched pairs vs the warm start"


@claim("irdm_preferred_over_real", "fig6", "classcond")
def _(v, numbers):
    w = _need(v, "preference")["real"]
    return bool(w > 0.5), f"iRDM preferred in {100 * w:.1f}% of matched pairs vs real digits"


# ------------------------------------------------------------------------------------ text-to-image claims
@claim("t2i_student_passes_teacher", "table2", "t2i")
def _(v, numbers):
    ge, ps = _need(v, "geneval"), _need(v, "pickscore")
    s, t = "student_joint", "teacher_nfe4"
    ok = bool(ge[s] > ge[t] and ps[s] > ps[t])
    return ok, (f"GenEval {ge[s]:.3f} (1-step student) vs {ge[t]:.3f} (4-step teacher); "
                f"PickScore {ps[s]:.2f} vs {ps[t]:.2f}")


@claim("t2i_joint_beats_marginal", "table2", "t2i")
def _(v, numbers):
    ge = _need(v, "geneval")
    j, m = ge["student_joint"], ge["student_marginal"]
    return bool(j > m), f"GenEval joint {j:.3f} vs marginal {m:.3f}"


# ---------------------------------------------------------------------------------------------- page
def _fmt(ok: bool | None) -> str:
    return "n/a" if ok is None else ("holds" if ok else "fails")


def _view(kind: str, side: int, source) -> dict | None:
    """A view of our results (side 0) or of the paper's numbers (side 1); None if it cannot be built."""
    try:
        return VIEWS[kind][side](source)
    except (KeyError, ValueError, FileNotFoundError):
        return None


class NotPublished(KeyError):
    """The numbers a claim rests on are not in this view (e.g. the paper did not publish them): n/a."""


def _need(view: Mapping, key: str):
    if key not in view:
        raise NotPublished(key)
    return view[key]


def _verdict(check, view, numbers) -> Verdict | None:
    if view is None:
        return None
    try:
        return check(view, numbers)
    except NotPublished:
        return None
    except (KeyError, ValueError, IndexError) as err:
        return None if not view else (False, f"not computable from these results ({err})")


def claim_rows(results: Path, numbers: Mapping, artifacts: Mapping) -> list[dict]:
    rows, views = [], {}
    for art, spec in numbers.items():
        if art not in artifacts:
            continue
        for cid, text in spec["claims"].items():
            if cid not in CLAIMS:
                raise KeyError(f"config/paper_numbers.yaml: claim '{cid}' of '{art}' has no check in {__name__}")
            c = CLAIMS[cid]
            if c.view not in views:
                views[c.view] = (_view(c.view, 0, results), _view(c.view, 1, numbers))
            ours, paper = (_verdict(c.check, v, numbers) for v in views[c.view])
            rows.append({"artifact": art, "claim": text, "ours": _fmt(ours and ours[0]),
                         "in paper's numbers": _fmt(paper and paper[0]),
                         "evidence": ours[1] if ours else "not run at this scale"})
    return rows


def fig3_number_rows(results: Path, numbers: Mapping) -> tuple[pd.DataFrame, str]:
    spec = numbers["fig3"]
    tol = spec["tolerance"]
    ours = pd.read_csv(results / "tables" / "fig3_spiral.csv").set_index(["distance", "batch"])
    rows = []
    for d, by_b in spec["cells"].items():
        for b, (rec, med) in by_b.items():
            if (d, int(b)) not in ours.index:
                continue
            o = ours.loc[(d, int(b))]
            within = abs(o.recall - rec) <= tol["recall"] and abs(o.med_dist - med) <= tol["med_dist"]
            rows.append({"B": int(b), "distance": d, "recall": o.recall, "recall (paper)": rec,
                         "medDist": o.med_dist, "medDist (paper)": med, "within tolerance": "yes" if within else "no"})
    df = pd.DataFrame(rows)
    note = (f"Tolerance: recall ±{tol['recall']}, medDist ±{tol['med_dist']} (absolute). "
            f"{(df['within tolerance'] == 'yes').sum()} of {len(df)} cells within tolerance.")
    return df, note


def build_verify(results: str | Path, numbers: Mapping, artifacts: Mapping, scale: str) -> str:
    """The VERIFY page as Markdown."""
    results = Path(results)
    claims = pd.DataFrame(claim_rows(results, numbers, artifacts))
    held = int((claims["ours"] == "holds").sum()) if len(claims) else 0
    checked = int(claims["ours"].isin(["holds", "fails"]).sum()) if len(claims) else 0
    parts = [
        f"# VERIFY: {scale} scale against the paper",
        "",
        "Generated by the `verify` rule from `results/{scale}/` and `config/paper_numbers.yaml`; do not edit.".replace(
            "{scale}", scale),
        "Each claim is checked on our results and, where the paper published the numbers it rests on, on the",
        "paper's numbers too (column *in paper's numbers*), which shows that the check reads the claim as the paper does.",
        "",
        f"## Claims ({held} of {checked} checked hold; n/a = not run at this scale)",
        "",
        claims.to_markdown(index=False) if len(claims) else "(no claims for the artifacts of this run)",
        "",
    ]
    if "fig3" in artifacts and (results / "tables" / "fig3_spiral.csv").exists():
        df, note = fig3_number_rows(results, numbers)
        parts += ["## Numbers: Figure 3 (toy spiral), ours beside the official fixture", "", note, "",
                  df.to_markdown(index=False, floatfmt=".3f"), ""]
    return "\n".join(parts)
