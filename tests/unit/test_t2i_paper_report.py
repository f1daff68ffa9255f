"""Table 2 at paper scale: both PickScore prompt sets side by side; the mini metrics (no Pick-a-Pic) keep the
mini columns; with the released student alone there is no marginal row."""

from __future__ import annotations

from rdm_core.report.t2i import TASKS, table2


def metrics(model, pick, pickapic=None):
    m = {"model": model, "nfe": 4 if model == "teacher_nfe4" else 1,
         "geneval": {**{t: 0.5 for t in TASKS}, "overall": 0.5}, "pickscore": pick}
    return {**m, "pickscore_pickapic": pickapic} if pickapic is not None else m


MODELS = ("teacher_nfe4", "teacher_nfe1", "student_joint", "student_marginal")


def test_paper_table_has_both_pickscore_sets():
    t = table2({m: metrics(m, 22.0 + k, 21.0 + k) for k, m in enumerate(MODELS)}).set_index("id")
    assert t.loc["student_joint", "PickScore"] == 24.0 and t.loc["student_joint", "PickScore Pick-a-Pic"] == 23.0
    assert list(t.columns).index("PickScore Pick-a-Pic") == list(t.columns).index("PickScore") + 1


def test_mini_table_is_unchanged_and_released_has_no_marginal_row():
    mini = table2({m: metrics(m, 1.0) for m in MODELS})
    assert list(mini["id"]) == list(MODELS) and "PickScore Pick-a-Pic" not in mini
    released = table2({m: metrics(m, 1.0, 2.0) for m in MODELS[:3]})
    assert list(released["id"]) == list(MODELS[:3])
