"""Golden test (parity): the FID Inception input equals the official one for two fixed images."""

from pathlib import Path

from safetensors.torch import load_file
import torch

from rdm_core.representation.encoder import preprocess
from rdm_core.representation.paper import SPECS

FIXTURE = Path(__file__).parents[1] / "data" / "official" / "inception_input_official.safetensors"


def test_inception_input_matches_official():
    golden = load_file(FIXTURE)
    spec = next(s for s in SPECS if s.name == "inception")
    ours = preprocess(golden["in/images01"], spec)
    assert ours.shape == golden["out/inception_input"].shape
    torch.testing.assert_close(ours, golden["out/inception_input"], rtol=0, atol=1e-5)


def test_inception_input_differs_from_half_pixel_resize():
    """The fixture tells the TF-1 resize from torch's half-pixel bilinear, so the test above can fail."""
    golden = load_file(FIXTURE)
    half_pixel = torch.nn.functional.interpolate(golden["in/images01"], size=(299, 299), mode="bilinear",
                                                 align_corners=False) * 2 - 1
    assert (half_pixel - golden["out/inception_input"]).abs().max() > 1e-2
