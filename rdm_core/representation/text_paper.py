"""Paper-scale text-to-image models: where their weights come from, and the SigLIP2 text tower tau (SPEC 1.4).

The weights of FLUX.2 [klein], the SigLIP2 text tower and PickScore are resolved like the encoder panel's
(:mod:`rdm_core.representation.weights`): looked up in ``<weights_dir>/<name>/`` or the local Hugging Face
cache, never downloaded at run time; the Snakemake rule ``fetch_t2i_weights`` fetches them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from . import precision as policy
from .spec import freeze
from .weights import MissingWeightsError, fetch_weights, resolve_weights

T2I_FETCH_HINT = ("fetch it first with the local Snakemake rule `fetch_t2i_weights` (on a node with network: "
                  "`snakemake --cores 1 --configfile=config/paper.yaml fetch_all_t2i_weights`)")
SIGLIP2_TEXT = "ViT-SO400M-16-SigLIP2-256"


@dataclass(frozen=True)
class T2IModel:
    """A pretrained model of the text-to-image stage and its weights source (``options['weights']``)."""

    name: str
    checkpoint: str
    options: dict = field(default_factory=dict, hash=False, compare=False)


def _hf(name: str, repo: str, files: tuple[str, ...], allow: tuple[str, ...]) -> T2IModel:
    return T2IModel(name, repo, {"weights": {"repo": repo, "files": files, "allow": allow}})


T2I_MODELS = {m.name: m for m in (
    # diffusers layout: transformer, vae, scheduler, text_encoder (Qwen3), tokenizer
    _hf("flux2_klein", "black-forest-labs/FLUX.2-klein-4B",
        ("model_index.json", "transformer/config.json", "vae/config.json", "scheduler/scheduler_config.json",
         "text_encoder/config.json", "tokenizer/tokenizer_config.json"),
        ("*.json", "*.safetensors", "*.txt", "*.jinja")),
    # open_clip local-dir layout: open_clip_config.json, open_clip_model.safetensors, the Gemma tokenizer
    _hf("siglip2_text", f"timm/{SIGLIP2_TEXT}", ("open_clip_config.json", "open_clip_model.safetensors"),
        ("*.json", "*.safetensors", "*.model")),
    _hf("pickscore", "yuvalkirstain/PickScore_v1", ("config.json",), ("*.json", "*.safetensors", "*.bin")),
    # the image processor's settings are in preprocessor_config.json (or processor_config.json when re-saved)
    _hf("pickscore_processor", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", ("tokenizer_config.json",),
        ("*.json", "*.txt")),
)}


def t2i_model(name: str) -> T2IModel:
    try:
        return T2I_MODELS[name]
    except KeyError:
        raise KeyError(f"unknown text-to-image model '{name}'; known: {', '.join(T2I_MODELS)}") from None


def resolve_t2i_weights(name: str, weights_dir: str | os.PathLike | None = None,
                        hf_cache: str | os.PathLike | None = None) -> str:
    """Local folder of a text-to-image model's weights; fails at once, naming the folder and the fetch rule."""
    model = t2i_model(name)
    try:
        return resolve_weights(model, weights_dir, hf_cache)
    except MissingWeightsError as err:
        raise FileNotFoundError(f"text-to-image model '{name}' ({model.checkpoint}): weights not found "
                                f"(expected {err.expected} under "
                                f"{Path(weights_dir) / name if weights_dir else 'the weights dir'} or the HF "
                                f"cache). Nothing is downloaded at run time: {T2I_FETCH_HINT}.") from None


def fetch_t2i_weights(name: str, dest: str | os.PathLike) -> str:
    """Download a text-to-image model's weights into ``<dest>/<name>/`` (only the fetch rule calls this)."""
    return fetch_weights(t2i_model(name), dest)


class TextTower(nn.Module):
    """tau: prompts -> L2-normalised fp32 text embeddings [n, d] of an open_clip model's text tower (frozen), under
    the ``precision`` policy (:mod:`~rdm_core.representation.precision`; bf16 autocast on CUDA, as the official)."""

    def __init__(self, model: nn.Module, tokenizer, precision: str = "bf16"):
        super().__init__()
        self.model, self.tokenizer = freeze(model), tokenizer
        self.precision = policy.check_precision(precision)
        if hasattr(self.model, "visual"):  # the image tower is never used
            self.model.visual = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def forward(self, prompts: list[str]) -> Tensor:
        tokens = self.tokenizer(list(prompts)).to(self.device)
        with policy.encoder_autocast("siglip2_text", self.device, self.precision):
            return self.model.encode_text(tokens, normalize=True).float()


def load_text_tower(path: str | os.PathLike, device: str | torch.device = "cpu", precision: str = "bf16"
                    ) -> TextTower:
    """The text tower of an open_clip model stored in a local folder (``open_clip_config.json``, weights
    and tokenizer files, as in the HF repo ``timm/ViT-SO400M-16-SigLIP2-256``); nothing is downloaded."""
    import open_clip

    path = Path(path)
    if not (path / "open_clip_config.json").is_file():
        raise FileNotFoundError(f"{path}: no open_clip_config.json; {T2I_FETCH_HINT}")
    spec = f"local-dir:{path}"
    model = open_clip.create_model(spec, device=device, pretrained_text=False, require_pretrained=True)
    return TextTower(model, open_clip.get_tokenizer(spec), precision)


def encode_prompts(tower: TextTower, prompts: list[str], batch: int = 1024) -> Tensor:
    """tau of every prompt [n, d] (CPU, fp32), in batches."""
    return torch.cat([tower(prompts[i:i + batch]).cpu() for i in range(0, len(prompts), batch)])
