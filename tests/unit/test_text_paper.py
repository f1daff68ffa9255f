"""The SigLIP2 text tower tau through open_clip's local-dir loading, on a tiny random text config."""

from __future__ import annotations

import json

import pytest
import torch

from rdm_core.representation.text_paper import encode_prompts, load_text_tower

WORDS = ["<pad>", "<unk>", "<eos>", "a", "photo", "of", "dog", "cat", "red", "two"]


@pytest.fixture(scope="module")
def tiny_siglip(tmp_path_factory):
    """An open_clip folder in the layout of timm/ViT-SO400M-16-SigLIP2-256: config, weights, HF tokenizer."""
    import open_clip
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("siglip2_text")
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                            eos_token="<eos>").save_pretrained(root)
    cfg = {"embed_dim": 16, "custom_text": True, "init_logit_bias": -10,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
           "text_cfg": {"context_length": 8, "vocab_size": len(WORDS), "hf_tokenizer_name": "tiny",
                        "tokenizer_kwargs": {"clean": "canonicalize"}, "width": 32, "heads": 2, "layers": 1,
                        "no_causal_mask": True, "proj_bias": True, "pool_type": "last"}}
    (root / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{root}", pretrained_text=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(root / "open_clip_model.safetensors"))
    return root, model


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
