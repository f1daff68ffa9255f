"""pMF-H (MiT) on a tiny random configuration: shapes, RoPE against complex multiplication, one-step
sampling, gradients, and checkpoint loading (containers, the ignored v head, clear errors)."""

import pytest
import torch

from rdm_core.generators.pmf import Guidance, MiT, MiTConfig, OneStepPMF, apply_rope, load_pmf, rope_2d

TINY = MiTConfig(input_size=32, patch_size=8, hidden=32, depth=3, heads=2, head_depth=1, bottleneck=8,
                 num_classes=10, class_tokens=2, time_tokens=1, cfg_tokens=1, interval_tokens=1)


def tiny_net(seed=0):
    torch.manual_seed(seed)
    net = MiT(TINY)
    for p in net.parameters():  # the zero-initialised gates and output would hide every path
        torch.nn.init.normal_(p, std=0.2)
    return net


def test_mit_h_has_the_released_size():
    cfg = MiTConfig()
    assert (cfg.depth, cfg.hidden, cfg.heads, cfg.patch_size, cfg.bottleneck) == (48, 1280, 16, 16, 256)
    with torch.device("meta"):
        n = sum(p.numel() for p in MiT(cfg).parameters())
    assert 0.9e9 < n < 1.0e9  # 3.8 GB in fp32, the size of the released checkpoint


def test_rope_matches_complex_rotation():
    head_dim, grid = 8, 3
    table = rope_2d(head_dim, grid)
    x = torch.randn(2, 1, 4 + grid * grid, head_dim, dtype=torch.float64)
    out = apply_rope(x.float(), table).double()
    assert torch.equal(out[:, :, :4], x[:, :, :4].float().double())  # prefix tokens are not rotated
    quarter = head_dim // 4
    freqs = 1.0 / 10000.0 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    for r in range(grid):
        for c in range(grid):
            angle = torch.cat([r * freqs, c * freqs])
            z = torch.view_as_complex(x[:, :, 4 + r * grid + c].reshape(2, 1, -1, 2).contiguous())
            want = torch.view_as_real(z * torch.polar(torch.ones_like(angle), angle)).reshape(2, 1, -1)
            torch.testing.assert_close(out[:, :, 4 + r * grid + c], want, atol=1e-5, rtol=1e-5)


def test_one_step_sampling_shape_range_and_gradient():
    gen = OneStepPMF(tiny_net())
    z = gen.noise(3, torch.Generator().manual_seed(0))
    assert z.shape == (3, 3, 32, 32)
    x = gen(z, torch.tensor([0, 5, 10]))  # 10 = the null class
    assert x.shape == (3, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    x.mean().backward()
    grads = [p.grad for p in gen.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_class_and_guidance_inputs_change_the_output():
    net = tiny_net()
    z, ones = torch.randn(2, 3, 32, 32), torch.ones(2)
    base = net(z, ones, ones, 7 * ones, 0.2 * ones, 0.6 * ones, torch.tensor([1, 2]))
    assert not torch.allclose(base, net(z, ones, ones, 7 * ones, 0.2 * ones, 0.6 * ones, torch.tensor([3, 4])))
    assert not torch.allclose(base, net(z, ones, ones, 2 * ones, 0.2 * ones, 0.6 * ones, torch.tensor([1, 2])))


@pytest.mark.parametrize("container", ["plain", "model", "prefixed", "safetensors"])
def test_load_checkpoint_containers(tmp_path, container):
    net = tiny_net(1)
    state = dict(net.state_dict())
    state["v_heads.0.attn_scale"] = torch.zeros(TINY.hidden)  # the auxiliary head of a training checkpoint
    if container == "safetensors":
        from safetensors.torch import save_file
        path = tmp_path / "pmf.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        path = tmp_path / "pmf.pth"
        wrapped = {"model": state} if container == "model" else (
            {f"net.{k}": v for k, v in state.items()} if container == "prefixed" else state)
        torch.save(wrapped, path)
    gen = load_pmf(path, TINY)
    z, y = torch.randn(2, 3, 32, 32), torch.tensor([1, 2])
    torch.testing.assert_close(gen(z, y), OneStepPMF(net)(z, y))


def test_load_errors_name_the_file_and_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pth.*fetch_generators"):
        load_pmf(tmp_path / "missing.pth", TINY)
    state = tiny_net().state_dict()
    state.pop("pos_embed")
    state["x_embedder.proj1.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"bad\.pth.*missing keys: pos_embed.*shape mismatches \(file vs model\): "
                                         r"x_embedder\.proj1\.weight \(1,\) vs \(8, 3, 8, 8\)"):
        load_pmf(tmp_path / "bad.pth", TINY)


def test_render_gives_matched_noise_and_uint8_pixels():
    from rdm_core.generators.pmf import render

    gen = OneStepPMF(tiny_net(), Guidance(noise_scale=1.0))
    labels = torch.tensor([3, 1, 4, 1, 5])
    a = render(gen, labels, seed=1, batch=2)
    assert a.dtype == torch.uint8 and a.shape == (5, 32, 32, 3)
    assert torch.equal(a, render(gen, labels, seed=1, batch=5))  # the batch size does not change the noise
    assert not torch.equal(a, render(gen, labels, seed=2, batch=2))
    z = gen.noise(5, torch.Generator().manual_seed(1))  # sample i's noise: the i-th draw from the seed
    want = (gen(z, labels).permute(0, 2, 3, 1) * 255).round().to(torch.uint8)
    assert torch.equal(a, want)


def test_first_of_classes_and_rgb_grid():
    import numpy as np

    from rdm_core.report.classcond import _grid, first_of_classes

    labels = torch.tensor([0, 1, 0, 2, 1, 0, 11])
    images = torch.arange(7, dtype=torch.float32).view(7, 1, 1, 1).expand(7, 3, 2, 2) / 10
    x, y = first_of_classes([(images[:4], labels[:4]), (images[4:], labels[4:])], per_class=2, n_classes=3)
    assert y.tolist() == [0, 1, 0, 2, 1] and np.allclose(x[:, 0, 0, 0], [0, 0.1, 0.2, 0.3, 0.4])
    grid = _grid(x, y, per_class=2, n_classes=3)
    assert grid.shape == (6, 4, 3) and np.allclose(grid[0:2, 2:4], 0.2) and np.allclose(grid[4:6, 2:4], 1.0)
