"""The paper's 14-encoder panel (SPEC 2.1, "Table 5") and the loaders that build each backbone.

Every loader is ``fn(spec, weights) -> nn.Module`` mapping the preprocessed batch to pooled features
[B, spec.dim]. Architecture arguments come from ``spec.options`` (``model``, ``kwargs``, ``patch``), so a
test can shrink a model (fewer layers, narrower) and still go through the same loading code as the
real weights. ``weights`` is a local path from :func:`~rdm_core.representation.weights.resolve_weights`;
timm and Inception loaders accept ``None`` for a random initialisation (shape checks only).
"""

from __future__ import annotations

import importlib.util
import sys

import torch
from torch import nn

from .encoder import Encoder, build_encoder
from .pooling import attn_pool, avg_pool, cls_pool, patch_mean, summary_pool
from .spec import EncoderSpec, get_spec, register, register_loader
from .weights import import_dreamsim, resolve_weights

# Normalisations (mean, std) applied to images in [0, 1].
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))          # timm pretrained_cfg
OPENAI_CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))                          # SigLIP, PE; [-1, 1] for the VAE
IDENTITY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))                      # model normalises internally

FID_INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
FID_INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                     + FID_INCEPTION_FILE)
DREAMSIM_FILES = ("dino_vitb16_pretrain.pth", "clip_vitb16_pretrain.pth.tar",
                  "open_clip_vitb16_pretrain.pth.tar", "ensemble_lora")


def _timm(name, paradigm, model, size, pool, dim, split, norm, **kwargs) -> EncoderSpec:
    return EncoderSpec(
        name=name, paradigm=paradigm, loader="timm", input_size=size, dim=dim, pool=pool, split=split,
        mean=norm[0], std=norm[1], checkpoint=f"timm/{model}",
        options={"model": model, "kwargs": kwargs,
                 "weights": {"repo": f"timm/{model}", "file": "model.safetensors"}})


SPECS = tuple(register(s) for s in (
    EncoderSpec(name="inception", paradigm="supervised", loader="fid_inception", input_size=299,
                dim=2048, pool="AVG", split="train", resize="tf1_bilinear", mean=HALF[0], std=HALF[1],
                checkpoint=FID_INCEPTION_URL,
                options={"weights": {"url": FID_INCEPTION_URL, "file": FID_INCEPTION_FILE}}),
    _timm("convnext", "supervised", "convnextv2_base.fcmae_ft_in22k_in1k", 224, "AVG", 1024, "train",
          IMAGENET),
    _timm("mae", "masked", "vit_large_patch16_224.mae", 224, "AVG", 1024, "train", IMAGENET),
    _timm("clip", "contrastive", "vit_large_patch14_clip_224.openai", 256, "CLS", 1024, "train",
          OPENAI_CLIP),
    _timm("dinov3_l", "distillation", "vit_large_patch16_dinov3.lvd1689m", 224, "CLS", 1024, "train",
          IMAGENET),
    _timm("pe_core_l", "contrastive", "vit_pe_core_large_patch14_336.fb", 224, "ATTN", 1024, "train",
          HALF, global_pool="map"),
    _timm("siglip2", "contrastive", "vit_so400m_patch16_siglip_256.v2_webli", 224, "ATTN", 1152,
          "train", HALF, global_pool="map"),
    _timm("aimv2_huge", "autoregressive", "aimv2_huge_patch14_224.apple_pt", 224, "AVG", 1536, "train",
          OPENAI_CLIP),
    EncoderSpec(name="webssl_dino_1b", paradigm="distillation", loader="hf_pooler", input_size=224,
                dim=1536, pool="CLS", split="train", mean=IMAGENET[0], std=IMAGENET[1],
                checkpoint="facebook/webssl-dino1b-full2b-224",
                options={"weights": {"repo": "facebook/webssl-dino1b-full2b-224",
                                     "files": ("config.json",)}}),
    EncoderSpec(name="dreamsim", paradigm="human_similarity", loader="dreamsim", input_size=224,
                dim=1792, pool="CLS", split="train", mean=IDENTITY[0], std=IDENTITY[1],
                checkpoint="dreamsim:ensemble",
                options={"normalize_embeds": True,
                         "weights": {"package": "dreamsim", "type": "ensemble", "files": DREAMSIM_FILES}}),
    _timm("dinov2", "distillation", "vit_large_patch14_dinov2.lvd142m", 256, "CLS", 1024, "heldout",
          IMAGENET),
    _timm("siglip_v1", "contrastive", "vit_so400m_patch14_siglip_384.webli", 384, "ATTN", 1152,
          "heldout", HALF, global_pool="map"),
    EncoderSpec(name="cradiov3_l", paradigm="agglomerative", loader="hf_remote_summary", input_size=256,
                dim=3072, pool="SUMMARY", split="heldout", mean=IDENTITY[0], std=IDENTITY[1],
                checkpoint="nvidia/C-RADIOv3-L",
                options={"weights": {"repo": "nvidia/C-RADIOv3-L", "files": ("config.json",)},
                         "imports": ("einops",)}),   # what its own Hugging Face code imports besides ours
    EncoderSpec(name="flux_vae", paradigm="autoencoding", loader="diffusers_vae", input_size=256,
                dim=1024, pool="PATCH_MEAN", split="heldout", resize="bilinear", mean=HALF[0],
                std=HALF[1], checkpoint="black-forest-labs/FLUX.1-schnell/vae",
                options={"patch": 4,
                         "weights": {"repo": "black-forest-labs/FLUX.1-schnell", "subfolder": "vae",
                                     "files": ("config.json", "diffusion_pytorch_model.safetensors")}}),
))

PANEL = tuple(s.name for s in SPECS)  # column order of Tables 1 and 7


def build_paper_encoder(name: str, weights_dir=None, hf_cache=None) -> Encoder:
    """Build a panel encoder from its locally available weights (fails at once if they are missing)."""
    spec = get_spec(name)
    return build_encoder(spec, resolve_weights(spec, weights_dir, hf_cache))


def _check_dim(spec: EncoderSpec, dim: int) -> None:
    if dim != spec.dim:
        raise ValueError(f"encoder '{spec.name}': the model gives {dim}-d features, the spec says {spec.dim}")


def _load_checked(model: nn.Module, state_dict: dict, source: str) -> None:
    """Load every parameter or fail; only BatchNorm's ``num_batches_tracked`` counters may be absent."""
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"weights {source} do not fit {type(model).__name__}: "
                           f"missing {missing[:8]}, unexpected {unexpected[:8]}")


def _needs_weights(spec: EncoderSpec, weights) -> str:
    if weights is None:
        raise ValueError(f"encoder '{spec.name}' builds from a weights directory; "
                         "resolve it with rdm_core.representation.weights.resolve_weights")
    return str(weights)


# --- 1. FID Inception-v3 (pool3) ---------------------------------------------------------------------

@register_loader("fid_inception")
def load_fid_inception(spec: EncoderSpec, weights: str | None) -> nn.Module:
    """FID Inception-v3 pool3 from torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``."""
    from .fid_inception import FIDInceptionV3   # torchvision is imported only where Inception is built

    _check_dim(spec, 2048)
    model = FIDInceptionV3()
    if weights is not None:
        _load_checked(model, torch.load(weights, map_location="cpu", weights_only=True), weights)
    return model


# --- timm backbones -----------------------------------------------------------------------------------

class TimmEncoder(nn.Module):
    """A timm model's ``forward_features`` (final-normed tokens, or a CNN's last feature map), pooled
    as CLS, AVG (patch tokens / spatial mean, before any timm head norm) or ATTN (its MAP head)."""

    def __init__(self, model: nn.Module, pool: str):
        super().__init__()
        if pool not in ("CLS", "AVG", "ATTN"):
            raise ValueError(f"timm backbones pool with CLS, AVG or ATTN, not {pool}")
        if pool == "ATTN" and getattr(model, "attn_pool", None) is None:
            raise ValueError("ATTN pooling needs a timm model built with global_pool='map'")
        self.model, self.pool = model, pool

    def forward(self, x):
        feats = self.model.forward_features(x)
        if self.pool == "CLS":
            return cls_pool(feats)
        if self.pool == "AVG":
            return avg_pool(feats, getattr(self.model, "num_prefix_tokens", 0))
        return attn_pool(feats, self.model.attn_pool)


def load_timm_weights(model: nn.Module, path: str) -> None:
    """Load a checkpoint file (safetensors or torch; timm, OpenAI-CLIP or original layout) into a
    timm model through its architecture's ``checkpoint_filter_fn`` (which remaps keys and resamples
    position embeddings to the model's resolution); classifier weights are dropped and every other
    parameter must load."""
    from timm.models import load_state_dict

    state_dict = load_state_dict(path)
    filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state_dict = filter_fn(state_dict, model)
    heads = model.pretrained_cfg.get("classifier") or ()
    for head in (heads,) if isinstance(heads, str) else heads:
        if model.num_classes == 0:
            state_dict.pop(f"{head}.weight", None)
            state_dict.pop(f"{head}.bias", None)
    _load_checked(model, state_dict, path)


@register_loader("timm")
def load_timm(spec: EncoderSpec, weights: str | None) -> nn.Module:
    """``timm.create_model(options['model'], pretrained=False, num_classes=0, dynamic_img_size=True,
    dynamic_img_pad=True, **options['kwargs'])`` (without the dynamic-size pair where the model refuses it),
    weights from a local file, pooled per ``spec.pool``. As the official, the model keeps its checkpoint's
    native size: position embeddings are resampled once, at run time, to the (padded) grid of the input."""
    import timm

    kwargs = dict(pretrained=False, num_classes=0, **spec.options.get("kwargs", {}))
    try:  # as the official: patch-grid ViTs pad inputs that are not a multiple of the patch
        model = timm.create_model(spec.options["model"], dynamic_img_size=True,
                                  dynamic_img_pad=True, **kwargs)
    except TypeError:  # backbones without the dynamic-size arguments
        model = timm.create_model(spec.options["model"], **kwargs)
    _check_dim(spec, model.num_features)
    if weights is not None:
        load_timm_weights(model, str(weights))
    return TimmEncoder(model, spec.pool)


# --- transformers: WebSSL-DINO (pooler_output) and C-RADIOv3 (summary) ---------------------------------

class PoolerEncoder(nn.Module):
    """A transformers vision model's ``pooler_output`` (for DINOv2-style models: the normed CLS token)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).pooler_output


@register_loader("hf_pooler")
def load_hf_pooler(spec: EncoderSpec, weights: str | None) -> nn.Module:
    """``AutoModel.from_pretrained(<local dir>)`` in fp32, pooled by the model's ``pooler_output``."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(_needs_weights(spec, weights), local_files_only=True,
                                      dtype=torch.float32, **spec.options.get("kwargs", {}))
    _check_dim(spec, model.config.hidden_size)
    return PoolerEncoder(model)


class SummaryEncoder(nn.Module):
    """A RADIO-style model called on [0, 1] images; its summary vector."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return summary_pool(self.model(x))


@register_loader("hf_remote_summary")
def load_hf_remote_summary(spec: EncoderSpec, weights: str | None) -> nn.Module:
    """C-RADIOv3 through its own Hugging Face code (``trust_remote_code``; the code files must be in the
    local directory). The model normalises [0, 1] input itself, so the spec's mean/std are the
    identity. The summary width is only known after a forward pass."""
    from transformers import AutoModel

    missing = [m for m in spec.options.get("imports", ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"encoder '{spec.name}': its Hugging Face code imports {missing}, which are not "
                          "installed: pip install -e '.[paper]'")
    model = AutoModel.from_pretrained(_needs_weights(spec, weights), trust_remote_code=True,
                                      local_files_only=True, dtype=torch.float32,
                                      **spec.options.get("kwargs", {}))
    return SummaryEncoder(model)


# --- diffusers: FLUX VAE latent mean, patch-averaged -------------------------------------------------

class VAEPatchMean(nn.Module):
    """Posterior mean of an AutoencoderKL (unscaled, unshifted), averaged over patch x patch cells
    and flattened."""

    def __init__(self, vae: nn.Module, patch: int):
        super().__init__()
        self.vae, self.patch = vae, patch

    def forward(self, x):
        return patch_mean(self.vae.encode(x).latent_dist.mean, self.patch)


@register_loader("diffusers_vae")
def load_diffusers_vae(spec: EncoderSpec, weights: str | None) -> nn.Module:
    """``AutoencoderKL.from_pretrained(<local vae dir>)`` in fp32; input in [-1, 1]."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(_needs_weights(spec, weights), local_files_only=True,
                                        torch_dtype=torch.float32)
    patch = spec.options["patch"]
    grid = spec.input_size // 2 ** (len(vae.config.block_out_channels) - 1) // patch
    _check_dim(spec, vae.config.latent_channels * grid * grid)
    return VAEPatchMean(vae, patch)


# --- DreamSim (optional package) ----------------------------------------------------------------------

class DreamSimEncoder(nn.Module):
    """DreamSim ``embed`` of [0, 1] images (it normalises per backbone itself)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        # dreamsim keeps its backbones in a plain list; register them so .to() and freeze() reach them.
        self.backbones = nn.ModuleList(e.model for e in getattr(model, "extractor_list", ()))

    def forward(self, x):
        return self.model.embed(x).reshape(x.shape[0], -1)


@register_loader("dreamsim")
def load_dreamsim(spec: EncoderSpec, weights: str | None) -> nn.Module:
    """``dreamsim(pretrained=True, cache_dir=<local dir>, dreamsim_type='ensemble')``; with a complete
    cache directory the package finds its files and downloads nothing."""
    path = _needs_weights(spec, weights)
    model, _ = import_dreamsim()(pretrained=True, device="cpu", cache_dir=path,
                                 normalize_embeds=spec.options.get("normalize_embeds", True),
                                 dreamsim_type=spec.options["weights"].get("type", "ensemble"))
    return DreamSimEncoder(model)
