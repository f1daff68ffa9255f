"""Image encoders phi of the mini text-to-image objective: cheap frozen encoders of 32 px RGB compositions
that see the digits, their colours and their layout.

- ``cell_<battery encoder>``: a mini battery encoder (e.g. ``sup_cnn``) applied to each grid cell's grey
  level (max over RGB), the cells' features concatenated in grid order (digit identity and layout);
- ``rgb_randconv``: fixed random RGB conv features averaged per cell (colour and layout, no training);
- ``rgb_ae``: a small RGB conv autoencoder trained on the train compositions (colour, shape and layout).
None of them is used by the mini GenEval or PickScore scorers, which are held-out models of their own.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.compose import GRID, cells
from ..io import load_tensors
from ..optim import FusedAdamW
from .spec import freeze

TRAINED = ("rgb_ae",)
FIXED = ("rgb_randconv",)


class CellEncoder(nn.Module):
    """A grey-image encoder applied per cell to max(R, G, B); features [N, 4 * d] in grid order."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Tensor) -> Tensor:
        grey = cells(x).amax(1, keepdim=True)
        return self.encoder(grey).reshape(x.shape[0], -1)


class RGBRandomConv(nn.Module):
    """Fixed random RGB conv (5x5/2, 3x3/2, ReLU) averaged over the 2 x 2 cells: [N, 4 * 32]."""

    def __init__(self, width: int = 16, out: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, width, 5, 2, 2), nn.ReLU(), nn.Conv2d(width, out, 3, 2, 1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(GRID), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(2 * x - 1)


class RGBAutoencoder(nn.Module):
    """Conv autoencoder of the compositions; the features are its 64-d bottleneck."""

    def __init__(self, dim: int = 64):
        super().__init__()
        self.encode = nn.Sequential(nn.Conv2d(3, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
                                    nn.Flatten(), nn.Linear(32 * 8 * 8, dim))
        self.decode = nn.Sequential(nn.Linear(dim, 32 * 8 * 8), nn.ReLU(), nn.Unflatten(1, (32, 8, 8)),
                                    nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(16, 3, 4, 2, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.encode(2 * x - 1)

    def loss(self, x: Tensor) -> Tensor:
        return F.mse_loss(torch.sigmoid(self.decode(self(x))), x)


FACTORIES: dict[str, Callable[[], nn.Module]] = {"rgb_randconv": RGBRandomConv, "rgb_ae": RGBAutoencoder}


def build_rgb_encoder(name: str, seed: int) -> nn.Module:
    if name not in FACTORIES:
        raise KeyError(f"unknown t2i encoder '{name}'; known: {', '.join(FACTORIES)} and cell_<battery encoder>")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return FACTORIES[name]()


def train_rgb_encoder(name: str, images: Tensor, seed: int, steps: int, batch: int, lr: float) -> dict[str, Tensor]:
    """The state dict of one RGB encoder: trained on ``images`` [N, 3, 32, 32] in [0, 1] (AdamW, seeded
    minibatches) if it has a training objective, else only initialised from ``seed``."""
    model = build_rgb_encoder(name, seed)
    if name in TRAINED:
        opt = FusedAdamW(model.parameters(), lr=lr, weight_decay=0.0)
        gen = torch.Generator().manual_seed(seed + 1)
        for _ in range(steps):
            loss = model.loss(images[torch.randint(0, len(images), (batch,), generator=gen)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def t2i_encoders(names, states: Mapping[str, Mapping[str, Tensor]],
                 battery: Callable[[str], nn.Module]) -> dict[str, nn.Module]:
    """Frozen phi's by name: ``cell_<b>`` wraps ``battery(b)`` (a frozen battery encoder), the others load
    their state from ``states``."""
    out = {}
    for name in names:
        if name.startswith("cell_"):
            model = CellEncoder(battery(name[len("cell_"):]))
        else:
            model = build_rgb_encoder(name, 0)
            model.load_state_dict(states[name])
        out[name] = freeze(model)
    return out



def load_t2i_encoders(names, path: str | os.PathLike, battery: Callable[[str], nn.Module]) -> dict[str, nn.Module]:
    """:func:`t2i_encoders` with the RGB encoders' states read from the file the t2i_encoders rule writes."""
    tensors, _ = load_tensors(path)
    states = {n: {k[len(n) + 1:]: v for k, v in tensors.items() if k.startswith(f"{n}.")} for n in names}
    missing = [n for n in names if not n.startswith("cell_") and not states[n]]
    if missing:
        raise KeyError(f"{path}: no weights for t2i encoder(s) {missing}")
    return t2i_encoders(names, states, battery)
