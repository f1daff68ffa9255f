"""The coupled image-condition feature Phi(x, c) = [phi(x) | beta * tau(c)] (SPEC 1.4, paper eq. 4).

Under one Gaussian kernel of bandwidth sigma the joint kernel factorises,
k(Phi, Phi') = k_img(phi, phi'; sigma) * k_cond(tau, tau'; sigma / beta), so matching the joint law
matches the image law within each condition. At mini scale tau is the one-hot class code; for
text-to-image it is a frozen text tower.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def class_code(labels: Tensor, n_classes: int) -> Tensor:
    """tau(c) for class labels: the one-hot code [N, n_classes] (float32)."""
    return torch.nn.functional.one_hot(labels.long(), n_classes).float()


def joint_features(feats: Tensor, cond_code: Tensor, beta: float) -> Tensor:
    """Phi = [feats | beta * cond_code] [N, d + c]; the code is a constant (its gradient is dropped)."""
    if feats.shape[0] != cond_code.shape[0]:
        raise ValueError(f"{feats.shape[0]} feature rows but {cond_code.shape[0]} condition codes")
    return torch.cat([feats, beta * cond_code.detach().to(feats)], 1)


def cross_class_factor(beta_rel: float) -> float:
    """k_cond between two different one-hot classes when beta = beta_rel * sigma: exp(-beta_rel^2)."""
    return math.exp(-beta_rel ** 2)
