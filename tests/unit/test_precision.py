"""The encoders' precision policy (rdm_core.representation.precision): what it decides, that encoders really run
under it, and that every path (reference features, training, evaluation, the text tower) takes it from
``battery.precision``. Consistency with the official rule (rdm/representation/battery.py,
rdm/refprep/extract_features.py at 391e274), not golden parity: the official code enters
``torch.autocast("cuda", ...)`` with the device type fixed, so on a CPU it never autocasts and gives no bf16
numbers to hold ours against."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import types
from pathlib import Path

import pytest
import torch
from snakemake.iocontainers import Namedlist
from torch import nn

import rdm_core.eval
import rdm_core.reference.cache
import rdm_core.representation.text_paper
from rdm_core.io import read_json, save_tensors, write_json
from rdm_core.representation import precision as policy
from rdm_core.representation.encoder import Encoder
from rdm_core.representation.paper import PANEL
from rdm_core.representation.spec import get_spec

ROOT = Path(__file__).parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"
CUDA = torch.device("cuda", 0)  # only its type is read: no GPU needed


def test_bf16_on_cuda_for_every_encoder_but_inception():
    for name in PANEL:
        want = None if name == "inception" else torch.bfloat16
        assert policy.autocast_dtype(name, CUDA, "bf16") is want, name
        assert policy.autocast_dtype(name, "cuda", "fp32") is None, name
        assert policy.autocast_dtype(name, "cpu", "bf16") is None, name
    with pytest.raises(ValueError, match="battery.precision"):
        policy.autocast_dtype("clip", CUDA, "fp16")


def test_fp32_set_is_the_official_one():
    """The official keeps in fp32 exactly the encoders whose backbone sets ``has_logits``: only
    ``InceptionBackbone`` does (rdm/representation/backbones/*.py at 391e274), built for the registry's
    ``source: inception`` specs."""
    official = json.loads((ROOT / "tests" / "data" / "official" / "battery_official.json").read_text())["specs"]
    assert {s["name"] for s in official if s["source"] == "inception"} == policy.FP32_ENCODERS


class DtypeProbe(nn.Module):
    """A backbone that records the dtype its linear layer computes in."""

    def __init__(self, d_in: int):
        super().__init__()
        self.flat, self.linear, self.seen = nn.Flatten(), nn.Linear(d_in, 4), []

    def forward(self, x):
        y = self.linear(self.flat(x))
        self.seen.append(y.dtype)
        return y


def small(name: str):
    return get_spec(name).__class__(**{**vars(get_spec(name)), "input_size": 4, "dim": 4})


@pytest.fixture
def cpu_as_cuda(monkeypatch):
    """The policy as it decides for a CUDA device, applied on the CPU (CPU autocast does bf16 for real)."""
    decide = policy.autocast_dtype
    monkeypatch.setattr(policy, "autocast_dtype", lambda name, device, precision="bf16": decide(name, CUDA, precision))


@pytest.mark.parametrize("name,precision,want", [("clip", "bf16", torch.bfloat16), ("inception", "bf16", torch.float32),
                                                 ("clip", "fp32", torch.float32)])
def test_encoder_runs_under_the_policy(cpu_as_cuda, name, precision, want):
    probe = DtypeProbe(3 * 4 * 4)
    enc = Encoder(small(name), probe, precision)
    feats = enc(torch.rand(2, 3, 4, 4))
    assert probe.seen == [want] and feats.dtype == torch.float32


def test_fp32_encoder_disables_an_enclosing_autocast(cpu_as_cuda):
    probe = DtypeProbe(3 * 4 * 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        Encoder(small("inception"), probe)(torch.rand(2, 3, 4, 4))
    assert probe.seen == [torch.float32]


def test_autocast_is_entered_only_through_the_policy():
    """No encoder path opens its own autocast: outside the policy only the generators (their own
    ``precision`` keys) and the FID Inception's guard against an enclosing one."""
    allowed = {"rdm_core/representation/precision.py", "rdm_core/generators/pmf.py", "rdm_core/generators/flux2.py",
               "rdm_core/representation/fid_inception.py"}
    found = {str(p.relative_to(ROOT)) for d in ("rdm_core", "workflow/scripts") for p in (ROOT / d).rglob("*.py")
             if re.search(r"torch\.(cuda\.amp\.)?autocast\(", p.read_text())}
    assert found <= allowed, found - allowed


# --- every path takes battery.precision ---------------------------------------------------------------------

class Reached(Exception):
    """Raised by a stand-in once the script has handed over what the test looks at."""


def run_script(script: str, tmp_path: Path, params: dict, inputs: dict | None = None,
               wildcards: dict | None = None, outputs: dict | None = None):
    snakemake = types.SimpleNamespace(
        params=types.SimpleNamespace(**params), input=Namedlist(fromdict=inputs or {}),
        output=types.SimpleNamespace(**(outputs or {})), log=[str(tmp_path / "log")], threads=1,
        wildcards=types.SimpleNamespace(**(wildcards or {})), resources=types.SimpleNamespace(gpu=1))
    with pytest.raises(Reached):
        runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": snakemake})


@pytest.fixture
def loads(monkeypatch):
    """Every battery encoder the scripts load, as (name, precision); loading stops the script."""
    seen = []

    def load(name, scale_dir, weights_dir=None, precision="bf16"):
        seen.append((name, precision))
        raise Reached

    monkeypatch.setattr(rdm_core.reference.cache, "load_battery_encoder", load)
    monkeypatch.setattr(rdm_core.eval, "load_battery", lambda scale_dir, names, loader: loader(names[0]))
    return seen


def test_reference_features_take_the_key(loads, tmp_path):
    run_script("features.py", tmp_path, {"scale_dir": "s", "weights_dir": None, "precision": "fp32", "device": "cpu"},
               wildcards={"encoder": "clip"})
    assert loads == [("clip", "fp32")]


def test_t2i_reference_features_take_the_key(loads, tmp_path):
    write_json(pairs := tmp_path / "pairs.json", {"pairs": [], "sha256": "x"})
    run_script("t2i_paper_features.py", tmp_path, {"scale_dir": "s", "weights_dir": None, "precision": "fp32",
                                                   "device": "cpu"},
               inputs={"pairs": str(pairs)}, wildcards={"encoder": "clip"})
    assert loads == [("clip", "fp32")]


@pytest.mark.parametrize("script", ["probes.py", "cc_evaluate.py"])
def test_evaluation_takes_the_key(loads, tmp_path, script):
    save_tensors(samples := tmp_path / "samples.safetensors", {"images": torch.zeros(1, 1, 2, 2),
                                                                "labels": torch.zeros(1, dtype=torch.long)})
    run_script(script, tmp_path, {"names": ["clip"], "scale_dir": "s", "precision": "fp32", "device": "cpu",
                                  "batch": 1, "classifier": None}, inputs={"samples": str(samples)})
    assert loads == [("clip", "fp32")]


def test_text_tower_takes_the_key(monkeypatch, tmp_path):
    seen = []

    def load(path, device="cpu", precision="bf16"):
        seen.append(precision)
        raise Reached

    monkeypatch.setattr(rdm_core.representation.text_paper, "resolve_t2i_weights", lambda name, d: "w")
    monkeypatch.setattr(rdm_core.representation.text_paper, "load_text_tower", load)
    write_json(prompts := tmp_path / "prompts.json", {"prompts": ["a"]})
    run_script("t2i_paper_text.py", tmp_path, {"weights_dir": None, "precision": "fp32", "device": "cpu", "batch": 1},
               inputs={"prompts": str(prompts)})
    assert seen == ["fp32"]


def test_pmf_training_takes_the_key(loads, monkeypatch, tmp_path):
    """The irdm_arm script writes battery.precision into RUN.json and the trainer loads its encoders with it."""
    import rdm_core.reference.build
    import rdm_core.train.pmf as pmf

    def launched(cmd, **kwargs):
        raise Reached

    monkeypatch.setattr(subprocess, "run", launched)
    base = tmp_path / "base.safetensors"
    base.write_bytes(b"")  # the resume key reads the inputs' names, sizes and mtimes
    run_script("pmf_irdm_arm.py", tmp_path, {"workdir": str(tmp_path / "work"), "cfg": {"encoders": ["clip"]},
                                             "generator": {}, "scale_dir": "s", "weights_dir": None,
                                             "encoder_precision": "fp32"},
               inputs={"base": str(base)}, wildcards={"arm": "irdm"}, outputs={"weights": "w", "done": "d"})
    runs = list((tmp_path / "work").rglob("run.json"))
    assert len(runs) == 1 and read_json(runs[0])["encoder_precision"] == "fp32"

    generator = types.SimpleNamespace(to=lambda device: types.SimpleNamespace(train=lambda: None))
    monkeypatch.setattr(pmf, "load_configured_pmf", lambda base, run: generator)
    monkeypatch.setattr(rdm_core.reference.build, "load_reference", lambda path: {})
    with pytest.raises(Reached):
        pmf.main([str(runs[0])])
    assert loads == [("clip", "fp32")]
