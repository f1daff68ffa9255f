"""The geALLcoco curation rules against plain loops: GenEval-correct renders capped per prompt, PickScore top-k,
the render stages' shards."""

import random

import pytest
import torch

from rdm_core.reference.curation import geneval_kept, render_seed, row_shards, shard_rows, top_seeds


def test_render_seed_is_the_official_drivers():
    assert render_seed(0, 0) == 0 and render_seed(7, 3) == 3 * 1_000_003 + 7


def test_geneval_kept_caps_each_prompt_at_its_lowest_correct_samples():
    rng = random.Random(0)
    records = [{"filename": f"/x/images/{i:05d}/samples/{j:04d}.png", "correct": rng.random() < 0.6, "i": i, "j": j}
               for i in range(5) for j in range(12)]
    rng.shuffle(records)
    want = []
    for i in range(5):
        ok = sorted(r["j"] for r in records if r["i"] == i and r["correct"])
        want += [(i, j) for j in ok[:4]]
    assert geneval_kept(records, 5, cap=4) == want
    assert len(geneval_kept(records, 5, cap=100)) == sum(r["correct"] for r in records)
    with pytest.raises(ValueError, match="prompt 5 out of"):
        geneval_kept([{"filename": "a/00005/samples/0000.png", "correct": True}], 5, cap=1)


def test_top_seeds_match_a_loop_and_break_ties_to_the_lower_seed():
    scores = torch.randn(20, 24)
    scores[3, 5] = scores[3, 9] = 99.0
    got = top_seeds(scores, 3)
    for n in range(20):
        want = sorted(range(24), key=lambda s: (-float(scores[n, s]), s))[:3]
        assert got[n].tolist() == want
    assert got[3, :2].tolist() == [5, 9]
    with pytest.raises(ValueError, match="keep 25 of 24"):
        top_seeds(scores, 25)


@pytest.mark.parametrize("n", [0, 1, 7, 553])
@pytest.mark.parametrize("shards", [1, 2, 3, 16])
def test_shards_tile_the_rows_in_order_whatever_the_count(n, shards):
    """Shard k's rows are contiguous and the shards, in order, give exactly the unsharded rows (each once), so a
    render stage's (row, seed) work and noise are the same for 1 or many shards."""
    rows = list(range(n))
    parts = [list(shard_rows(n, shards, k)) for k in range(shards)]
    assert [r for part in parts for r in part] == rows
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    work = [(i, s) for part in parts for i in part for s in range(3)]   # the COCO stage's renders, shard by shard
    assert work == [(i, s) for i in rows for s in range(3)]
    assert row_shards(n, shards) == [next(k for k, part in enumerate(parts) if i in part) for i in rows]


def test_shard_out_of_range_is_refused():
    with pytest.raises(ValueError, match="shard 3 of 3"):
        shard_rows(10, 3, 3)
    with pytest.raises(ValueError, match="shard 0 of 0"):
        shard_rows(10, 0, 0)
