"""The mini-scale class-conditional one-step generator g(z, y) -> 28 px digit in [0, 1].

Its blocks normalise per sample (GroupNorm, no dropout or batch statistics), so the output of a sample
does not depend on the rest of the rollout or on train/eval mode: GradCache re-generates a chunk in its
second pass and gets the same images. :class:`FiLMBlock` is shared with the flow's velocity net.
"""

from __future__ import annotations

import torch
from torch import nn

SIZE = 28
OUTPUT_BIAS = -3.0  # initial output logit: a dark background (sigmoid 0.05), as in digit images


def group_norm(channels: int) -> nn.GroupNorm:
    """Per-sample normalisation (up to 8 groups), no affine: FiLM supplies the scale and shift."""
    return nn.GroupNorm(min(8, channels // 4) or 1, channels, affine=False)


class FiLMBlock(nn.Module):
    """conv -> GroupNorm -> FiLM(scale, shift from a conditioning vector) -> SiLU.

    ``kind`` is "same" (3x3), "down" (4x4, stride 2) or "up" (4x4 transposed, stride 2).
    """

    def __init__(self, cin: int, cout: int, cond_dim: int, kind: str = "same"):
        super().__init__()
        if kind == "same":
            self.conv = nn.Conv2d(cin, cout, 3, 1, 1)
        elif kind == "down":
            self.conv = nn.Conv2d(cin, cout, 4, 2, 1)
        elif kind == "up":
            self.conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1)
        else:
            raise ValueError(f"block kind must be 'same', 'down' or 'up', not '{kind}'")
        self.norm = group_norm(cout)
        self.film = nn.Linear(cond_dim, 2 * cout)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, 1)
        return nn.functional.silu(self.norm(self.conv(x)) * (1 + scale) + shift)


class OneStepGenerator(nn.Module):
    """g(z, y): [z | class embedding] -> 7x7 map -> FiLM up-block to 14x14 -> transposed conv to [N, 1, 28, 28].

    The class embedding conditions the input and the up-block (FiLM); the output is a sigmoid whose
    logits start dark. Only the single-channel output runs at 28 px, which keeps the generator a small
    part of a step next to the battery.
    """

    def __init__(self, z_dim: int = 32, n_classes: int = 10, width: int = 32, emb_dim: int = 32):
        super().__init__()
        self.z_dim, self.n_classes, self.width = z_dim, n_classes, width
        self.embed = nn.Embedding(n_classes, emb_dim)
        self.stem = nn.Linear(z_dim + emb_dim, 2 * width * 7 * 7)
        self.stem_norm = group_norm(2 * width)
        self.up = FiLMBlock(2 * width, width, emb_dim, "up")
        self.out = nn.ConvTranspose2d(width, 1, 4, 2, 1)
        nn.init.constant_(self.out.bias, OUTPUT_BIAS)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        e = self.embed(y)
        h = self.stem(torch.cat([z, e], 1)).view(-1, 2 * self.width, 7, 7)
        h = self.up(nn.functional.silu(self.stem_norm(h)), e)
        return torch.sigmoid(self.out(h))

    def sample_inputs(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise z ~ N(0, I) [n, z_dim] and labels uniform over the classes [n], from ``generator``."""
        z = torch.randn(n, self.z_dim, generator=generator)
        y = torch.randint(0, self.n_classes, (n,), generator=generator)
        return z, y
