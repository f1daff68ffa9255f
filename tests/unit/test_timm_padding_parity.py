"""Golden test (parity): patch-14 timm ViTs at sizes that are not a multiple of 14 (clip and dinov2 at 256,
siglip_v1 at 384) give the official TimmBackbone's features: same padded grid, same single resampling of the
checkpoint's position embeddings, same resize, normalisation and pooling (tests/data/official/README.md)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from rdm_core.representation.encoder import build_encoder
from rdm_core.representation.spec import get_spec

FIXTURE = Path(__file__).parents[1] / "data" / "official" / "timm_padding_official.safetensors"
CASES = ("clip", "dinov2", "siglip_v1")


def golden_meta() -> dict:
    with safe_open(FIXTURE, "pt") as f:
        meta = f.metadata()
    return {"cases": json.loads(meta["cases"]), "tiny": json.loads(meta["tiny"])}


def our_encoder(name: str, golden: dict, tmp_path: Path, **kwargs):
    """Our encoder for ``name``, shrunk to the fixture's widths, built from the official state dict saved as a
    checkpoint file (so the weights go through our loader and its position-embedding handling)."""
    spec = get_spec(name)
    tiny = golden_meta()["tiny"]
    spec = replace(spec, dim=tiny["embed_dim"],
                   options={**spec.options, "kwargs": {**spec.options.get("kwargs", {}), **tiny, **kwargs}})
    prefix = f"{name}/state/"
    save_file({k[len(prefix):]: v for k, v in golden.items() if k.startswith(prefix)},
              path := tmp_path / f"{name}.safetensors")
    return build_encoder(spec, str(path))


@pytest.mark.parametrize("name", CASES)
def test_timm_features_match_official(name, tmp_path):
    golden = load_file(FIXTURE)
    case = golden_meta()["cases"][name]
    enc = our_encoder(name, golden, tmp_path)
    size = enc.spec.input_size
    assert size == case["input_res"] and size % 14
    model = enc.backbone.model
    assert list(model.patch_embed(torch.zeros(1, 3, size, size)).shape[1:3]) == case["grid"]  # padded: ceil
    with torch.no_grad():
        ours = enc(golden["in/images01"])
    torch.testing.assert_close(ours, golden[f"{name}/out/features"], rtol=1e-5, atol=1e-5)


def test_fixture_tells_one_resampling_from_two(tmp_path):
    """The fixture can fail the test above: a model built at the input size (img_size=256) resamples the
    checkpoint's 16 x 16 position embeddings twice (to 18 x 18 at loading, to the padded 19 x 19 at run time) and
    its features move well past the tolerance."""
    golden = load_file(FIXTURE)
    enc = our_encoder("clip", golden, tmp_path, img_size=256)
    with torch.no_grad():
        twice = enc(golden["in/images01"])
    assert (twice - golden["clip/out/features"]).abs().max() > 1e-3
