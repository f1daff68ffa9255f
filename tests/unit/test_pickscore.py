"""PickScore through transformers on a tiny random CLIP and processor saved locally (offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rdm_core.eval.pickscore import load_pickscore, mean_score, to_uint8
from rdm_core.eval.preference import win_rate
from tiny_t2i import save_pickscore


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("pickscore")
    save_pickscore(root / "model", root / "processor")
    return root


def test_score_is_logit_scale_times_cosine(tiny_clip, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer = load_pickscore(tiny_clip / "model", tiny_clip / "processor")
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    prompts = ["a dog", "two cats", "red"]
    scores = scorer.score(images, prompts)
    assert scores.shape == (3,)
    # reference: the model's own logits_per_image (logit_scale.exp() * cos) on the diagonal, in float64
    from PIL import Image

    inputs = scorer.processor(text=prompts, images=[Image.fromarray(im) for im in images], padding=True,
                              return_tensors="pt")
    model = scorer.model.double()
    with torch.no_grad():
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                       pixel_values=inputs["pixel_values"].double()).logits_per_image
    torch.testing.assert_close(scores.double(), logits.diagonal(), atol=1e-4, rtol=1e-4)
    assert (scores.abs() <= model.logit_scale.exp().item() + 1e-4).all()


def test_uint8_conversion_and_win_rates(tiny_clip):
    scorer = load_pickscore(tiny_clip / "model", tiny_clip / "processor")
    x = torch.rand(4, 3, 32, 32)
    u8 = to_uint8(x)
    assert u8.dtype == np.uint8 and u8.shape == (4, 32, 32, 3)
    assert u8[1, 2, 3, 0] == round(float(x[1, 0, 2, 3]) * 255)
    a = scorer.score(u8, ["a dog"] * 4)
    b = scorer.score(to_uint8(x.flip(0)), ["a dog"] * 4)  # matched pairs: same prompt
    assert win_rate(a, a)["win_rate"] == 0.5
    assert win_rate(a, b)["win_rate"] + win_rate(b, a)["win_rate"] == pytest.approx(1.0)
    assert mean_score(a)["pickscore"] == pytest.approx(float(a.mean()))
    with pytest.raises(ValueError, match="prompts"):
        scorer.score(u8, ["a dog"])
