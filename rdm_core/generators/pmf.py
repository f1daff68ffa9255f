"""pMF-H: the pixel MeanFlow one-step generator that iRDM post-trains on ImageNet-256 (SPEC 4.1).

Our PyTorch implementation of the MiT backbone (MeanFlow improved Transformer): a bottleneck patch
embedding of the 3 x 256 x 256 image (no VAE), in-context conditioning tokens for the class, the CFG scale
omega, the guidance interval [t_min, t_max] and the time gap h = t - r, prepended to the patch tokens; a
learned position embedding over the whole sequence; blocks of RMSNorm + QK-normalised attention with 2-D
RoPE on the patch tokens + SwiGLU MLP, both residual branches gated by zero-initialised vectors; a shared
trunk followed by the average-velocity (u) head (the auxiliary v head is only needed to train pMF from
scratch and is not built). The net predicts the clean image; u = (z - x_pred) / clamp(t, 0.05, 1). The
scalar conditions enter through sinusoidal features of the value itself (h, 1 - 1/omega, t_min, t_max in
[0, 1]), as the released network was trained.

One-step sampling: z ~ N(0, noise_scale^2 I), t = 1, r = 0, x = z - u(z, t=1, h=1, omega, t_min, t_max, y),
images in [-1, 1] mapped to [0, 1]. CFG is an input of the net (omega = 7.0 on [0.2, 0.6] for pMF-H). The
official trainer and renderer draw standard-normal noise (noise_scale 1.0 = img_size / 256, the pMF default);
FD-Loss's own sampler scales it by 2.0 for pMF-H.

The state dict has the key layout of the released checkpoints after the official converter
(``<layer>.linear.weight``, ``y_embedder.embedding_table.embedding.weight``, tokens [N, D]), so a released file
loads by name; :func:`convert_checkpoint` maps the upstream spellings and :func:`load_pmf_state` names every key
that still does not fit.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.npz import to_pixels
from ..representation.precision import check_precision


@dataclasses.dataclass(frozen=True)
class MiTConfig:
    """Sizes of a MiT; the defaults are MiT-H/16 (SPEC 4.1)."""

    input_size: int = 256
    patch_size: int = 16
    in_channels: int = 3
    hidden: int = 1280
    depth: int = 48
    heads: int = 16
    head_depth: int = 8           # blocks of the u head after the shared trunk
    bottleneck: int = 256
    mlp_ratio: float = 8 / 3
    num_classes: int = 1000
    class_tokens: int = 8
    time_tokens: int = 4
    cfg_tokens: int = 4
    interval_tokens: int = 2

    @property
    def grid(self) -> int:
        return self.input_size // self.patch_size

    @property
    def prefix(self) -> int:
        """Conditioning tokens before the patch tokens."""
        return self.class_tokens + self.cfg_tokens + 2 * self.interval_tokens + self.time_tokens

    @property
    def mlp_width(self) -> int:
        """SwiGLU width: hidden x mlp_ratio, rounded up to a multiple of 8 above hidden 1024 (3416 at MiT-H)."""
        width = int(self.hidden * self.mlp_ratio)
        return -(-width // 8) * 8 if self.hidden > 1024 else width


class Dense(nn.Module):
    """A linear layer stored one level down (``<name>.linear.weight``), the released checkpoints' layout."""

    def __init__(self, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        return (self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps))).to(x.dtype)


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1, self.w3, self.w2 = Dense(dim, hidden, False), Dense(dim, hidden, False), Dense(hidden, dim, False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class TimestepEmbedder(nn.Module):
    """Scalar s -> [cos(s f), sin(s f)] over 128 log-spaced frequencies f in (1e-4, 1] -> MLP -> hidden."""

    def __init__(self, hidden: int, n_freq: int = 256):
        super().__init__()
        self.n_freq = n_freq
        self.mlp = nn.Sequential(Dense(n_freq, hidden), nn.SiLU(), Dense(hidden, hidden))

    def forward(self, t: Tensor) -> Tensor:
        half = self.n_freq // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half).to(t.device)
        args = t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], -1))


class LabelEmbedder(nn.Module):
    """Class id -> hidden; the table has one extra row, the null class of CFG."""

    def __init__(self, num_classes: int, hidden: int):
        super().__init__()
        self.embedding_table = nn.Module()
        self.embedding_table.embedding = nn.Embedding(num_classes + 1, hidden)

    def forward(self, y: Tensor) -> Tensor:
        return self.embedding_table.embedding(y)


def rope_2d(head_dim: int, grid: int, theta: float = 10000.0) -> Tensor:
    """cos/sin tables [grid^2, head_dim / 2, 2] of the 2-D rotary embedding: half the rotation pairs
    follow the patch row, half the column (angles in fp32, as the released network was trained)."""
    quarter = head_dim // 4
    freqs = 1.0 / theta ** (torch.arange(quarter, dtype=torch.float32) / quarter)
    pos = torch.arange(grid, dtype=torch.float32)
    rows = (pos[:, None, None] * freqs).expand(grid, grid, quarter)
    cols = (pos[None, :, None] * freqs).expand(grid, grid, quarter)
    angles = torch.cat([rows, cols], -1).reshape(grid * grid, 2 * quarter)
    return torch.stack([angles.cos(), angles.sin()], -1)


def apply_rope(x: Tensor, table: Tensor) -> Tensor:
    """Rotate consecutive pairs of the last ``len(table)`` tokens of x [B, heads, L, head_dim]."""
    n = table.shape[0]
    head, tail = x[:, :, :-n], x[:, :, -n:]
    pairs = tail.float().reshape(*tail.shape[:-1], -1, 2)
    cos, sin = table[..., 0], table[..., 1]
    a, b = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([a * cos - b * sin, a * sin + b * cos], -1).reshape(tail.shape).to(x.dtype)
    return torch.cat([head, rotated], 2)


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (Dense(hidden, hidden, False) for _ in range(4))
        self.q_norm, self.k_norm = RMSNorm(self.head_dim), RMSNorm(self.head_dim)

    def forward(self, x: Tensor, rope: Tensor) -> Tensor:
        B, L, D = x.shape
        split = lambda t: t.view(B, L, self.heads, self.head_dim).transpose(1, 2)  # noqa: E731
        q = apply_rope(self.q_norm(split(self.q_proj(x))), rope)
        k = apply_rope(self.k_norm(split(self.k_proj(x))), rope)
        out = F.scaled_dot_product_attention(q, k, split(self.v_proj(x)))
        return self.out_proj(out.transpose(1, 2).reshape(B, L, D))


class Block(nn.Module):
    """Pre-norm attention and SwiGLU, each residual branch gated by a zero-initialised vector."""

    def __init__(self, cfg: MiTConfig):
        super().__init__()
        self.norm1, self.attn = RMSNorm(cfg.hidden), Attention(cfg.hidden, cfg.heads)
        self.norm2, self.mlp = RMSNorm(cfg.hidden), SwiGLU(cfg.hidden, cfg.mlp_width)
        self.attn_scale = nn.Parameter(torch.zeros(cfg.hidden))
        self.mlp_scale = nn.Parameter(torch.zeros(cfg.hidden))

    def forward(self, x: Tensor, rope: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x), rope) * self.attn_scale
        return x + self.mlp(self.norm2(x)) * self.mlp_scale


class BottleneckPatchEmbed(nn.Module):
    """Patchify through a low-rank bottleneck: p x p x C -> ``bottleneck`` -> hidden."""

    def __init__(self, cfg: MiTConfig):
        super().__init__()
        p = cfg.patch_size
        self.proj1 = nn.Conv2d(cfg.in_channels, cfg.bottleneck, p, p)
        self.proj2 = nn.Conv2d(cfg.bottleneck, cfg.hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj2(self.proj1(x)).flatten(2).transpose(1, 2)


class FinalLayer(nn.Module):
    def __init__(self, cfg: MiTConfig):
        super().__init__()
        self.norm = RMSNorm(cfg.hidden)
        self.linear = Dense(cfg.hidden, cfg.patch_size ** 2 * cfg.in_channels)
        nn.init.zeros_(self.linear.linear.weight)
        nn.init.zeros_(self.linear.linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.norm(x))


class MiT(nn.Module):
    """The MiT average-velocity network u(z, t, h, omega, t_min, t_max, y) (u head only)."""

    def __init__(self, cfg: MiTConfig = MiTConfig()):
        super().__init__()
        self.cfg = cfg
        D = cfg.hidden
        self.x_embedder = BottleneckPatchEmbed(cfg)
        self.h_embedder, self.omega_embedder = TimestepEmbedder(D), TimestepEmbedder(D)
        self.cfg_t_start_embedder, self.cfg_t_end_embedder = TimestepEmbedder(D), TimestepEmbedder(D)
        self.y_embedder = LabelEmbedder(cfg.num_classes, D)
        token = lambda n: nn.Parameter(torch.randn(n, D) / math.sqrt(D))  # noqa: E731
        self.class_tokens, self.omega_tokens = token(cfg.class_tokens), token(cfg.cfg_tokens)
        self.t_min_tokens, self.t_max_tokens = token(cfg.interval_tokens), token(cfg.interval_tokens)
        self.time_tokens = token(cfg.time_tokens)
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, cfg.prefix + cfg.grid ** 2, D))
        self.register_buffer("rope", rope_2d(D // cfg.heads, cfg.grid), persistent=False)
        self.shared_blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth - cfg.head_depth))
        self.u_heads = nn.ModuleList(Block(cfg) for _ in range(cfg.head_depth))
        self.u_final_layer = FinalLayer(cfg)

    def unpatchify(self, tokens: Tensor) -> Tensor:
        c, p, g = self.cfg.in_channels, self.cfg.patch_size, self.cfg.grid
        x = tokens.reshape(tokens.shape[0], g, g, p, p, c)
        return x.permute(0, 5, 1, 3, 2, 4).reshape(tokens.shape[0], c, g * p, g * p)

    def forward(self, z: Tensor, t: Tensor, h: Tensor, omega: Tensor, t_min: Tensor, t_max: Tensor,
                y: Tensor) -> Tensor:
        """z [B, 3, H, W]; t, h, omega, t_min, t_max [B]; y [B] class ids (num_classes = null)."""
        cond = lambda tokens, emb: tokens + emb[:, None]  # noqa: E731
        seq = torch.cat([cond(self.class_tokens, self.y_embedder(y)),
                         cond(self.omega_tokens, self.omega_embedder(1 - 1 / omega)),
                         cond(self.t_min_tokens, self.cfg_t_start_embedder(t_min)),
                         cond(self.t_max_tokens, self.cfg_t_end_embedder(t_max)),
                         cond(self.time_tokens, self.h_embedder(h)),
                         self.x_embedder(z)], 1) + self.pos_embed
        for block in (*self.shared_blocks, *self.u_heads):
            seq = block(seq, self.rope)
        x_pred = self.unpatchify(self.u_final_layer(seq[:, self.cfg.prefix:]))
        return (z - x_pred) / t.clamp(0.05, 1.0).view(-1, 1, 1, 1)


@dataclasses.dataclass(frozen=True)
class Guidance:
    """Class-conditional sampling settings of pMF-H (SPEC 4.1); noise_scale 1.0 is the official iRDM rollout's."""

    omega: float = 7.0
    t_min: float = 0.2
    t_max: float = 0.6
    noise_scale: float = 1.0


class OneStepPMF(nn.Module):
    """x = z - u(z, t=1, h=1): a one-step class-conditional generator with images in [0, 1]. ``precision`` "bf16"
    runs the net under bf16 autocast on CUDA, as the official generator does (fp32 on the CPU); "fp32" never
    autocasts."""

    def __init__(self, net: MiT, guidance: Guidance = Guidance(), precision: str = "bf16"):
        super().__init__()
        self.net, self.guidance, self.precision = net, guidance, check_precision(precision, "pMF-H precision")

    def noise(self, n: int, generator: torch.Generator, device: str | torch.device = "cpu") -> Tensor:
        c, s = self.net.cfg.in_channels, self.net.cfg.input_size
        return self.guidance.noise_scale * torch.randn(n, c, s, s, generator=generator, device=device)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        g = self.guidance
        full = lambda v: torch.full((z.shape[0],), float(v), device=z.device)  # noqa: E731
        bf16 = self.precision == "bf16" and z.device.type == "cuda"
        with torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=bf16):
            x = z - self.net(z, full(1.0), full(1.0), full(g.omega), full(g.t_min), full(g.t_max), y)
        return (x * 0.5 + 0.5).clamp(0, 1)


V_HEAD = ("v_heads.", "v_final_layer.")  # the auxiliary head of a training checkpoint, not built here


def convert_checkpoint(state: Mapping) -> dict[str, Tensor]:
    """A pMF checkpoint's MiT state dict in our layout: the weights of a ``{"model": ...}`` (or
    ``{"state_dict": ...}``) container with any ``module.`` / ``net.`` prefix removed, the upstream spellings
    ``._flax_linear.`` / ``._flax_embedding.`` renamed ``.linear.`` / ``.embedding.``, tokens [1, N, D] squeezed
    to [N, D], and the ``rope_freqs`` buffer and the v head dropped (what the official converter accepts)."""
    for key in ("model", "state_dict"):
        if isinstance(state.get(key), Mapping):
            state = state[key]
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.").removeprefix("net.")
        key = key.replace("._flax_linear.", ".linear.").replace("._flax_embedding.", ".embedding.")
        if "rope_freqs" in key or key.startswith(V_HEAD):
            continue
        if key.endswith("_tokens") and value.dim() == 3 and value.shape[0] == 1:
            value = value[0]
        out[key] = value
    return out


def load_pmf_state(model: MiT, state: Mapping, source: str | os.PathLike) -> None:
    """Load a pMF checkpoint (any layout :func:`convert_checkpoint` maps) into ``model``; any other mismatch
    raises, naming the keys."""
    state = convert_checkpoint(state)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        show = lambda keys: ", ".join(keys[:5]) + (f" (+{len(keys) - 5})" if len(keys) > 5 else "")  # noqa: E731
        raise ValueError(f"{source}: not a MiT checkpoint of this configuration; missing keys: "
                         f"{show(missing) or 'none'}; unexpected: {show(unexpected) or 'none'}; "
                         f"shape mismatches (file vs model): {show(shapes) or 'none'}")
    model.load_state_dict(state)


def read_checkpoint(path: str | os.PathLike, trusted: bool = False) -> Mapping:
    """The contents of a .safetensors or torch checkpoint file. A torch file that ``weights_only`` loading
    refuses (pickled objects besides tensors, as training checkpoints may hold) is unpickled only when ``trusted``."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file
        return load_file(str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trusted:
            lines = [ln.strip() for ln in str(err).splitlines() if "WeightsUnpickler error" in ln]
            reason = (lines or [str(err).strip().splitlines()[-1]])[0][:200]
            raise ValueError(f"{path}: safe loading (torch.load weights_only=True) refuses the checkpoint: it "
                             f"holds pickled objects besides tensors ({reason}). Unpickling can run code: only if "
                             "you trust the file's source, set imagenet.generator.trusted: true in the config"
                             ) from err
        return torch.load(path, map_location="cpu", weights_only=False)


def load_pmf(path: str | os.PathLike, cfg: MiTConfig = MiTConfig(), guidance: Guidance = Guidance(),
             precision: str = "bf16", trusted: bool = False) -> OneStepPMF:
    """The one-step pMF generator from a checkpoint file (.pth / .pt, or .safetensors); ``trusted`` allows a
    pickled file (see :func:`read_checkpoint`)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"pMF-H checkpoint {path} is missing; fetch it with the fetch_generators rule "
                                "(snakemake --cores 1 --configfile=config/paper.yaml fetch_generators)")
    net = MiT(cfg)
    load_pmf_state(net, read_checkpoint(path, trusted), path)
    return OneStepPMF(net, guidance, precision)


def load_configured_pmf(path: str | os.PathLike, settings: Mapping) -> OneStepPMF:
    """:func:`load_pmf` with the ``imagenet.generator`` settings as the rules pass them (mit, guidance, precision,
    trusted)."""
    return load_pmf(path, MiTConfig(**settings["mit"]), Guidance(**settings["guidance"]), settings["precision"],
                    settings["trusted"])


@torch.no_grad()
def render(generator: OneStepPMF, labels: Tensor, seed: int, batch: int = 64,
           device: str | torch.device = "cpu") -> Tensor:
    """One-step renders of ``labels`` as uint8 pixels [n, H, W, 3]; the noise of sample i is drawn in order from
    one generator seeded by ``seed``, so two generators given the same labels and seed see matched noise."""
    gen = torch.Generator().manual_seed(seed)
    s, c = generator.net.cfg.input_size, generator.net.cfg.in_channels
    out = [to_pixels(generator(generator.noise(len(y), gen).to(device), y.to(device)))
           for y in labels.split(batch)]
    return torch.cat(out) if out else torch.empty(0, s, s, c, dtype=torch.uint8)
