"""FLUX.2 [klein] as a text-to-image generator: the 4-step teacher and the one-step Euler student (SPEC 4.2).

Both run the same MM-DiT (diffusers ``Flux2Transformer2DModel``) on packed latents, conditioned on
precomputed Qwen3 prompt contexts [n, ctx_len, D] (ctx_len 48 in the paper): a flow-matching Euler step is
x <- x + (t_next - t_cur) * v over the schedule of the pipeline's scheduler (dynamic shift for the latent
sequence length), so one step from pure noise is x = noise + (0 - 1) * v. Images are decoded by the frozen
VAE to [0, 1], the input range of the encoders. Only the transformer is trainable; the VAE never is, and
the text encoder is not part of the generator (contexts are precomputed). Under CUDA the forward runs in
bf16 autocast; on the CPU it is plain fp32.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..io import atomic_path, load_tensors, save_tensors, write_json
from ..representation.spec import freeze


def latent_ids(batch: int, height: int, width: int, device) -> Tensor:
    """(T, H, W, L) position ids [batch, height * width, 4] of packed latent tokens (row-major)."""
    h, w = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ids = torch.stack([torch.zeros_like(h), h, w, torch.zeros_like(h)], -1).reshape(-1, 4)
    return ids.unsqueeze(0).expand(batch, -1, -1).to(device)


def text_ids(ctx: Tensor) -> Tensor:
    """(T, H, W, L) position ids [n, ctx_len, 4] of the context tokens: L counts the tokens."""
    n, length, _ = ctx.shape
    ids = torch.zeros(length, 4, dtype=torch.long)
    ids[:, 3] = torch.arange(length)
    return ids.unsqueeze(0).expand(n, -1, -1).to(ctx.device)


class Flux2Generator(nn.Module):
    """noise [n, C, h, w] (patchified latents) + contexts [n, L, D] -> images [n, 3, H, W] in [0, 1].

    ``steps`` Euler steps (1 for the student, 4 for the teacher) over ``scheduler``'s flow-matching schedule.
    """

    def __init__(self, transformer: nn.Module, vae: nn.Module, scheduler, steps: int):
        super().__init__()
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.transformer, self.vae, self.scheduler, self.steps = transformer, freeze(vae), scheduler, steps
        self.vae_scale = 2 ** (len(vae.config.block_out_channels) - 1)

    def train(self, mode: bool = True):  # the VAE stays in eval mode
        super().train(mode)
        self.vae.eval()
        return self

    def noise_shape(self, height: int, width: int) -> tuple[int, int, int]:
        """Shape of one sample's noise for an image of height x width: (4 * latent channels, h, w)."""
        cell = 2 * self.vae_scale
        if height % cell or width % cell:
            raise ValueError(f"image size {height}x{width} must be a multiple of {cell}")
        return self.transformer.config.in_channels, height // cell, width // cell

    def schedule(self, seq_len: int, steps: int | None = None) -> list[float]:
        """The ``steps + 1`` noise levels 1 = t_0 > ... > t_steps = 0 of the pipeline's scheduler."""
        from diffusers.pipelines.flux2.pipeline_flux2_klein import compute_empirical_mu

        steps = self.steps if steps is None else steps
        self.scheduler.set_timesteps(sigmas=np.linspace(1.0, 1.0 / steps, steps), device="cpu",
                                     mu=compute_empirical_mu(seq_len, steps))
        return [float(s) for s in self.scheduler.sigmas]

    def velocity(self, x: Tensor, ctx: Tensor, t: float, ids: Tensor) -> Tensor:
        """The transformer's flow velocity on packed latents x [n, seq, C] at noise level t."""
        timestep = torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype)
        return self.transformer(hidden_states=x, encoder_hidden_states=ctx.to(x.dtype), timestep=timestep,
                                img_ids=ids, txt_ids=text_ids(ctx), guidance=None, return_dict=False)[0]

    def decode(self, latents: Tensor) -> Tensor:
        """Patchified latents [n, C, h, w] -> images in [0, 1]: undo the VAE's batch norm, unpatchify, decode."""
        bn = self.vae.bn
        mean = bn.running_mean.view(1, -1, 1, 1).to(latents)
        std = torch.sqrt(bn.running_var.view(1, -1, 1, 1) + self.vae.config.batch_norm_eps).to(latents)
        z = latents * std + mean
        n, c, h, w = z.shape
        z = z.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)
        image = self.vae.decode(z.to(next(self.vae.parameters()).dtype), return_dict=False)[0]
        return (image.float() / 2 + 0.5).clamp(0, 1)

    def forward(self, noise: Tensor, ctx: Tensor) -> Tensor:
        n, c, h, w = noise.shape
        cuda = noise.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            ids = latent_ids(n, h, w, noise.device)
            x = noise.reshape(n, c, h * w).transpose(1, 2)
            sigmas = self.schedule(h * w)
            for t_cur, t_next in zip(sigmas[:-1], sigmas[1:]):
                x = x + (t_next - t_cur) * self.velocity(x, ctx, t_cur, ids).float()
            return self.decode(x.transpose(1, 2).reshape(n, c, h, w))


def sample_noise(seeds: Sequence[int], shape: tuple[int, int, int], device: str | torch.device = "cpu") -> Tensor:
    """One generator per sample on ``device``, seeded by its own seed (so a sample's noise never depends on the
    batch). The official harness draws on CUDA; a CPU generator gives other noise for the same seed."""
    return torch.stack([torch.randn(shape, generator=torch.Generator(device).manual_seed(int(s)), device=device)
                        for s in seeds])


def stream_noise(n: int, shape: tuple[int, int, int], seed: int, device: str | torch.device = "cpu") -> Tensor:
    """The noise of n samples drawn at once from one generator on ``device`` seeded ``seed`` (the official
    Pick-a-Pic protocol: seed 0 over the whole prompt set)."""
    return torch.randn(n, *shape, generator=torch.Generator(device).manual_seed(int(seed)), device=device)


@torch.inference_mode()
def render(generator: Flux2Generator, contexts: Callable[[Sequence[int]], Tensor], idx: Sequence[int],
           noise: Sequence[int] | Tensor, size: int, device: str | torch.device = "cpu", batch: int = 16) -> Tensor:
    """Images in [0, 1] [n, 3, size, size] (CPU) of prompts ``idx`` (rows of ``contexts``), in batches of
    ``batch``; sample k from ``noise[k]``: a noise tensor [n, C, h, w], or seeds (:func:`sample_noise` on
    ``device``)."""
    if len(idx) != len(noise):
        raise ValueError(f"{len(idx)} prompts for {len(noise)} noise samples")
    shape = generator.noise_shape(size, size)
    if isinstance(noise, Tensor) and tuple(noise.shape[1:]) != shape:
        raise ValueError(f"noise of shape {tuple(noise.shape[1:])}, the generator takes {shape}")
    out = []
    for s in range(0, len(idx), batch):
        chunk = noise[s:s + batch] if isinstance(noise, Tensor) else sample_noise(noise[s:s + batch], shape, device)
        out.append(generator(chunk.to(device), contexts(list(idx[s:s + batch])).to(device)).cpu())
    return torch.cat(out)


def load_flux2_parts(weights: str | os.PathLike, device: str | torch.device = "cpu"):
    """(transformer, vae, scheduler) of a diffusers FLUX.2 [klein] folder; the transformer in fp32 (trained),
    the VAE in bf16 on CUDA, fp32 on the CPU."""
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel

    vae_dtype = torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    transformer = Flux2Transformer2DModel.from_pretrained(weights, subfolder="transformer", local_files_only=True,
                                                          torch_dtype=torch.float32)
    vae = AutoencoderKLFlux2.from_pretrained(weights, subfolder="vae", local_files_only=True, torch_dtype=vae_dtype)
    scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(weights, subfolder="scheduler", local_files_only=True)
    return transformer.to(device), vae.to(device), scheduler


def build_flux2(weights: str | os.PathLike, steps: int, student: str | os.PathLike | None = None,
                device: str | torch.device = "cpu", trainable: bool = False) -> Flux2Generator:
    """The teacher (``student`` None) or a post-trained student (its transformer weights file) at ``steps``.

    With ``trainable`` only the transformer's parameters require grad (per-block gradient checkpointing on);
    otherwise the whole generator is frozen.
    """
    transformer, vae, scheduler = load_flux2_parts(weights, device)
    if student is not None:
        load_student(transformer, student)
    generator = Flux2Generator(transformer, vae, scheduler, steps)
    if trainable:
        transformer.requires_grad_(True)
        transformer.enable_gradient_checkpointing()
        return generator.train()
    return freeze(generator)


def save_student(path: str | os.PathLike, transformer: nn.Module, made_by: dict) -> None:
    save_tensors(path, transformer.state_dict(), {"made_by": made_by, "kind": "flux2_transformer"})


def native_to_diffusers(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Black Forest Labs' native ``flux2`` keys -> diffusers ``Flux2Transformer2DModel`` keys, by diffusers' own
    converter. Accepts the official iRDM adapter's state dict (every key under ``model.``, compiled blocks'
    ``_orig_mod.`` segments) as well as the bare native layout."""
    from diffusers.loaders.single_file_utils import convert_flux2_transformer_checkpoint_to_diffusers

    if state and all(k.startswith("model.") for k in state):
        state = {k.removeprefix("model."): v for k, v in state.items()}
    return convert_flux2_transformer_checkpoint_to_diffusers({k.replace("._orig_mod", ""): v
                                                             for k, v in state.items()})


def load_released(path: str | os.PathLike) -> dict[str, Tensor]:
    """The diffusers state dict of an official iRDM FLUX.2 checkpoint (``{"model": native state dict}``, e.g.
    the released ``flux2_klein_1step_rdm_geallcoco_s180.pth``); tensors only, no pickled code is run."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path}: not an official FLUX.2 checkpoint (a state dict, or one under 'model')")
    return native_to_diffusers(dict(state))


def load_student(transformer: nn.Module, path: str | os.PathLike) -> None:
    """Load a student's transformer weights (every parameter must fit): our ``.safetensors`` (diffusers keys),
    or an official ``.pth`` checkpoint in the native layout (:func:`load_released`)."""
    if Path(path).suffix == ".pth":
        tensors = load_released(path)
    else:
        tensors, _ = load_tensors(path, {"kind": "flux2_transformer"})
    missing, unexpected = transformer.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"{path} does not fit the FLUX.2 transformer: missing {missing[:8]}, "
                           f"unexpected {unexpected[:8]}")


# --- precomputed prompt contexts (Qwen3 hidden states, ctx_len tokens) -------------------------------

def qwen3_contexts(weights: str | os.PathLike, ctx_len: int, device: str | torch.device = "cpu"
                   ) -> Callable[[list[str]], Tensor]:
    """prompts -> Qwen3 contexts [n, ctx_len, 3 * hidden] of the pipeline's text encoder (layers 9, 18, 27
    stacked, chat template with thinking disabled), loaded from a local FLUX.2 [klein] folder."""
    from diffusers import Flux2KleinPipeline
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    encoder = AutoModelForCausalLM.from_pretrained(weights, subfolder="text_encoder", local_files_only=True,
                                                   dtype=dtype).to(device).eval().requires_grad_(False)
    tokenizer = AutoTokenizer.from_pretrained(weights, subfolder="tokenizer", local_files_only=True)

    @torch.inference_mode()
    def encode(prompts: list[str]) -> Tensor:
        return Flux2KleinPipeline._get_qwen3_prompt_embeds(encoder, tokenizer, list(prompts), dtype=torch.bfloat16,
                                                           device=device, max_sequence_length=ctx_len)
    return encode


def write_contexts(path: str | os.PathLike, encode: Callable[[list[str]], Tensor], prompts: Sequence[str],
                   batch: int, made_by: dict) -> None:
    """Encode every prompt into a .npy table [n, L, D] of bf16 bits (uint16), written batch by batch to a
    temporary memmap and renamed into place; ``<path>.json`` records what made it."""
    path = Path(path)
    table = None
    with atomic_path(path) as tmp:
        for start in range(0, len(prompts), batch):
            ctx = encode(list(prompts[start:start + batch])).to(torch.bfloat16).cpu()
            if table is None:
                table = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint16,
                                                  shape=(len(prompts), *ctx.shape[1:]))
            table[start:start + len(ctx)] = ctx.view(torch.int16).numpy().view(np.uint16)
        table.flush()
        del table
    write_json(str(path) + ".json", {"made_by": made_by, "count": len(prompts)})


class ContextTable:
    """Rows of a context table (memory-mapped), as bf16 tensors: ``table(idx) -> [len(idx), L, D]``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.table = np.load(self.path, mmap_mode="r")

    def __len__(self) -> int:
        return self.table.shape[0]

    def __call__(self, idx: Tensor | Sequence[int]) -> Tensor:
        rows = np.ascontiguousarray(self.table[np.asarray(idx, dtype=np.int64)])
        return torch.from_numpy(rows.view(np.int16)).view(torch.bfloat16)
