"""AdamW on PyTorch's fused kernel, without ``torch.optim``'s step wrappers.

``torch.optim.Optimizer.step`` imports ``torch._dynamo`` on its first call: about 1.7 s per process on
the mini machine's cores, paid by each of the pipeline's many short training jobs, plus about 0.1 ms
of Python per step. :class:`FusedAdamW` calls the kernel that ``torch.optim.AdamW(fused=True)`` uses,
with the same per-parameter step counts, so its updates are that optimizer's, bit for bit (tested).
With ``weight_decay=0`` it is Adam.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


class FusedAdamW:
    """AdamW over a fixed list of parameters; a parameter whose ``.grad`` is None is skipped that step."""

    def __init__(self, params: Iterable[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        self.params = list(params)
        if not self.params:
            raise ValueError("FusedAdamW got no parameters")
        self.lr, self.betas, self.eps, self.weight_decay = float(lr), betas, float(eps), float(weight_decay)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient, grouped by (device, dtype) per kernel call."""
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(self.params):
            if p.grad is not None:
                groups.setdefault((p.device, p.dtype), []).append(i)
        for idx in groups.values():
            steps = [self.steps[i] for i in idx]
            torch._foreach_add_(steps, 1.0)
            torch._fused_adamw_([self.params[i] for i in idx], [self.params[i].grad for i in idx],
                                [self.exp_avg[i] for i in idx], [self.exp_avg_sq[i] for i in idx], [], steps,
                                lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                                weight_decay=self.weight_decay, eps=self.eps, amsgrad=False, maximize=False)

    def state_dict(self) -> dict:
        return {"lr": self.lr, "step": [s.clone() for s in self.steps],
                "exp_avg": [t.clone() for t in self.exp_avg], "exp_avg_sq": [t.clone() for t in self.exp_avg_sq]}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` of an optimizer over parameters of the same shapes, in order."""
        if len(state["exp_avg"]) != len(self.params):
            raise ValueError(f"optimizer state holds {len(state['exp_avg'])} parameters, this one has "
                             f"{len(self.params)}")
        self.lr = float(state["lr"])
        for mine, saved in zip((self.steps, self.exp_avg, self.exp_avg_sq),
                               (state["step"], state["exp_avg"], state["exp_avg_sq"])):
            for t, s in zip(mine, saved):
                t.copy_(s)
