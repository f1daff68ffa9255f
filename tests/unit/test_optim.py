"""FusedAdamW: torch.optim's fused Adam/AdamW bit for bit, the textbook update in float64, resumable
state, and no torch._dynamo import (its reason to exist)."""

import subprocess
import sys

import pytest
import torch

from rdm_core.optim import FusedAdamW


def _model(dtype=torch.float32):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)).to(dtype)


def _train(model, opt, steps, seed=1, drop_bias_every=3):
    """Steps on a seeded quadratic; every ``drop_bias_every``-th step (if given) the last bias has no
    gradient."""
    gen = torch.Generator().manual_seed(seed)
    for k in range(steps):
        x = torch.randn(4, 5, generator=gen, dtype=next(model.parameters()).dtype)
        opt.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        if drop_bias_every and k % drop_bias_every == 0:
            model[2].bias.grad = None
        opt.step()


@pytest.mark.parametrize("reference, kwargs", [
    (torch.optim.Adam, {"weight_decay": 0.0}),
    (torch.optim.AdamW, {"weight_decay": 0.01}),
    (torch.optim.AdamW, {"weight_decay": 0.0, "betas": (0.9, 0.95)}),
])
def test_equals_torch_fused_optimizer_bitwise(reference, kwargs):
    a, b = _model(), _model()
    _train(a, reference(a.parameters(), lr=1e-2, fused=True, **kwargs), 20)
    _train(b, FusedAdamW(b.parameters(), lr=1e-2, **kwargs), 20)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_matches_textbook_adamw_in_float64():
    lr, (b1, b2), eps, wd = 1e-2, (0.9, 0.95), 1e-8, 0.1
    model = _model(torch.float64)
    start = [p.detach().clone() for p in model.parameters()]
    _train(model, FusedAdamW(model.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), 7,
           drop_bias_every=None)
    # the same steps by the formula, one parameter at a time
    ref = _model(torch.float64)
    params = list(ref.parameters())
    m, v = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    gen = torch.Generator().manual_seed(1)
    for t in range(1, 8):
        x = torch.randn(4, 5, generator=gen, dtype=torch.float64)
        grads = torch.autograd.grad(ref(x).square().mean(), params)
        with torch.no_grad():
            for p, g, mi, vi in zip(params, grads, m, v):
                p.mul_(1 - lr * wd)
                mi.copy_(b1 * mi + (1 - b1) * g)
                vi.copy_(b2 * vi + (1 - b2) * g * g)
                p.sub_(lr * (mi / (1 - b1 ** t)) / ((vi / (1 - b2 ** t)).sqrt() + eps))
    for p, q, p0 in zip(model.parameters(), params, start):
        assert not torch.equal(p, p0)
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


def test_state_dict_resumes_exactly():
    whole = _model()
    _train(whole, FusedAdamW(whole.parameters(), lr=1e-2), 10)
    first = _model()
    opt = FusedAdamW(first.parameters(), lr=1e-2)
    _train(first, opt, 5)
    state, weights = opt.state_dict(), first.state_dict()
    resumed = _model()
    resumed.load_state_dict(weights)
    opt2 = FusedAdamW(resumed.parameters(), lr=1.0)
    opt2.load_state_dict(state)
    assert opt2.lr == 1e-2
    _train(resumed, opt2, 5, seed=2)
    _train(first, opt, 5, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), resumed.parameters()))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="no parameters"):
        FusedAdamW([], lr=1e-3)
    opt = FusedAdamW(_model().parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="holds 1 parameters, this one has 4"):
        opt.load_state_dict({"lr": 1e-3, "step": [torch.zeros(())], "exp_avg": [torch.zeros(1)],
                             "exp_avg_sq": [torch.zeros(1)]})


def test_does_not_import_dynamo():
    code = ("import sys, torch\n"
            "from rdm_core.optim import FusedAdamW\n"
            "w = torch.nn.Parameter(torch.ones(3)); opt = FusedAdamW([w], lr=0.1)\n"
            "w.sum().backward(); opt.step()\n"
            "assert not torch.equal(w.detach(), torch.ones(3))\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
