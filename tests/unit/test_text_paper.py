"""The SigLIP2 text tower tau through open_clip's local-dir loading, on a tiny random text config."""

from __future__ import annotations

import pytest
import torch

from rdm_core.representation.text_paper import encode_prompts, load_text_tower
from tiny_t2i import save_siglip2_text

@pytest.fixture(scope="module")
def tiny_siglip(tmp_path_factory):
    return save_siglip2_text(tmp_path_factory.mktemp("weights") / "siglip2_text")


def test_text_tower_is_l2_normalised_and_loads_the_saved_weights(tiny_siglip, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root, model = tiny_siglip
    tower = load_text_tower(root)
    assert tower.model.visual is None and not any(p.requires_grad for p in tower.parameters())
    prompts = ["a photo of a dog", "two red cat", "a cat"]
    tau = encode_prompts(tower, prompts, batch=2)
    assert tau.shape == (3, 16)
    torch.testing.assert_close(tau.norm(dim=1), torch.ones(3))
    import open_clip

    tokens = open_clip.get_tokenizer(f"local-dir:{root}")(prompts)
    with torch.no_grad():
        want = torch.nn.functional.normalize(model.double().encode_text(tokens), dim=-1)
    torch.testing.assert_close(tau.double(), want, atol=1e-5, rtol=1e-5)


def test_text_tower_needs_a_local_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch_t2i_weights"):
        load_text_tower(tmp_path)
