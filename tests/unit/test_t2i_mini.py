"""The mini text-to-image stage: compositions and captions, the joint kernel, the mini GenEval and PickScore
scorers, the text tower, the one-step student step with checkpoint and resume."""

import json
import math

import numpy as np
import pytest
import torch

from rdm_core.compare.kernels import rbf
from rdm_core.data import compose
from rdm_core.data.compose import COLOUR_NAMES, TASKS, caption, layout, make_compositions, prompt_set, render
from rdm_core.eval.mini_geneval import EMPTY, geneval_scores, judge, mini_geneval, train_cell_classifier
from rdm_core.eval.mini_pickscore import pickscore, tokenize, train_tiny_clip
from rdm_core.generators.t2i import caption_net, load_t2i, render as render_t2i, sample_seeds, save_t2i, seeded_noise
from rdm_core.representation.joint import joint_features
from rdm_core.representation.t2i import CellEncoder, RGBRandomConv
from rdm_core.train.t2i import snapshot_steps, step_seconds, text_bundles, train_student

WHITE = len(COLOUR_NAMES)


def fake_digits(n_per_class=3, seed=0):
    """28 px grey 'digits': class c lights the quadrants given by the bits of c + 1 (a shift of a pixel or two
    keeps them apart), with seeded noise."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(n_per_class)
    images = 0.05 * torch.rand(len(labels), 1, 28, 28, generator=gen)
    for i, c in enumerate(labels.tolist()):
        for bit in range(4):
            if (c + 1) >> bit & 1:
                r, col = divmod(bit, 2)
                images[i, 0, 3 + 12 * r:13 + 12 * r, 3 + 12 * col:13 + 12 * col] = 1.0
    return images, labels


# ------------------------------------------------------------------------------------------ compositions
def test_compositions_are_deterministic_and_match_their_captions():
    images, labels = fake_digits()
    a, b = make_compositions(images, labels, 5, seed=3), make_compositions(images, labels, 5, seed=3)
    c = make_compositions(images, labels, 5, seed=4)
    assert torch.equal(a["images"], b["images"]) and a["captions"] == b["captions"]
    assert a["captions"] != c["captions"]
    assert a["images"].shape == (30, 3, 32, 32) and a["images"].dtype == torch.uint8
    assert [m["tag"] for m in a["meta"][:6]] == list(TASKS)
    for meta, cap, img in zip(a["meta"], a["captions"], a["images"]):
        assert cap == meta["prompt"] == caption(meta) and cap.startswith("a photo of ")
        objects = meta["objects"]
        # every included item is present in the layout the right number of times, with its colour
        for item in meta["include"]:
            cells = [o for o in objects if o[1] == item["class"]]
            assert len(cells) == item["count"]
            assert all(o[2] == item.get("color") for o in cells)
        # the pixels: a lit cell per object, dark elsewhere; a coloured digit has only its colour's channels
        lit = img.float().view(3, 2, 16, 2, 16).amax((0, 2, 4)).flatten() > 0
        assert sorted(np.flatnonzero(lit.numpy()).tolist()) == sorted(o[0] for o in objects)
        for cell, _, colour in objects:
            r, col = compose.CELLS[cell]
            patch = img[:, 16 * r:16 * r + 16, 16 * col:16 * col + 16].float().amax((1, 2))
            tint = torch.tensor(compose.COLOURS[colour] if colour else compose.DEFAULT_TINT)
            assert torch.equal(patch > 0, tint > 0)


def test_captions_of_each_task():
    rng = np.random.default_rng(0)
    seen = {compose.sample_meta(t, rng)["prompt"].split(" of ", 1)[1].split()[0] for t in TASKS for _ in range(20)}
    assert seen <= {"a", "an", "two", "three", "four"}
    meta = {"tag": "position", "include": [{"class": 5, "count": 1}, {"class": 3, "count": 1,
                                                                        "position": ["left of", 0]}]}
    assert caption(meta) == "a photo of a three left of a five"
    (ref_cell, ref, _), (obj_cell, obj, _) = layout(meta)
    assert (ref, obj) == (5, 3) and compose.relation_holds("left of", obj_cell, ref_cell)
    counting = {"tag": "counting", "include": [{"class": 8, "count": 3}], "exclude": [{"class": 8, "count": 4}]}
    assert caption(counting) == "a photo of three eights" and len(layout(counting)) == 3
    assert caption({"tag": "color_attr", "include": [{"class": 8, "count": 1, "color": "red"},
                                                     {"class": 1, "count": 1, "color": "blue"}]}) == \
        "a photo of a red eight and a blue one"


def test_prompt_set_covers_every_task_with_distinct_prompts():
    prompts = prompt_set(12, seed=5)
    by_task = {t: [p["prompt"] for p in prompts if p["tag"] == t] for t in TASKS}
    assert len(by_task["single_object"]) == 10  # only ten distinct single-object prompts exist
    assert all(len(v) == 12 for t, v in by_task.items() if t != "single_object")
    assert all(len(set(v)) == len(v) for v in by_task.values())
    assert prompt_set(12, seed=5) == prompts


# --------------------------------------------------------------------------------------------- the kernel
def test_joint_kernel_factorises_into_image_and_text_kernels():
    """k([phi | beta tau], [phi' | beta tau'] ; sigma) = k_img(phi, phi'; sigma) * k_txt(tau, tau'; sigma / beta),
    against a float64 loop."""
    gen = torch.Generator().manual_seed(0)
    phi = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    tau = torch.nn.functional.normalize(torch.randn(7, 4, generator=gen, dtype=torch.float64), dim=1)
    sigma, s_txt = 1.3, 0.6
    beta = sigma / s_txt
    joint = rbf(joint_features(phi, tau, beta), joint_features(phi, tau, beta), sigma)
    for i in range(7):
        for j in range(7):
            k_img = math.exp(-float(((phi[i] - phi[j]) ** 2).sum()) / (2 * sigma ** 2))
            k_txt = math.exp(-float(((tau[i] - tau[j]) ** 2).sum()) / (2 * s_txt ** 2))
            assert joint[i, j].item() == pytest.approx(k_img * k_txt, rel=1e-12, abs=1e-15)


def test_text_bundles_joint_and_marginal():
    gen = torch.Generator().manual_seed(1)
    feats = {"a": torch.randn(64, 6, generator=gen)}
    tau = torch.nn.functional.normalize(torch.randn(64, 4, generator=gen), dim=1)
    ref = {"sigma_n": 64, "landmarks": 8, "kmeans_iters": 3, "fit_n": 64, "k_rr_n": 64, "floor_draws": 1,
           "floor_n": 8, "sw_n": 8, "rff_features": 8, "rff_n": 8}
    joint = text_bundles(feats, tau, True, {"sigma_scale": 0.25, "text_scale": 1.0}, ref)
    marginal = text_bundles(feats, tau, False, {"sigma_scale": 0.25, "text_scale": 1.0}, ref)
    assert joint["bundles"]["a"].Z.shape == (8, 10) and marginal["bundles"]["a"].Z.shape == (8, 6)
    assert joint["sigma"]["a"] == marginal["sigma"]["a"] and marginal["beta"]["a"] == 0.0
    assert joint["beta"]["a"] == pytest.approx(joint["sigma"]["a"] / joint["s_txt"])


# ------------------------------------------------------------------------------------------ mini GenEval
def canvas(objects):
    """A composition from (cell, digit, colour) with the fake digits."""
    images, labels = fake_digits(1)
    return render(objects, [images[d] for _, d, _ in objects])


PER_TASK = {  # task -> (metadata, a correct layout, an incorrect one)
    "single_object": ({"tag": "single_object", "include": [{"class": 3, "count": 1}]},
                      [(0, 3, None)], [(0, 4, None)]),
    "two_object": ({"tag": "two_object", "include": [{"class": 3, "count": 1}, {"class": 7, "count": 1}]},
                   [(0, 3, None), (1, 7, None)], [(0, 3, None), (1, 3, None)]),
    "counting": ({"tag": "counting", "include": [{"class": 2, "count": 3}], "exclude": [{"class": 2, "count": 4}]},
                 [(0, 2, None), (1, 2, None), (2, 2, None)], [(c, 2, None) for c in range(4)]),
    "colors": ({"tag": "colors", "include": [{"class": 5, "count": 1, "color": "green"}]},
               [(0, 5, "green")], [(0, 5, "red")]),
    "position": ({"tag": "position", "include": [{"class": 1, "count": 1},
                                                 {"class": 6, "count": 1, "position": ["above", 0]}]},
                 [(2, 1, None), (0, 6, None)], [(0, 1, None), (2, 6, None)]),
    "color_attr": ({"tag": "color_attr", "include": [{"class": 0, "count": 1, "color": "blue"},
                                                     {"class": 9, "count": 1, "color": "yellow"}]},
                   [(0, 0, "blue"), (1, 9, "yellow")], [(0, 0, "yellow"), (1, 9, "blue")]),
}


def detections(objects):
    digits, colours = [EMPTY] * 4, [WHITE] * 4
    for cell, d, c in objects:
        digits[cell], colours[cell] = d, COLOUR_NAMES.index(c) if c else WHITE
    return digits, colours


@pytest.mark.parametrize("task", TASKS)
def test_judge_on_hand_made_layouts(task):
    meta, good, bad = PER_TASK[task]
    assert judge(meta, *detections(good))
    assert not judge(meta, *detections(bad))


def test_geneval_overall_is_the_unweighted_task_mean():
    metas = [PER_TASK[t][0] for t in TASKS for _ in range(2)] + [PER_TASK["colors"][0]] * 4
    correct = [True, False] * 6 + [True] * 4
    scores = geneval_scores(metas, correct)
    assert scores["colors"] == pytest.approx(5 / 6) and scores["single_object"] == 0.5
    assert scores["overall"] == pytest.approx(np.mean([scores[t] for t in TASKS]))
    with pytest.raises(ValueError, match="position"):
        geneval_scores([m for m in metas if m["tag"] != "position"], correct[:len(metas) - 2])


@pytest.fixture(scope="module")
def detector():
    images, labels = fake_digits(6, seed=2)
    return train_cell_classifier(images, labels, steps=150, batch=128, lr=3e-3, seed=0)


def test_mini_geneval_scores_correct_and_incorrect_images(detector):
    """The trained detector over rendered hand-made layouts: every correct image passes, every incorrect one fails."""
    metas = [PER_TASK[t][0] for t in TASKS]
    good = torch.stack([canvas(PER_TASK[t][1]) for t in TASKS])
    bad = torch.stack([canvas(PER_TASK[t][2]) for t in TASKS])
    assert mini_geneval(detector, good, metas)["overall"] == 1.0
    assert mini_geneval(detector, bad, metas)["overall"] == 0.0


def test_averaged_negatives_are_class_means_labelled_empty():
    """averaged_digits: each row the mean of m same-class digits (checked against a loop over the generator's draws);
    training_cells labels its averaged share empty, the rest by their digit; a bad range is an error."""
    from rdm_core.eval.mini_geneval import averaged_digits, training_cells

    small = torch.rand(30, 1, 14, 14, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(3).repeat(10)
    rows = torch.tensor([0, 4, 8])
    out = averaged_digits(small, labels, rows, (2, 5), torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    for i, row in enumerate(rows.tolist()):
        pool = [j for j in range(30) if labels[j] == labels[row]]
        m = int(torch.randint(2, 6, (1,), generator=gen))
        picks = torch.randint(0, len(pool), (m,), generator=gen).tolist()
        ref = sum(small[pool[p]].double() for p in picks) / m
        assert torch.allclose(out[i].double(), ref, atol=1e-6)
    with pytest.raises(ValueError, match="average_of"):
        averaged_digits(small, labels, rows, (5, 2), torch.Generator())
    x, d, _ = training_cells(small, labels, 2000, torch.Generator().manual_seed(0), empty=0.15, averaged=0.3)
    _, plain, _ = training_cells(small, labels, 2000, torch.Generator().manual_seed(0), empty=0.15)
    assert abs((d == EMPTY).float().mean().item() - 0.45) < 0.04 and abs((plain == EMPTY).float().mean() - 0.15) < 0.03
    assert x.shape == (2000, 3, 16, 16) and x.min() >= 0 and x.max() <= 1


# ------------------------------------------------------------------------------------------ mini PickScore
def test_pickscore_prefers_the_matching_caption():
    images, labels = fake_digits(4, seed=3)
    comps = make_compositions(images, labels, 20, seed=0)
    model = train_tiny_clip(comps["images"], comps["captions"], steps=120, batch=64, lr=3e-3, seed=0, dim=16)
    x = comps["images"][:60].float() / 255
    right = pickscore(model, x, comps["captions"][:60])
    wrong = pickscore(model, x, comps["captions"][1:61])
    assert (right > wrong).float().mean() > 0.8
    assert tokenize(["a photo of a red three"]).shape == (1, 10)
    with pytest.raises(ValueError, match="unknown words"):
        tokenize(["a photo of a dog"])


def test_pickscore_with_blurred_negatives_scores_a_blur_below_the_image():
    """box_blur equals a loop over each pixel's clipped neighbourhood; a tiny CLIP trained with blurred negatives
    scores the blurred compositions below the sharp ones on their own captions, one without them does not learn to."""
    from rdm_core.eval.mini_pickscore import box_blur

    x = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = torch.empty_like(x)
    for i in range(6):
        for j in range(7):
            ref[:, :, i, j] = x[:, :, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].mean((2, 3))
    assert torch.allclose(box_blur(x, 3), ref)
    with pytest.raises(ValueError, match="odd"):
        box_blur(x, 4)
    images, labels = fake_digits(4, seed=3)
    comps = make_compositions(images, labels, 20, seed=0)
    sharp = comps["images"][:60].float() / 255
    caps = comps["captions"][:60]
    gap = {}
    for blur in (0, 5):
        model = train_tiny_clip(comps["images"], comps["captions"], steps=120, batch=64, lr=3e-3, seed=0, dim=16,
                                blur=blur)
        gap[blur] = (pickscore(model, sharp, caps) - pickscore(model, box_blur(sharp, 5), caps)).mean().item()
    assert gap[5] > 0 and gap[5] > gap[0] + 0.5


# -------------------------------------------------------------------------------------------- text tower
def test_text_tower_loads_offline_and_pools_over_the_mask(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from rdm_core.representation.text import TextTower, build_text_table

    tower = TextTower()
    captions = ["a photo of a red three", "a photo of three sevens and more words to pad the batch"]
    tau = tower(captions)
    assert tau.shape == (2, 384) and torch.allclose(tau.norm(dim=1), torch.ones(2), atol=1e-5)
    alone = tower(captions[:1])  # no padding: pooling must ignore the pad tokens of the batch above
    assert torch.allclose(alone[0], tau[0], atol=1e-5)
    related = tower(["a photo of a red three", "a photo of a red eight", "a photo of four nines"])
    assert related[0] @ related[1] > related[0] @ related[2]
    distinct, table = build_text_table(captions + captions[:1], tower)
    assert distinct == sorted(set(captions)) and table.shape == (2, 384)


# ----------------------------------------------------------------------------------- encoders, generators
def test_cell_encoder_and_random_conv_see_the_layout():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 3))
    enc = CellEncoder(net)
    x = torch.zeros(2, 3, 32, 32)
    x[0, 0, 2:6, 2:6] = 1.0     # a red blob in cell 0
    x[1, 2, 18:22, 18:22] = 1.0  # a blue blob in cell 3
    f = enc(x)
    assert f.shape == (2, 12)
    empty = net(torch.zeros(1, 1, 16, 16))
    assert torch.allclose(f[0, 3:], empty.repeat(1, 3).flatten()) and not torch.allclose(f[0, :3], empty[0])
    rc = RGBRandomConv()
    assert rc(x).shape == (2, 128)


def test_seeds_and_rendering_are_per_sample():
    assert sample_seeds(2, 3, 46_000_000) == [[46_000_000, 46_000_001, 46_000_002],
                                              [46_000_100, 46_000_101, 46_000_102]]
    a, b = seeded_noise([5, 6]), seeded_noise([6])
    assert torch.equal(a[1], b[0])
    torch.manual_seed(0)
    net = caption_net(4, width=8)
    tau = torch.randn(3, 4)
    out = render_t2i(net, tau, [1, 2, 3], nfe=2)
    assert out.shape == (3, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(render_t2i(net, tau[1:2], [2], nfe=2)[0], out[1])


def test_caption_net_standardises_tau_and_keeps_the_statistics(tmp_path):
    gen = torch.Generator().manual_seed(3)
    tau = 5.0 + 0.01 * torch.randn(50, 4, generator=gen, dtype=torch.float64)
    net = caption_net(4, width=8)
    net.cond.fit(tau.float())
    z = net.cond(tau.float()).double()
    ref = (tau - tau.mean(0)) / tau.std(0)  # float64 reference
    assert torch.allclose(z, ref, atol=1e-3)
    save_t2i(tmp_path / "net.safetensors", net, {"rule": "test"})
    loaded, _ = load_t2i(tmp_path / "net.safetensors")
    assert torch.equal(loaded.cond.mean, net.cond.mean) and torch.equal(loaded.cond.std, net.cond.std)
    x, t = torch.randn(2, 3, 32, 32), torch.rand(2)
    assert torch.equal(loaded(x, t, tau[:2].float()), net.eval()(x, t, tau[:2].float()))


def test_data_predicting_net_gives_the_velocity_of_its_clean_image(tmp_path):
    """predicts="data": v = (x_t - u_hat) / max(t, T_MIN) with u_hat the network's output, so one Euler step
    from t = 1 returns u_hat; the setting survives save / load and a bad value is an error naming it."""
    from rdm_core.generators.flow import VelocityNet, sample
    from rdm_core.generators.t2i import T_MIN

    torch.manual_seed(0)
    net = caption_net(4, width=8, predicts="data")
    torch.nn.init.normal_(net.out[0].weight, std=0.1)  # a non-zero output
    x, c = torch.randn(3, 3, 32, 32), torch.randn(3, 4)
    t = torch.tensor([1.0, 0.25, 0.01])
    u_hat = VelocityNet.forward(net, x, t, c).double()
    want = (x.double() - u_hat) / torch.tensor([1.0, 0.25, T_MIN], dtype=torch.float64)[:, None, None, None]
    torch.testing.assert_close(net(x, t, c).double(), want, rtol=1e-5, atol=1e-5)
    one = VelocityNet.forward(net, x, torch.ones(3), c)
    torch.testing.assert_close(sample(net, x, c, 1), ((one + 1) / 2).clamp(0, 1), rtol=0, atol=1e-5)
    save_t2i(tmp_path / "net.safetensors", net, {"rule": "test"})
    loaded, meta = load_t2i(tmp_path / "net.safetensors")
    assert loaded.predicts == "data" and meta["architecture"]["predicts"] == "data"
    assert torch.equal(loaded(x, t, c), net.eval()(x, t, c))
    with pytest.raises(ValueError, match="predicts must be one of"):
        caption_net(4, width=8, predicts="noise")


def test_teacher_time_grid_trains_on_the_sampler_times(tmp_path, monkeypatch):
    """time_grid 4: every training time is one the 4-step Euler sampler visits (1, 3/4, 1/2, 1/4), all of them
    drawn; time_grid 0 keeps U(0, 1); a negative grid is an error naming the key."""
    import rdm_core.train.t2i as t2i_train

    seen = {}

    def run(grid, name):
        net = caption_net(4, width=8)
        forward = net.forward

        def recording(x, t, c):
            seen.setdefault(name, []).extend(t.tolist())
            return forward(x, t, c)

        monkeypatch.setattr(net, "forward", recording)
        monkeypatch.setattr(t2i_train, "caption_net", lambda *args, **kwargs: net)
        cfg = {"steps": 5, "batch": 16, "lr": 1e-3, "grad_clip": 1.0, "width": 8, "checkpoint_every": 5,
               "seed": 0, "time_grid": grid, "predicts": "velocity"}
        t2i_train.train_teacher(torch.rand(10, 3, 32, 32), torch.randn(10, 4), cfg, tmp_path / name,
                                log=lambda m: None)

    run(4, "grid")
    assert set(seen["grid"]) == {1.0, 0.75, 0.5, 0.25} and len(seen["grid"]) == 5 * 16
    run(0, "uniform")
    assert len(set(seen["uniform"])) == 5 * 16 and all(0 <= t < 1 for t in seen["uniform"])
    with pytest.raises(ValueError, match="time_grid"):
        run(-1, "bad")


# ------------------------------------------------------------------------------------------ student step
class Crash(Exception):
    pass


def student_setup(tmp_path):
    torch.manual_seed(0)
    teacher = caption_net(4, width=8)
    encoders = {"cells": CellEncoder(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())),
                "rgb": RGBRandomConv(width=4, out=4)}
    for e in encoders.values():
        e.requires_grad_(False)
    gen = torch.Generator().manual_seed(1)
    real = torch.rand(40, 3, 32, 32, generator=gen)
    pool = torch.nn.functional.normalize(torch.randn(40, 4, generator=gen), dim=1)
    feats = {n: e(real) for n, e in encoders.items()}
    ref = {"sigma_n": 40, "landmarks": 8, "kmeans_iters": 3, "fit_n": 40, "k_rr_n": 40, "floor_draws": 1,
           "floor_n": 8, "sw_n": 8, "rff_features": 8, "rff_n": 8}
    bundles = text_bundles(feats, pool, True, {"sigma_scale": 1.0, "text_scale": 1.0}, ref)
    cfg = {"steps": 4, "lr": 1e-3, "grad_clip": 4.0, "checkpoint_every": 1, "seed": 0, "rollout": 16, "chunk": 8,
           "snapshot_every": 2}
    return teacher, encoders, bundles, pool, cfg


def test_student_trains_snapshots_and_resumes_exactly(tmp_path, monkeypatch):
    teacher, encoders, b, pool, cfg = student_setup(tmp_path)
    start = {k: v.clone() for k, v in teacher.state_dict().items()}
    net, snaps = train_student(teacher, encoders, b["bundles"], b["beta"], pool, cfg, tmp_path / "a", {"run": "a"},
                               log=lambda m: None)
    assert sorted(snaps) == snapshot_steps(4, 2) == [0, 2, 4]
    first, meta = load_t2i(snaps[0])
    assert all(torch.equal(first.state_dict()[k], v) for k, v in start.items())  # step 0 = the untrained init
    assert meta["made_by"]["step"] == 0 and meta["made_by"]["compute_seconds"] == 0.0
    assert any(not torch.equal(net.state_dict()[k], v) for k, v in start.items())
    seconds = step_seconds(tmp_path / "a")
    assert load_t2i(snaps[4])[1]["made_by"]["compute_seconds"] == pytest.approx(seconds[4]) and seconds[4] > 0
    records = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4] and all(math.isfinite(r["loss"]) for r in records)

    # the same run killed at step 3 and restarted gives the same weights
    teacher2, encoders2, b2, pool2, _ = student_setup(tmp_path)
    import rdm_core.train.loop as loop

    real_step = loop.gradcache_step
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "gradcache_step", crashing)
    with pytest.raises(Crash):
        train_student(teacher2, encoders2, b2["bundles"], b2["beta"], pool2, cfg, tmp_path / "b", {"run": "a"},
                      log=lambda m: None)
    monkeypatch.setattr(loop, "gradcache_step", real_step)
    teacher3, encoders3, b3, pool3, _ = student_setup(tmp_path)
    resumed, _ = train_student(teacher3, encoders3, b3["bundles"], b3["beta"], pool3, cfg, tmp_path / "b",
                               {"run": "a"}, log=lambda m: None)
    assert all(torch.equal(resumed.state_dict()[k], v) for k, v in net.state_dict().items())


# ------------------------------------------------------------------------------------------------ VERIFY
def test_verify_t2i_claims_read_table2(tmp_path):
    import pandas as pd

    from rdm_core.report.verify import claim_rows

    numbers = {"table2": {"source": "s", "geneval": {"teacher_nfe4": 0.794, "student_joint": 0.826,
                                                     "student_marginal": 0.801},
                          "pickscore": {"teacher_nfe4": 22.58, "student_joint": 22.76, "student_marginal": None},
                          "claims": {"t2i_student_passes_teacher": "a", "t2i_joint_beats_marginal": "b"}}}
    (tmp_path / "tables").mkdir()

    def verdicts(geneval, pick):
        ids = ["teacher_nfe4", "teacher_nfe1", "student_joint", "student_marginal"]
        pd.DataFrame({"id": ids, "GenEval": geneval, "PickScore": pick}).to_csv(tmp_path / "tables" / "table2_t2i.csv")
        rows = claim_rows(tmp_path, numbers, {"table2": {}})
        assert all(r["in paper's numbers"] == "holds" for r in rows)
        return [r["ours"] for r in rows]

    assert verdicts([0.5, 0.4, 0.6, 0.55], [20.0, 19.0, 21.0, 20.5]) == ["holds", "holds"]
    assert verdicts([0.5, 0.4, 0.6, 0.65], [20.0, 19.0, 19.5, 20.5]) == ["fails", "fails"]


def test_verify_t2i_teacher_and_curve_claims(tmp_path):
    """The mini targets as claims: the 4-step teacher at >= 0.5, its 1-step map clearly (>= 0.05) below, and
    Fig. 1c's last checkpoint above its first; each fails on inputs that miss it."""
    import pandas as pd

    from rdm_core.report.verify import claim_rows

    numbers = {"table2": {"source": "s", "geneval": {"teacher_nfe4": 0.794, "student_joint": 0.826},
                          "pickscore": {"teacher_nfe4": 22.58, "student_joint": 22.76},
                          "claims": {"t2i_teacher_reaches_bar": "bar", "t2i_one_step_teacher_below": "below"}},
               "fig1": {"source": "s", "curve": {0: [0.474, 19.95], 10: [0.797, 22.2], 90: [0.826, 22.76]},
                        "claims": {"t2i_curve_rises": "rises"}}}
    (tmp_path / "tables").mkdir()
    (tmp_path / "metrics" / "t2i").mkdir(parents=True)

    def verdicts(teacher4, teacher1, curve):
        ids = ["teacher_nfe4", "teacher_nfe1", "student_joint", "student_marginal"]
        pd.DataFrame({"id": ids, "GenEval": [teacher4, teacher1, 0.6, 0.5], "PickScore": [9.0, 8.0, 9.5, 9.1]}
                     ).to_csv(tmp_path / "tables" / "table2_t2i.csv")
        points = [{"step": s, "compute": 2.0 * s, "geneval": g, "pickscore": p} for s, g, p in curve]
        (tmp_path / "metrics" / "t2i" / "curve.json").write_text(json.dumps({"points": points[::-1]}))
        rows = {r["claim"]: r for r in claim_rows(tmp_path, numbers, {"table2": {}, "fig1": {}})}
        # the paper: teacher 0.794 >= 0.5 holds, the 1-step teacher is not published, its curve rises
        assert [rows[c]["in paper's numbers"] for c in ("bar", "below", "rises")] == ["holds", "n/a", "holds"]
        return [rows[c]["ours"] for c in ("bar", "below", "rises")], rows

    rising = [(0, 0.2, 7.0), (15, 0.4, 8.0), (30, 0.45, 8.5)]
    got, rows = verdicts(0.55, 0.30, rising)
    assert got == ["holds", "holds", "holds"]
    assert "0.550" in rows["bar"]["evidence"] and "0.300" in rows["below"]["evidence"]
    assert "0.200" in rows["rises"]["evidence"] and "0.450" in rows["rises"]["evidence"]
    assert verdicts(0.49, 0.30, rising)[0] == ["fails", "holds", "holds"]          # teacher short of the bar
    assert verdicts(0.55, 0.52, rising)[0] == ["holds", "fails", "holds"]          # 1 step only 0.03 below
    assert verdicts(0.55, 0.60, rising)[0] == ["holds", "fails", "holds"]          # 1 step above 4 steps
    falling_pick = [(0, 0.2, 8.0), (15, 0.4, 7.5), (30, 0.45, 7.9)]
    assert verdicts(0.55, 0.30, falling_pick)[0] == ["holds", "holds", "fails"]    # GenEval rises, PickScore not
    falling = [(0, 0.3, 7.0), (15, 0.4, 8.0), (30, 0.25, 8.5)]
    assert verdicts(0.55, 0.30, falling)[0] == ["holds", "holds", "fails"]         # the last point below the first


def test_table2_puts_the_real_row_first_without_nfe():
    from rdm_core.report.t2i import MODELS, table2

    def metrics(model, nfe, value):
        return {"model": model, "nfe": nfe, "geneval": {**{t: value for t in TASKS}, "overall": value},
                "pickscore": 10 * value}

    ms = {m: metrics(m, 4 if m == "teacher_nfe4" else 1, 0.1 * i) for i, m in enumerate(MODELS)}
    assert list(table2(ms)["id"]) == list(MODELS) and "real_val" not in set(table2(ms)["id"])
    t = table2({**ms, "real_val": metrics("real_val", None, 0.9)})
    assert list(t["id"]) == ["real_val", *MODELS] and t["NFE"].isna().tolist() == [True, False, False, False, False]
    assert t["GenEval"][0] == 0.9 and t["PickScore"][0] == 9.0 and t["NFE"].tolist()[1:] == [4, 1, 1, 1]
