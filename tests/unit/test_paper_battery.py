"""The paper's 14-encoder panel: specs, poolings, and every loader on tiny random models saved locally
(no network, no pretrained weights), through the same loading code as the real checkpoints."""

from __future__ import annotations

import hashlib
import sys
import textwrap
import time
import types
from collections import namedtuple
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from rdm_core.representation import fid_inception, paper
from rdm_core.representation.encoder import build_encoder, preprocess
from rdm_core.representation.pooling import attn_pool, avg_pool, cls_pool, patch_mean, summary_pool
from rdm_core.representation.spec import LOADERS, REGISTRY, EncoderSpec, get_spec
from rdm_core.representation.weights import (MissingWeightsError, expected_path, fetch_weights,
                                             resolve_weights, weights_sha256)

# SPEC 2.1: name -> (checkpoint, input res, pool, dim, split), in panel (table column) order.
PANEL = {
    "inception": (paper.FID_INCEPTION_URL, 299, "AVG", 2048, "train"),
    "convnext": ("timm/convnextv2_base.fcmae_ft_in22k_in1k", 224, "AVG", 1024, "train"),
    "mae": ("timm/vit_large_patch16_224.mae", 224, "AVG", 1024, "train"),
    "clip": ("timm/vit_large_patch14_clip_224.openai", 256, "CLS", 1024, "train"),
    "dinov3_l": ("timm/vit_large_patch16_dinov3.lvd1689m", 224, "CLS", 1024, "train"),
    "pe_core_l": ("timm/vit_pe_core_large_patch14_336.fb", 224, "ATTN", 1024, "train"),
    "siglip2": ("timm/vit_so400m_patch16_siglip_256.v2_webli", 224, "ATTN", 1152, "train"),
    "aimv2_huge": ("timm/aimv2_huge_patch14_224.apple_pt", 224, "AVG", 1536, "train"),
    "webssl_dino_1b": ("facebook/webssl-dino1b-full2b-224", 224, "CLS", 1536, "train"),
    "dreamsim": ("dreamsim:ensemble", 224, "CLS", 1792, "train"),
    "dinov2": ("timm/vit_large_patch14_dinov2.lvd142m", 256, "CLS", 1024, "heldout"),
    "siglip_v1": ("timm/vit_so400m_patch14_siglip_384.webli", 384, "ATTN", 1152, "heldout"),
    "cradiov3_l": ("nvidia/C-RADIOv3-L", 256, "SUMMARY", 3072, "heldout"),
    "flux_vae": ("black-forest-labs/FLUX.1-schnell/vae", 256, "PATCH_MEAN", 1024, "heldout"),
}
TIMM = [n for n in PANEL if get_spec(n).loader == "timm"]


def images(n=2, size=256, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def tiny(spec: EncoderSpec, dim: int, **kwargs) -> EncoderSpec:
    """The spec with architecture kwargs overridden (same loader, same loading code)."""
    return replace(spec, dim=dim, options={**spec.options, "kwargs": {**spec.options.get("kwargs", {}), **kwargs}})


# --- the panel ----------------------------------------------------------------------------------------

def test_panel_order_dims_pools_splits():
    assert paper.PANEL == tuple(PANEL)
    for name, (ckpt, size, pool, dim, split) in PANEL.items():
        spec = REGISTRY[name]
        assert (spec.checkpoint, spec.input_size, spec.pool, spec.dim, spec.split) == (ckpt, size, pool, dim, split)
        assert spec.loader in LOADERS and len(spec.mean) == len(spec.std) == spec.in_channels == 3
        assert spec.options["weights"]
    splits = [REGISTRY[n].split for n in PANEL]
    assert splits == ["train"] * 10 + ["heldout"] * 4


def test_normalisations_are_the_models_own():
    assert get_spec("clip").mean == paper.OPENAI_CLIP[0] and get_spec("aimv2_huge").std == paper.OPENAI_CLIP[1]
    assert get_spec("dinov2").mean == (0.485, 0.456, 0.406) and get_spec("siglip2").mean == (0.5,) * 3
    for name in TIMM:  # agrees with timm's pretrained_cfg for the checkpoint
        import timm.models

        cfg = timm.models.get_pretrained_cfg(get_spec(name).options["model"])
        assert tuple(cfg.mean) == get_spec(name).mean and tuple(cfg.std) == get_spec(name).std
    x = torch.full((1, 3, 299, 299), 128 / 255)
    x[..., 0, 0], x[..., 0, 1] = 0.0, 1.0
    y = preprocess(x, get_spec("inception"))[0, 0, 0, :3]  # 299 px: the TF-1 resize is the identity
    assert torch.allclose(y, torch.tensor([-1.0, 1.0, 1 / 255]), atol=1e-6)  # official: 2 x - 1
    vae = get_spec("flux_vae")
    x = torch.zeros(1, 3, 256, 256)
    x[..., 128:] = 1.0
    assert vae.resize == "bilinear" and preprocess(x, vae).aminmax() == (-1.0, 1.0)


# --- poolings -----------------------------------------------------------------------------------------

def test_cls_and_avg_pool():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)
    assert torch.equal(cls_pool(tokens), tokens[:, 0])
    assert torch.allclose(avg_pool(tokens, num_prefix_tokens=1), tokens[:, 1:].sum(1) / 4)
    assert torch.allclose(avg_pool(tokens), tokens.mean(1))
    fmap = torch.randn(2, 7, 3, 4)
    assert torch.allclose(avg_pool(fmap), fmap.flatten(2).mean(-1))


def test_attn_pool_needs_a_head():
    with pytest.raises(ValueError, match="attention-pool head"):
        attn_pool(torch.zeros(1, 4, 8), None)
    head = torch.nn.Linear(8, 8)
    assert attn_pool(torch.ones(1, 4, 8), lambda t: head(t).mean(1)).shape == (1, 8)


def test_summary_pool_forms():
    s, f = torch.randn(2, 3, 4), torch.randn(2, 10, 4)
    radio_out = namedtuple("RadioOutput", "summary features")(s, f)
    for out in (radio_out, (s, f), {"backbone": radio_out}):
        assert torch.equal(summary_pool(out), s.flatten(1))


def test_patch_mean_matches_hand_computed_mean():
    z = torch.randn(2, 16, 32, 32)
    got = patch_mean(z, 4)
    assert got.shape == (2, 1024)
    want = torch.empty(2, 16, 8, 8)
    for i in range(8):
        for j in range(8):
            want[:, :, i, j] = z[:, :, 4 * i:4 * i + 4, 4 * j:4 * j + 4].mean(dim=(2, 3))
    assert torch.allclose(got, want.flatten(1), atol=1e-6)
    assert got[1, 8 * 8 * 3 + 8 * 2 + 5] == pytest.approx(z[1, 3, 8:12, 20:24].mean().item(), abs=1e-6)
    with pytest.raises(ValueError, match="divisible"):
        patch_mean(torch.zeros(1, 16, 30, 30), 4)


# --- timm loaders -------------------------------------------------------------------------------------

def _tiny_timm_kwargs(spec):
    if spec.options["model"].startswith("convnext"):
        return 16, dict(depths=(1, 1, 1, 1), dims=(8, 8, 8, 16))
    return 32, dict(depth=1, embed_dim=32, num_heads=2)


@pytest.mark.parametrize("name", TIMM)
def test_timm_loader_on_tiny_checkpoint(name, tmp_path):
    """A tiny model of the same architecture, saved with a classifier head at the checkpoint's native
    resolution, loads through the real loader (head dropped, every weight as saved: the position embeddings
    keep their native grid and are resampled at run time, as the official)."""
    import timm

    spec = get_spec(name)
    dim, kw = _tiny_timm_kwargs(spec)
    native = dict(spec.options["kwargs"], **kw)
    torch.manual_seed(0)
    ref = timm.create_model(spec.options["model"], pretrained=False, num_classes=7, **native)
    sd = {k: v.contiguous() for k, v in ref.state_dict().items()}
    if name in ("clip", "siglip2", "dinov3_l", "convnext"):  # timm hub layout; the others as torch files
        save_file(sd, path := tmp_path / "model.safetensors")
    else:
        torch.save(sd, path := tmp_path / "model.pth")

    small = tiny(spec, dim, **kw)
    enc = build_encoder(small, str(path))
    x = images(2)
    feats = enc(x)
    assert feats.shape == (2, dim) and torch.isfinite(feats).all()
    assert not any(p.requires_grad for p in enc.parameters())

    model, saved = enc.backbone.model, ref.state_dict()
    for key, value in model.state_dict().items():  # every weight really loaded, unchanged
        assert torch.equal(value, saved[key]), key
    if hasattr(model, "global_pool"):  # the pooling agrees with timm's own ViT head where they coincide
        with torch.no_grad():
            tokens = model.forward_features(preprocess(x, small))
            if {"token": "CLS", "map": "ATTN", "avg": "AVG"}.get(model.global_pool) == spec.pool:
                assert torch.allclose(feats, model.forward_head(tokens, pre_logits=True), atol=1e-5)
            if spec.pool == "CLS":
                assert torch.equal(feats, tokens[:, 0])


@pytest.mark.parametrize("name", TIMM)
def test_real_timm_architecture_gives_spec_dim(name):
    """The full-size architecture at the spec's resolution, on the meta device (shapes only)."""
    spec = get_spec(name)
    with torch.device("meta"):
        feats = LOADERS["timm"](spec, None)(torch.empty(2, 3, spec.input_size, spec.input_size))
    assert feats.shape == (2, spec.dim)


def test_timm_loader_rejects_incomplete_checkpoint_and_wrong_dim(tmp_path):
    import timm

    spec = get_spec("mae")
    dim, kw = _tiny_timm_kwargs(spec)
    sd = timm.create_model(spec.options["model"], pretrained=False, num_classes=0, **kw).state_dict()
    del sd["blocks.0.attn.qkv.weight"]
    torch.save(sd, tmp_path / "broken.pth")
    with pytest.raises(RuntimeError, match="blocks.0.attn.qkv.weight"):
        LOADERS["timm"](tiny(spec, dim, **kw), str(tmp_path / "broken.pth"))
    with pytest.raises(ValueError, match="spec says 1024"):
        LOADERS["timm"](tiny(spec, 1024, **kw), None)


def to_openai_clip(state_dict: dict, proj_dim: int = 16) -> dict:
    """A timm CLIP tower's state dict in the OpenAI/open_clip layout (``visual.*``)."""
    swaps = (("patch_embed.proj", "conv1"), ("norm_pre", "ln_pre"), ("blocks.", "transformer.resblocks."),
             (".norm1", ".ln_1"), (".norm2", ".ln_2"), ("attn.qkv.", "attn.in_proj_"),
             ("attn.proj", "attn.out_proj"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"))
    out = {"visual.class_embedding": state_dict["cls_token"][0, 0],
           "visual.positional_embedding": state_dict["pos_embed"][0]}
    for k, v in state_dict.items():
        if k in ("cls_token", "pos_embed"):
            continue
        for a, b in swaps:
            k = k.replace(a, b)
        out["visual." + ("ln_post." + k[5:] if k.startswith("norm.") else k)] = v
    out["visual.proj"] = torch.randn(state_dict["cls_token"].shape[-1], proj_dim)
    return out


def test_timm_loader_converts_an_openai_clip_state_dict(tmp_path):
    """An OpenAI/open_clip-layout visual tower loads through the same timm filter (projection dropped)."""
    import timm

    spec = get_spec("clip")
    kw = dict(depth=1, embed_dim=32, num_heads=2)
    ref = timm.create_model(spec.options["model"], pretrained=False, num_classes=0,
                            dynamic_img_size=True, dynamic_img_pad=True, **kw).eval()  # as the official
    torch.save(to_openai_clip(ref.state_dict()), tmp_path / "openai.pth")
    enc = build_encoder(tiny(spec, 32, **kw), str(tmp_path / "openai.pth"))
    with torch.no_grad():
        want = ref.forward_features(preprocess(images(1), spec))[:, 0]
    assert torch.allclose(enc(images(1)), want, atol=1e-5)


# --- FID Inception ------------------------------------------------------------------------------------

def test_fid_inception_pool3_from_a_saved_state_dict(tmp_path):
    spec = get_spec("inception")
    ref = LOADERS["fid_inception"](spec, None)
    sd = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert sd["fc.weight"].shape == (1008, 2048) and "Mixed_7c.branch_pool.conv.weight" in sd
    assert "AuxLogits.fc.weight" not in sd
    torch.save(sd, tmp_path / paper.FID_INCEPTION_FILE)
    enc = build_encoder(spec, str(tmp_path / paper.FID_INCEPTION_FILE))
    assert enc.backbone.Mixed_7c.max_pool and not enc.backbone.Mixed_7b.max_pool
    with torch.autocast("cpu", dtype=torch.bfloat16):  # Inception stays fp32 under autocast
        feats = enc(images(1))
    assert feats.shape == (1, 2048) and feats.dtype == torch.float32
    assert torch.allclose(feats, ref.eval()(preprocess(images(1), spec)), atol=1e-5)


def test_fid_inception_blocks_pool_like_tensorflow():
    """The TF-compatible pool branch ignores zero padding: same as torchvision inside, differs at borders."""
    from torchvision.models import inception as tv

    torch.manual_seed(0)
    ours, theirs = fid_inception._FIDInceptionA(4, pool_features=4).eval(), tv.InceptionA(4, pool_features=4).eval()
    theirs.load_state_dict(ours.state_dict())
    x = torch.rand(1, 4, 6, 6) + 1
    a, b = ours(x), theirs(x)
    assert torch.allclose(a[:, :-4], b[:, :-4])  # non-pool branches identical
    assert torch.allclose(a[:, -4:, 1:-1, 1:-1], b[:, -4:, 1:-1, 1:-1], atol=1e-6)
    assert not torch.allclose(a[:, -4:, 0, 0], b[:, -4:, 0, 0])


# --- transformers: WebSSL-DINO pooler_output, C-RADIO summary -----------------------------------------

def test_webssl_pooler_loader_from_save_pretrained(tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    spec = get_spec("webssl_dino_1b")
    torch.manual_seed(0)
    ref = Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   image_size=224, patch_size=14)).eval()
    ref.save_pretrained(expected_path(spec, tmp_path))
    path = resolve_weights(spec, tmp_path, hf_cache=tmp_path / "empty")
    enc = build_encoder(replace(spec, dim=32), path)
    feats = enc(images(2))
    assert feats.shape == (2, 32)
    with torch.no_grad():
        hidden = ref(pixel_values=preprocess(images(2), spec)).last_hidden_state
    assert torch.allclose(feats, hidden[:, 0], atol=1e-5)  # pooler_output = normed CLS token
    with pytest.raises(ValueError, match="spec says 1536"):
        LOADERS["hf_pooler"](spec, path)


STANDIN_RADIO = '''
"""Stand-in for C-RADIO's remote code: same call convention (x in [0, 1]) -> RadioOutput."""
from collections import namedtuple

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel

RadioOutput = namedtuple("RadioOutput", "summary features")


class StandInRadioConfig(PretrainedConfig):
    model_type = "standin_radio"

    def __init__(self, width=8, num_summary=3, patch=16, **kwargs):
        super().__init__(**kwargs)
        self.width, self.num_summary, self.patch = width, num_summary, patch


class StandInRadioModel(PreTrainedModel):
    config_class = StandInRadioConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Conv2d(3, config.width, config.patch, config.patch)
        self.cls = nn.Parameter(torch.randn(config.num_summary, config.width))
        self.post_init()

    def forward(self, x):
        feats = self.embed(x).flatten(2).transpose(1, 2)
        summary = feats.mean(1, keepdim=True) + self.cls
        return RadioOutput(summary.flatten(1), feats)
'''


def test_cradio_summary_loader_with_remote_code_standin(tmp_path):
    """The real trust_remote_code path, with a stand-in model class shipped in the weights folder."""
    import importlib.util

    spec = get_spec("cradiov3_l")
    folder = expected_path(spec, tmp_path)
    folder.mkdir(parents=True)
    (folder / "standin_radio.py").write_text(textwrap.dedent(STANDIN_RADIO))
    mod_spec = importlib.util.spec_from_file_location("standin_radio_src", folder / "standin_radio.py")
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    config = mod.StandInRadioConfig(auto_map={"AutoConfig": "standin_radio.StandInRadioConfig",
                                              "AutoModel": "standin_radio.StandInRadioModel"})
    torch.manual_seed(0)
    ref = mod.StandInRadioModel(config).eval()
    ref.save_pretrained(folder)
    enc = build_encoder(replace(spec, dim=24), resolve_weights(spec, tmp_path, hf_cache=tmp_path / "empty"))
    feats = enc(images(2))
    assert feats.shape == (2, 24)
    with torch.no_grad():
        assert torch.allclose(feats, ref(preprocess(images(2), spec)).summary, atol=1e-6)


# --- diffusers: FLUX VAE --------------------------------------------------------------------------------

def test_flux_vae_patch_mean_loader(tmp_path):
    """A tiny 16-channel, 8x-downsampling AutoencoderKL: the real spec (256 px -> 16x32x32 -> 1024)."""
    from diffusers import AutoencoderKL

    spec = get_spec("flux_vae")
    torch.manual_seed(0)
    ref = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=16,
                        norm_num_groups=4, use_quant_conv=False, use_post_quant_conv=False).eval()
    ref.save_pretrained(expected_path(spec, tmp_path))
    assert expected_path(spec, tmp_path).name == "vae"
    enc = build_encoder(spec, resolve_weights(spec, tmp_path, hf_cache=tmp_path / "empty"))
    x = images(2)
    feats = enc(x)
    assert feats.shape == (2, 1024)
    with torch.no_grad():
        z = ref.encode(x * 2 - 1).latent_dist.mean
    assert z.shape == (2, 16, 32, 32)
    assert torch.allclose(feats, z.reshape(2, 16, 8, 4, 8, 4).mean(dim=(3, 5)).flatten(1), atol=1e-5)


# --- DreamSim (optional package) -------------------------------------------------------------------------

def test_dreamsim_missing_package_fails_clearly(monkeypatch):
    monkeypatch.setitem(sys.modules, "dreamsim", None)
    with pytest.raises(ImportError, match="pip install dreamsim"):
        LOADERS["dreamsim"](get_spec("dreamsim"), "/nonexistent")


def test_dreamsim_loader_with_standin_package(monkeypatch, tmp_path):
    calls = {}

    class StandIn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3, 6)

        def embed(self, img):  # like dreamsim: squeezes a batch of one
            return self.proj(img.mean(dim=(2, 3))).squeeze()

    def dreamsim(**kwargs):
        calls.update(kwargs)
        return StandIn(), None

    monkeypatch.setitem(sys.modules, "dreamsim", types.SimpleNamespace(dreamsim=dreamsim))
    enc = build_encoder(replace(get_spec("dreamsim"), dim=6), str(tmp_path))
    assert enc(images(1)).shape == (1, 6) and enc(images(3)).shape == (3, 6)
    assert calls == dict(pretrained=True, device="cpu", cache_dir=str(tmp_path), normalize_embeds=True,
                         dreamsim_type="ensemble")


# --- weights: offline resolution, fail fast ------------------------------------------------------------

def test_missing_weights_fail_fast_naming_file_and_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    start = time.perf_counter()
    for name in PANEL:
        spec = get_spec(name)
        src = spec.options["weights"]
        with pytest.raises(MissingWeightsError) as err:
            paper.build_paper_encoder(name, weights_dir=tmp_path / "w", hf_cache=tmp_path / "hf")
        msg = str(err.value)
        assert isinstance(err.value, FileNotFoundError)
        assert f"'{name}'" in msg and spec.checkpoint in msg and "fetch_weights" in msg
        assert (src.get("file") or src["files"][0]) in msg
        assert str(expected_path(spec, tmp_path / "w")) in msg
    assert time.perf_counter() - start < 10


def test_resolve_from_hf_cache_and_torch_hub(tmp_path, monkeypatch):
    spec = get_spec("siglip2")
    repo = tmp_path / "hf" / "models--timm--vit_so400m_patch16_siglip_256.v2_webli"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"x")
    assert resolve_weights(spec, tmp_path / "w", hf_cache=tmp_path / "hf").endswith(
        "snapshots/abc123/model.safetensors")
    # a file in weights_dir takes precedence
    local = expected_path(spec, tmp_path / "w")
    local.parent.mkdir(parents=True)
    local.write_bytes(b"y")
    assert resolve_weights(spec, tmp_path / "w", hf_cache=tmp_path / "hf") == str(local)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / paper.FID_INCEPTION_FILE).write_bytes(b"z")
    assert resolve_weights(get_spec("inception")) == str(hub / paper.FID_INCEPTION_FILE)


def test_incomplete_weight_directory_is_missing(tmp_path):
    spec = get_spec("flux_vae")
    folder = expected_path(spec, tmp_path)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    with pytest.raises(MissingWeightsError, match="diffusion_pytorch_model.safetensors"):
        resolve_weights(spec, tmp_path, hf_cache=tmp_path / "hf")


def test_weights_sha256_streams_files_and_directories(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc" * 1000)
    assert weights_sha256(f, chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "config.json").write_text("{}")
    (d / "sub" / "w.safetensors").write_bytes(b"123")
    h = weights_sha256(d)
    (d / ".cache").mkdir()
    (d / ".cache" / "meta").write_text("download metadata")
    assert weights_sha256(d) == h
    (d / "sub" / "w.safetensors").write_bytes(b"124")
    assert weights_sha256(d) != h


def test_fetch_weights_checks_its_arguments(tmp_path):
    no_source = EncoderSpec(name="x", paradigm="random", loader="timm", input_size=8, dim=4, pool="AVG",
                            split="train")
    with pytest.raises(ValueError, match="no pretrained weights source"):
        fetch_weights(no_source, tmp_path)
    with pytest.raises(ValueError, match="no pretrained weights source"):
        resolve_weights(no_source, tmp_path)
    with pytest.raises(ValueError, match="destination"):
        fetch_weights(get_spec("clip"), "")


def test_timm_loader_pads_patch14_grid_like_the_official():
    """Consistency (not golden parity): the official TimmBackbone builds every timm model with
    dynamic_img_size/dynamic_img_pad, so a patch-14 ViT at 32 px sees a 3x3 (padded) grid, not 2x2."""
    spec = replace(get_spec("clip"), dim=32, options={
        "model": "vit_tiny_patch16_224",
        "kwargs": {"patch_size": 14, "img_size": 32, "embed_dim": 32, "depth": 1, "num_heads": 2}})
    enc = paper.load_timm(spec, None)
    tokens = enc.model.forward_features(torch.zeros(1, 3, 32, 32))
    assert tokens.shape[1] == enc.model.num_prefix_tokens + 9
