"""The mini text-to-image generators: a caption-conditional flow-matching teacher and its one-step student.

Both are the same network: the conv velocity net of :mod:`.flow` on 32 px RGB compositions, conditioned on
the caption's frozen text embedding tau(c), optionally predicting the clean image (``predicts="data"``) from
which the velocity follows. The teacher is sampled with several Euler steps; the student is the one-step
Euler map ``x = z - v(z, 1, tau)`` initialised from the teacher and post-trained.
Noise is drawn per sample from its own seed (SPEC 2.5: seed = base + prompt_index * 100 + sample_index),
so the same prompt and sample index give the same noise to every model.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..data.compose import CANVAS, CELL, GRID
from ..data.npz import to_pixels
from ..io import load_tensors, save_tensors
from .flow import VelocityNet, sample

SHAPE = (3, CANVAS, CANVAS)
PREDICTS = ("velocity", "data")
T_MIN = 0.05  # a data-predicting net divides by max(t, T_MIN): bounded near t = 0 (samplers stop at t >= 1/steps)


class Standardise(nn.Module):
    """tau -> (tau - mean) / std per dimension, with the train captions' statistics (buffers, saved with the net).

    Sentence embeddings of the captions share one large common part ("a photo of ..."); the words that tell
    captions apart move tau only a little, so the raw embedding conveys digit and colour slowly (measured:
    mini GenEval of the 4-step teacher after 800 steps 0.063 raw, 0.262 standardised)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, tau: Tensor) -> "Standardise":
        self.mean.copy_(tau.mean(0))
        self.std.copy_(tau.std(0).clamp_min(1e-6))
        return self

    def forward(self, tau: Tensor) -> Tensor:
        return (tau - self.mean) / self.std


class CaptionVelocityNet(VelocityNet):
    """The velocity net of :mod:`.flow` on RGB compositions, conditioned on the standardised text embedding
    twice: globally (FiLM of every block) and spatially, by a layout map (an MLP of tau gives ``layout_ch``
    channels per grid cell, broadcast over the cell and stacked with the input patches), since FiLM alone is
    the same at every pixel and cannot say which cell holds what.

    ``predicts="data"``: the network's output is the clean image u_hat (x-prediction) and the velocity is
    v = (x_t - u_hat) / t, so the last Euler step lands on u_hat instead of leaving the noise a velocity error
    did not remove (measured: mini GenEval of the 4-step teacher after 800 steps 0.230 velocity, 0.394 data),
    and the one-step map z - v(z, 1) is u_hat(z, 1) itself."""

    def __init__(self, text_dim: int, width: int = 32, emb_dim: int = 64, layout_ch: int = 16,
                 predicts: str = "velocity"):
        if predicts not in PREDICTS:
            raise ValueError(f"predicts must be one of {PREDICTS}, not {predicts!r}")
        super().__init__(Standardise(text_dim), text_dim, width, emb_dim, channels=3)
        self.predicts = predicts
        self.layout_ch = layout_ch
        self.layout = nn.Sequential(nn.Linear(text_dim, 256), nn.SiLU(), nn.Linear(256, layout_ch * GRID * GRID))
        self.inp = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4 * 3 + layout_ch, width, 3, 1, 1))

    def stem(self, x: Tensor, c: Tensor) -> Tensor:
        grid = self.layout(self.cond(c)).view(-1, self.layout_ch, GRID, GRID)
        grid = nn.functional.interpolate(grid, scale_factor=CELL // 2, mode="nearest")
        return self.inp[1](torch.cat([self.inp[0](x), grid], 1))

    def forward(self, x: Tensor, t: Tensor, c: Tensor) -> Tensor:
        out = super().forward(x, t, c)
        if self.predicts == "velocity":
            return out
        return (x - out) / t.clamp_min(T_MIN)[:, None, None, None]


def caption_net(text_dim: int, width: int = 32, emb_dim: int = 64, layout_ch: int = 16,
                predicts: str = "velocity") -> CaptionVelocityNet:
    """The caption-conditional velocity net for text embeddings of width ``text_dim``."""
    return CaptionVelocityNet(text_dim, width, emb_dim, layout_ch, predicts)


def architecture(net: CaptionVelocityNet) -> dict:
    return {"kind": "t2i_flow", "text_dim": net.cond_proj.in_features, "width": net.inp[1].out_channels,
            "emb_dim": net.cond_proj.out_features, "layout_ch": net.layout_ch, "predicts": net.predicts}


def save_t2i(path: str | os.PathLike, net: CaptionVelocityNet, made_by: Mapping) -> None:
    save_tensors(path, net.state_dict(), {"architecture": architecture(net), "made_by": dict(made_by)})


def load_t2i(path: str | os.PathLike) -> tuple[CaptionVelocityNet, dict]:
    """(net in eval mode, {"architecture", "made_by"}) from a file written by :func:`save_t2i`."""
    tensors, meta = load_tensors(path)
    arch = json.loads(meta.get("architecture", "{}"))
    if arch.get("kind") != "t2i_flow":
        raise ValueError(f"{path}: not a text-to-image generator file (architecture {arch or 'missing'})")
    net = caption_net(arch["text_dim"], arch["width"], arch["emb_dim"], arch["layout_ch"],
                      arch.get("predicts", "velocity"))  # files written before x-prediction: velocity
    net.load_state_dict(tensors)
    return net.eval(), {"architecture": arch, "made_by": json.loads(meta.get("made_by", "{}"))}


class OneStepStudent(nn.Module):
    """g(z, tau) = one Euler step of the velocity net from t = 1: images in [0, 1] [N, 3, 32, 32]."""

    def __init__(self, net: VelocityNet):
        super().__init__()
        self.net = net

    def forward(self, z: Tensor, tau: Tensor) -> Tensor:
        return sample(self.net, z, tau, 1)


def sample_seeds(n_prompts: int, k: int, base: int) -> list[list[int]]:
    """Per-sample noise seeds: base + prompt_index * 100 + sample_index (k <= 100 samples per prompt)."""
    if not 1 <= k <= 100:
        raise ValueError(f"samples per prompt must be in 1..100, got {k}")
    return [[base + p * 100 + s for s in range(k)] for p in range(n_prompts)]


def seeded_noise(seeds: Sequence[int], shape: tuple[int, ...] = SHAPE) -> Tensor:
    """One noise tensor per seed, each from its own generator: [len(seeds), *shape]."""
    return torch.stack([torch.randn(*shape, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


@torch.no_grad()
def render(net: VelocityNet, tau: Tensor, seeds: Sequence[int], nfe: int, batch: int = 512) -> Tensor:
    """Images [n, 3, 32, 32] in [0, 1] for conditions ``tau`` [n, d], noise from ``seeds``, ``nfe`` Euler steps."""
    if len(seeds) != len(tau):
        raise ValueError(f"{len(seeds)} seeds for {len(tau)} conditions")
    z = seeded_noise(seeds)
    return torch.cat([sample(net, zb, cb, nfe) for zb, cb in zip(z.split(batch), tau.split(batch))])


def render_prompts(net: VelocityNet, prompts: Sequence[Mapping], text: Callable[[Sequence[str]], Tensor], k: int,
                   seed_base: int, nfe: int) -> tuple[Tensor, list[Mapping]]:
    """k samples of every prompt (metadata records with a ``prompt``), sample s of prompt p from the seed
    base + p * 100 + s; returns the images and the record of each image (prompt-major)."""
    rows = [m for m in prompts for _ in range(k)]
    seeds = [s for per_prompt in sample_seeds(len(prompts), k, seed_base) for s in per_prompt]
    return render(net, text([m["prompt"] for m in rows]), seeds, nfe), rows


def to_uint8_hwc(images: Tensor) -> Tensor:
    """[n, 3, H, W] in [0, 1] -> uint8 [n, H, W, 3]."""
    return to_pixels(images).contiguous()
