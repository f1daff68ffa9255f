"""FLUX.2 [klein] paths on a tiny random pipeline: teacher sampling, the one-step student, its training step
(GradCache, joint loss, backward), checkpoints and exact resume, contexts, offline weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from rdm_core.compare.mmd import irdm_loss
from rdm_core.generators.flux2 import (ContextTable, Flux2Generator, build_flux2, native_to_diffusers,
                                       qwen3_contexts, render, sample_noise, save_student, stream_noise,
                                       write_contexts)
from rdm_core.representation.joint import joint_features
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.train.checkpoint import Checkpointer
from rdm_core.train.flux2 import PromptRollout, text_joint_bundles, train_flux2
from rdm_core.train.gradcache import full_batch_step, gradcache_step
from tiny_t2i import CTX_DIM, CTX_LEN, SIZE, diffusers_to_native, save_klein, tiny_parts

REF = {"sigma_n": 64, "landmarks": 8, "kmeans_iters": 3, "fit_n": 64, "k_rr_n": 64, "floor_draws": 1,
       "floor_n": 8, "sw_n": 8, "rff_features": 8, "rff_n": 8}


@pytest.fixture(scope="module")
def klein_dir(tmp_path_factory):
    """A tiny random FLUX.2 [klein] folder in the diffusers layout (what fetch_t2i_weights puts on disk)."""
    return save_klein(tmp_path_factory.mktemp("weights") / "flux2_klein")


class TinyEncoder(nn.Module):
    """A frozen encoder of images in [0, 1]: pooled conv features."""

    def __init__(self, seed: int, dim: int = 6):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, dim, 4, stride=4)
        self.requires_grad_(False)

    def forward(self, x):
        return self.conv(x).mean((2, 3))


def test_teacher_sampling_matches_the_pipeline():
    """Four Euler steps over the scheduler's schedule reproduce Flux2KleinPipeline on the same latents/contexts."""
    from diffusers import Flux2KleinPipeline

    transformer, vae, scheduler = tiny_parts()
    pipe = Flux2KleinPipeline(scheduler=scheduler, vae=vae, text_encoder=None, tokenizer=None,
                              transformer=transformer, is_distilled=True)
    pipe.set_progress_bar_config(disable=True)
    torch.manual_seed(1)
    ctx, noise = torch.randn(2, CTX_LEN, CTX_DIM), torch.randn(2, 16, 8, 8)
    for steps in (4, 1):
        ref = pipe(prompt_embeds=ctx, latents=noise, height=SIZE, width=SIZE, num_inference_steps=steps,
                   output_type="pt", guidance_scale=1.0).images
        with torch.no_grad():
            mine = Flux2Generator(transformer, vae, scheduler, steps)(noise, ctx)
        assert mine.shape == (2, 3, SIZE, SIZE) and 0 <= mine.min() and mine.max() <= 1
        torch.testing.assert_close(mine, ref, atol=1e-5, rtol=0)


def test_one_step_student_is_noise_minus_velocity(klein_dir):
    """The 1-step schedule is [1, 0], so x = noise + (0 - 1) v, decoded by the frozen VAE."""
    student = build_flux2(klein_dir, steps=1, trainable=True)
    assert student.schedule(64) == [1.0, 0.0]
    assert all(p.requires_grad for p in student.transformer.parameters())
    assert not any(p.requires_grad for p in student.vae.parameters())
    assert not student.vae.training
    torch.manual_seed(2)
    noise, ctx = torch.randn(2, *student.noise_shape(SIZE, SIZE)), torch.randn(2, CTX_LEN, CTX_DIM)
    with torch.no_grad():
        x = noise.reshape(2, 16, 64).transpose(1, 2)
        from rdm_core.generators.flux2 import latent_ids

        v = student.velocity(x, ctx, 1.0, latent_ids(2, 8, 8, "cpu"))
        want = student.decode((x - v).transpose(1, 2).reshape(2, 16, 8, 8))
        torch.testing.assert_close(student(noise, ctx), want)
    teacher = build_flux2(klein_dir, steps=4)
    assert not any(p.requires_grad for p in teacher.parameters())


def _setup(klein_dir, joint=True, n_pool=12, seed=0):
    student = build_flux2(klein_dir, steps=1, trainable=True)
    torch.manual_seed(seed)
    ctx = torch.randn(n_pool, CTX_LEN, CTX_DIM)
    text = torch.nn.functional.normalize(torch.randn(n_pool, 4), dim=1)
    encoders = {"a": TinyEncoder(10), "b": TinyEncoder(11)}
    real = torch.rand(48, 3, SIZE, SIZE)
    captions = text[torch.arange(48) % n_pool]
    feats = {n: e(real) for n, e in encoders.items()}
    ref = text_joint_bundles(feats, captions, joint, {"sigma_scale": 0.25, "s_txt": 1.0, "landmarks": 8}, REF)
    return student, ctx, text, encoders, ref


def test_joint_bundles_use_the_cold_bandwidth_and_text_weight(klein_dir):
    from rdm_core.compare.kernels import median_sigma

    _, _, text, encoders, ref = _setup(klein_dir)
    real = torch.rand(48, 3, SIZE, SIZE)
    feats = encoders["a"](real)
    out = text_joint_bundles({"a": feats}, text[torch.arange(48) % 12], True,
                             {"sigma_scale": 0.25, "s_txt": 2.0, "landmarks": 8}, REF)
    sigma = 0.25 * median_sigma(feats, n_sub=64)
    assert out["sigma"]["a"] == pytest.approx(sigma) and out["beta"]["a"] == pytest.approx(sigma / 2.0)
    assert out["bundles"]["a"].Z.shape == (8, feats.shape[1] + text.shape[1])
    marginal = text_joint_bundles({"a": feats}, text[:48 % 12 or 12].repeat(4, 1), False,
                                  {"sigma_scale": 0.25, "s_txt": 1.0, "landmarks": 8}, REF)
    assert marginal["bundles"]["a"].Z.shape == (8, feats.shape[1])


def test_student_step_gradcache_equals_full_batch(klein_dir):
    """Forward, joint loss and backward over a rollout in two chunks give the one-chunk gradient."""
    student, ctx, text, encoders, ref = _setup(klein_dir)
    grads = []
    for chunk in (4, 2):
        rollout = PromptRollout(student, lambda idx: ctx[idx], text, 4, chunk, 0, student.noise_shape(SIZE, SIZE),
                                "cpu")
        inputs = rollout(1)

        def battery(features):
            raw = {n: irdm_loss(joint_features(f, rollout.code, ref["bundles"][n].sigma), ref["bundles"][n])
                   for n, f in features.items()}
            return sum(raw.values()), {n: v.item() for n, v in raw.items()}

        student.transformer.zero_grad(set_to_none=True)
        step = full_batch_step if len(inputs) == 1 else gradcache_step
        loss, _ = step(rollout.generate, inputs, encoders, battery)
        assert torch.isfinite(loss)
        grads.append(torch.cat([p.grad.flatten() for p in student.transformer.parameters() if p.grad is not None]))
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], atol=1e-6, rtol=1e-4)


CFG = {"steps": 2, "lr": 2.83e-4, "grad_clip": 4.0, "checkpoint_every": 1, "seed": 0, "rollout": 4, "chunk": 2,
       "joint": True, "s_txt": 1.0}


def _train(klein_dir, workdir, steps, joint=True):
    student, ctx, text, encoders, ref = _setup(klein_dir, joint)
    before = {k: v.clone() for k, v in student.transformer.state_dict().items()}
    train_flux2(student, encoders, ref["bundles"], lambda idx: ctx[idx], text, {**CFG, "steps": steps, "joint": joint},
                workdir, student.noise_shape(SIZE, SIZE), log=lambda m: None)
    return before, student.transformer.state_dict()


@pytest.mark.parametrize("joint", [True, False])
def test_training_moves_only_the_transformer_and_resumes_exactly(klein_dir, tmp_path, joint):
    before, straight = _train(klein_dir, tmp_path / "a", 2, joint)
    assert any(not torch.equal(before[k], straight[k]) for k in before)
    _train(klein_dir, tmp_path / "b", 1, joint)  # a run stopped after step 1 ...
    assert Checkpointer(tmp_path / "b", 1).steps() == [1]
    _, resumed = _train(klein_dir, tmp_path / "b", 2, joint)  # ... resumed to step 2
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], atol=0, rtol=0)
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]
    _, state = Checkpointer(tmp_path / "a", 1).latest()
    assert set(state["model"]) == set(straight)  # the checkpoint holds the transformer only


def test_student_weights_round_trip(klein_dir, tmp_path):
    student = build_flux2(klein_dir, steps=1, trainable=True)
    with torch.no_grad():
        next(student.transformer.parameters()).add_(1.0)
    save_student(tmp_path / "s.safetensors", student.transformer, {"step": 1})
    reloaded = build_flux2(klein_dir, steps=1, student=tmp_path / "s.safetensors")
    for (k, a), b in zip(student.transformer.state_dict().items(), reloaded.transformer.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("adapter", [False, True])
def test_released_native_checkpoint_loads_through_the_diffusers_converter(klein_dir, tmp_path, adapter):
    """A tiny random transformer saved as the official checkpoint ({"model": native flux2 keys}, under the official
    adapter's ``model.`` prefix or bare; native layout made by the test-only inverse in tiny_t2i) loads back into
    the diffusers module through diffusers' converter and gives that module's outputs. Consistency with our own
    tiny model and the converter, not parity with BFL's native module (not available here)."""
    student = build_flux2(klein_dir, steps=1, trainable=True)
    torch.manual_seed(3)
    with torch.no_grad():
        for p in student.transformer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    state = student.transformer.state_dict()
    native = diffusers_to_native(state)
    assert "single_stream_modulation.lin.weight" in native and "double_blocks.0.img_attn.qkv.weight" in native
    assert not set(native) & set(state)  # nothing kept its diffusers name
    assert set(native_to_diffusers(dict(native))) == set(state)
    torch.save({"model": {("model." if adapter else "") + k: v for k, v in native.items()}, "step": 180},
               tmp_path / "released.pth")
    released = build_flux2(klein_dir, steps=1, student=tmp_path / "released.pth")
    for k, v in released.transformer.state_dict().items():
        torch.testing.assert_close(v, state[k], atol=0, rtol=0, msg=k)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(2, *student.noise_shape(SIZE, SIZE), generator=g)
    ctx = torch.randn(2, CTX_LEN, CTX_DIM, generator=g)
    with torch.no_grad():
        want = student.eval()(noise, ctx)
        got = released(noise, ctx)
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    base = build_flux2(klein_dir, steps=1)
    with torch.no_grad():
        assert not torch.allclose(base(noise, ctx), want)  # the weights did change the outputs
    torch.save({"model": {"img_in.weight": native["img_in.weight"]}}, tmp_path / "partial.pth")
    with pytest.raises(RuntimeError, match="missing"):
        build_flux2(klein_dir, steps=1, student=tmp_path / "partial.pth")


def test_noise_streams_follow_the_official_draws(klein_dir):
    """GenEval: one generator per sample (torch.randn(shape, generator=Generator(device).manual_seed(seed)));
    Pick-a-Pic: one stream over the whole set (torch.randn(n, *shape, generator=...manual_seed(0))); a render
    from seeds equals a render from the tensor of their noise. (On the CPU: the CUDA draws need a GPU.)"""
    shape = (4, 2, 2)
    seeds = [46_000_000, 46_000_101]
    per_sample = sample_noise(seeds, shape)
    for k, seed in enumerate(seeds):
        assert torch.equal(per_sample[k], torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed)))
    stream = stream_noise(3, shape, 0)
    assert torch.equal(stream, torch.randn(3, *shape, generator=torch.Generator("cpu").manual_seed(0)))
    generator = build_flux2(klein_dir, steps=1)
    table = torch.randn(3, CTX_LEN, CTX_DIM)
    contexts = lambda idx: table[idx]  # noqa: E731
    noise = sample_noise([5, 6, 7], generator.noise_shape(SIZE, SIZE))
    from_seeds = render(generator, contexts, [0, 1, 2], [5, 6, 7], SIZE, batch=2)
    torch.testing.assert_close(render(generator, contexts, [0, 1, 2], noise, SIZE, batch=3), from_seeds)
    with pytest.raises(ValueError, match="noise of shape"):
        render(generator, contexts, [0], torch.zeros(1, 3, 2, 2), SIZE)


def test_context_table_round_trip(tmp_path):
    table = torch.randn(7, CTX_LEN, CTX_DIM).to(torch.bfloat16)
    prompts = [f"p{i}" for i in range(7)]
    write_contexts(tmp_path / "ctx.npy", lambda ps: table[[int(p[1:]) for p in ps]], prompts, 3, {"rule": "test"})
    ctx = ContextTable(tmp_path / "ctx.npy")
    assert len(ctx) == 7 and ctx([5, 0, 5]).dtype == torch.bfloat16
    assert torch.equal(ctx([5, 0, 5]), table[[5, 0, 5]])
    assert json.loads((tmp_path / "ctx.npy.json").read_text())["count"] == 7


def test_qwen3_contexts_match_the_pipeline(klein_dir):
    """Contexts from the local folder's text encoder equal the pipeline's own prompt embeddings at ctx_len."""
    from diffusers import Flux2KleinPipeline

    prompts = ["a photo of a dog", "two cats"]
    ctx = qwen3_contexts(klein_dir, ctx_len=6)(prompts)
    assert ctx.shape == (2, 6, CTX_DIM) and ctx.dtype == torch.bfloat16
    pipe = Flux2KleinPipeline.from_pretrained(klein_dir, local_files_only=True)
    want, _ = pipe.encode_prompt(prompts, device="cpu", max_sequence_length=6)
    torch.testing.assert_close(ctx.float(), want.to(torch.bfloat16).float())


def test_missing_weights_fail_at_once_naming_the_fetch_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("flux2_klein", "siglip2_text", "pickscore", "pickscore_processor"):
        with pytest.raises(FileNotFoundError, match="fetch_t2i_weights"):
            resolve_t2i_weights(name, tmp_path, hf_cache=tmp_path / "hf")
    with pytest.raises(KeyError, match="known"):
        resolve_t2i_weights("flux3", tmp_path)


TRAIN_SCRIPT = Path(__file__).parents[2] / "workflow" / "scripts" / "t2i_paper_train.py"


@pytest.fixture(scope="module")
def train_inputs(klein_dir, tmp_path_factory):
    """The inputs of the training rule at tiny scale: prompt pool, contexts, tau, joint bundle of one encoder."""
    from rdm_core.io import save_tensors, write_json
    from rdm_core.reference.cache import load_battery_encoder
    from rdm_core.reference.joint_io import save_joint_reference

    root = tmp_path_factory.mktemp("t2i_train")
    g = torch.Generator().manual_seed(5)
    prompts = [f"prompt {i}" for i in range(6)]
    write_json(root / "pool.json", {"prompts": prompts, "rows": [0, 1, 2, 3, 4, 5, 5, 5], "n_reference": 4})
    table = torch.randn(6, CTX_LEN, CTX_DIM, generator=g).to(torch.bfloat16)
    write_contexts(root / "ctx.npy", lambda ps: table[[int(p.split()[1]) for p in ps]], prompts, 4, {})
    text = torch.nn.functional.normalize(torch.randn(6, 4, generator=g), dim=1)
    save_tensors(root / "text.safetensors", {"text": text})
    encoder = load_battery_encoder("effnet_lite0", root)[0]
    with torch.no_grad():
        feats = encoder(torch.rand(24, 3, SIZE, SIZE, generator=g))
    ref = text_joint_bundles({"effnet_lite0": feats}, text[torch.arange(24) % 4], True,
                             {"sigma_scale": 0.25, "s_txt": 1.0, "landmarks": 8}, REF)
    save_joint_reference(root / "joint.safetensors", ref, {"rule": "test"})
    return root


def launch(klein_dir, inputs, name, ranks):
    """Run the training rule's script through torchrun with ``ranks`` gloo processes."""
    out = inputs / name
    spec = {"arm": "joint", "cfg": {**CFG, "rollout": 4, "chunk": 1, "loss_chunk": 64}, "saved": [1, 2],
            "encoders": ["effnet_lite0"], "resolution": SIZE, "weights_dir": str(klein_dir.parent),
            "battery_weights_dir": None, "precision": "bf16", "scale_dir": str(inputs), "workdir": str(out / "work"),
            "input": {"reference": str(inputs / "joint.safetensors"), "pool": str(inputs / "pool.json"),
                      "ctx": str(inputs / "ctx.npy"), "text": str(inputs / "text.safetensors")},
            "output": {"weights": [str(out / "s0001.safetensors"), str(out / "s0002.safetensors")],
                       "compute": str(out / "compute.json")}, "log": str(out / "train.log")}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
                           str(TRAIN_SCRIPT), json.dumps(spec)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + (out / "train.log").read_text()[-3000:]
    return out


@pytest.mark.slow(seconds=60)
def test_training_script_two_ranks_equal_one_process(klein_dir, train_inputs):
    """The rule's torchrun script: saved steps, compute record, and 2 gloo ranks give the 1-process weights."""
    from rdm_core.io import load_tensors, read_json

    one = launch(klein_dir, train_inputs, "one", 1)
    two = launch(klein_dir, train_inputs, "two", 2)
    base = build_flux2(klein_dir, steps=1).transformer.state_dict()
    w1, meta = load_tensors(one / "s0002.safetensors")
    w2, _ = load_tensors(two / "s0002.safetensors")
    assert any(not torch.equal(w1[k], base[k]) for k in base)
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], atol=1e-6, rtol=1e-4)
    assert json.loads(meta["made_by"])["step"] == 2
    compute = read_json(two / "compute.json")
    assert compute["gpus"] == 2 and compute["unit"] == "GPU-hours"
    assert 0 < compute["gpu_hours"]["1"] < compute["gpu_hours"]["2"]
    assert len(list((two / "work").rglob("metrics.jsonl"))[0].read_text().splitlines()) == 2  # rank 0 only
