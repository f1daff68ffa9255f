"""The class-conditional experiments at mini scale: the Frechet warm start and iRDM post-training.

Both wire the generic loop (:func:`rdm_core.train.train`): every step draws a fresh rollout (z, y) from
``rollout_generator(seed, step)``, generates, encodes with each encoder, and compares the joint feature
[phi(x) | beta * onehot(y)] of the rollout with the real train pairs, so the class is part of the matched
law (matching the image marginal alone leaves the class embedding without signal).
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..compare.frechet import frechet_distance, moments, sqrtm_psd
from ..compare.mmd import NystromBundle, build_nystrom_bundle, irdm_loss
from ..generators.mini import OneStepGenerator
from ..reference.build import nystrom_floor, reference_config
from ..representation.features import extract_features
from ..representation.joint import class_code, cross_class_factor, joint_features
from .balance import PIDLagrangian, UniformWeights
from .loop import battery_loss_fn, loop_config, rollout_generator, train

LOOP_KEYS = ("steps", "lr", "grad_clip", "checkpoint_every", "seed")
GENERATOR_KEYS = ("z_dim", "n_classes", "width")
WARMSTART_KEYS = LOOP_KEYS + GENERATOR_KEYS + ("batch", "beta")
IRDM_KEYS = LOOP_KEYS + ("rollout", "chunk", "pid", "beta")
JOINT_KEYS = ("beta", "sigma_scale", "floor_n")

Log = Callable[[str], None]


def config_section(cfg: Mapping, keys: Sequence[str], what: str) -> dict:
    """``cfg`` as a dict, checked to hold every key of ``keys`` (extra keys are kept)."""
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise ValueError(f"{what} config lacks {', '.join(missing)}")
    return dict(cfg)


def run_loop(model: nn.Module, make_rollout: Callable, generate: Callable, encoders: Mapping[str, Callable],
             battery_loss: Callable, controller, cfg: Mapping, workdir: str | os.PathLike,
             log: Log | None = None) -> nn.Module:
    """:func:`~rdm_core.train.train` with the loop settings of ``cfg`` (:func:`~rdm_core.train.loop.loop_config`)."""
    loop = loop_config(cfg)
    return train(model, make_rollout, generate, encoders, battery_loss, controller, loop, workdir,
                 **({} if log is None else {"log": log}))


def seeded(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Build a model with its initial weights drawn from ``seed`` (global RNG left untouched)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return factory()


def build_generator(cfg: Mapping) -> OneStepGenerator:
    """The one-step generator of a config (z_dim, n_classes, width), initialised from its seed."""
    cfg = config_section(cfg, GENERATOR_KEYS + ("seed",), "generator")
    return seeded(lambda: OneStepGenerator(cfg["z_dim"], cfg["n_classes"], cfg["width"]), cfg["seed"])


class ClassRollout:
    """Step k's rollout: ``n`` inputs (z, y) of the generator drawn from ``rollout_generator(seed, k)``,
    split into chunks of ``chunk``; keeps the rollout's one-hot class code for the joint feature."""

    def __init__(self, generator: OneStepGenerator, n: int, chunk: int, seed: int):
        if n < 1 or chunk < 1 or n % chunk:
            raise ValueError(f"the rollout N={n} must be a positive multiple of the chunk {chunk}")
        self.generator, self.n, self.chunk, self.seed = generator, n, chunk, seed
        self.code: Tensor | None = None

    def __call__(self, step: int) -> list[tuple[Tensor, Tensor]]:
        z, y = self.generator.sample_inputs(self.n, rollout_generator(self.seed, step))
        self.code = class_code(y, self.generator.n_classes)
        return list(zip(z.split(self.chunk), y.split(self.chunk)))

    def generate(self, chunk: tuple[Tensor, Tensor]) -> Tensor:
        return self.generator(*chunk)


# ----------------------------------------------------------------------------------------------
# Warm start: a Frechet objective on standardised joint features (the analogue of pMF-H FD-SIM).

def frechet_reference(feats: Tensor, labels: Tensor, n_classes: int, beta: float) -> dict[str, Tensor | float]:
    """Frozen Frechet target of one encoder from real train features and labels.

    Features are standardised (centred, divided by the root mean per-dimension variance, so every encoder
    has unit average variance whatever its raw scale), then joined with ``beta * onehot(y)``. On that
    scale the class block needs a weight of a few units to steer the generator: beta = 3 reached a class
    agreement of 0.72-0.81 in 200-250 steps at mini scale, beta = 1 only 0.44.
    """
    feats = feats.detach().double()
    mean = feats.mean(0)
    scale = feats.var(0).mean().sqrt().clamp_min(1e-12)
    mu, cov = moments(joint_features((feats - mean) / scale, class_code(labels, n_classes), beta))
    return {"mean": mean.float(), "scale": float(scale), "beta": float(beta), "mu": mu.float(), "cov": cov.float(),
            "sqrt_cov": sqrtm_psd(cov)}


def train_warmstart(images: Tensor, labels: Tensor, encoders: Mapping[str, Callable[[Tensor], Tensor]],
                    cfg: Mapping, workdir: str | os.PathLike, log: Log | None = None,
                    generator: OneStepGenerator | None = None) -> OneStepGenerator:
    """Train the one-step generator from scratch with the class-aware Frechet objective over ``encoders``.

    Per encoder the loss is the Frechet distance between the rollout's standardised joint features and the
    frozen moments of the real train pairs (:func:`frechet_reference`); the encoders are self-normalised
    and weighted uniformly. ``cfg``: steps, lr, grad_clip, checkpoint_every, seed, z_dim, n_classes, width,
    batch (the rollout, one chunk), beta (class-code weight on the standardised scale). Resumes from
    ``workdir``.
    """
    cfg = config_section(cfg, WARMSTART_KEYS, "warm start")
    generator = build_generator(cfg) if generator is None else generator
    refs = {name: frechet_reference(extract_features(enc, images), labels, cfg["n_classes"], cfg["beta"])
            for name, enc in encoders.items()}
    rollout = ClassRollout(generator, cfg["batch"], cfg["batch"], cfg["seed"])

    def frechet(g: Tensor, ref: Mapping) -> Tensor:
        joint = joint_features((g - ref["mean"]) / ref["scale"], rollout.code, ref["beta"])
        return frechet_distance(joint, ref["mu"], ref["cov"], ref["sqrt_cov"])

    controller = UniformWeights(list(encoders))
    return run_loop(generator, rollout, rollout.generate, encoders, battery_loss_fn(refs, frechet, controller),
                    controller, cfg, workdir, log)


# ----------------------------------------------------------------------------------------------
# iRDM: the Nystrom loss per encoder on joint features, balanced (PID or uniform), GradCache.

def joint_bundles(train_feats: Mapping[str, Tensor], train_labels: Tensor, val_feats: Mapping[str, Tensor],
                  val_labels: Tensor, sigmas: Mapping[str, float], joint_cfg: Mapping, reference_cfg: Mapping,
                  n_classes: int = 10, seed: int = 0) -> dict[str, dict]:
    """Joint Nystrom bundles and PID floors over [phi(x) | beta * onehot(y)] of the real pairs.

    Per encoder: sigma = ``sigma_scale`` x ``sigmas[name]``, the median-heuristic bandwidth of the encoder's
    own reference (computed once there), beta = ``joint_cfg.beta`` x sigma, so two different classes meet with the
    kernel factor exp(-beta_rel^2) whatever the encoder's scale; the bundle is built over the train joint
    features (landmarks, k-means, k_rr as in ``reference_cfg``); the floor is the mean over
    ``floor_draws`` draws of ``floor_n`` val joint features of the same loss, so floor and live score share
    a scale (use the rollout N of the PID arm as ``floor_n``).

    beta_rel = 1.5 (cross-class factor 0.105) is the mini default: a generated digit is pulled ten times
    harder toward real digits of its own class than toward equally close digits of another. Measured at
    mini scale (150 steps from scratch, N = 256): joint matching reaches the held-out classifier's class
    agreement of the warm start (0.80), the marginal law (beta 0) stays at chance (0.12); beta_rel = 2.5
    gave the same numbers.

    Returns ``{"bundles", "floors", "sigma", "beta"}``, each keyed by encoder, plus "cross_class_factor".
    """
    joint_cfg = config_section(joint_cfg, JOINT_KEYS, "joint reference")
    ref_cfg = reference_config(reference_cfg)
    out: dict[str, dict] = {"bundles": {}, "floors": {}, "sigma": {}, "beta": {}}
    train_code, val_code = class_code(train_labels, n_classes), class_code(val_labels, n_classes)
    for name, feats in train_feats.items():
        feats = feats.detach().float()
        sigma = joint_cfg["sigma_scale"] * float(sigmas[name])
        beta = joint_cfg["beta"] * sigma
        bundle = build_nystrom_bundle(joint_features(feats, train_code, beta), sigma, ref_cfg["landmarks"],
                                      seed=seed, iters=ref_cfg["kmeans_iters"], fit_n=ref_cfg["fit_n"],
                                      k_rr_n=ref_cfg["k_rr_n"])
        val = joint_features(val_feats[name].detach().float(), val_code, beta)
        out["bundles"][name] = bundle
        out["floors"][name] = nystrom_floor(val, bundle, joint_cfg["floor_n"], ref_cfg["floor_draws"], seed)
        out["sigma"][name], out["beta"][name] = sigma, beta
    out["cross_class_factor"] = cross_class_factor(joint_cfg["beta"])
    return out


def train_irdm(generator: OneStepGenerator, encoders: Mapping[str, Callable[[Tensor], Tensor]],
               bundles: Mapping[str, NystromBundle], floors: Mapping[str, float] | None, cfg: Mapping,
               workdir: str | os.PathLike, log: Log | None = None) -> OneStepGenerator:
    """Post-train ``generator`` with the class-conditional iRDM objective; resumes from ``workdir``.

    Each step: a fresh rollout of N = ``rollout`` inputs in chunks of ``chunk`` (GradCache when there is
    more than one), the images encoded by every selected encoder, joined with beta x sigma x onehot(y)
    (beta relative to the bundle's sigma, as in :func:`joint_bundles`), the iRDM loss against that
    encoder's joint bundle, self-normalised and weighted by the PID controller (``pid: true``, floors
    required) or uniformly. ``cfg``: steps, lr, grad_clip, checkpoint_every, seed, rollout, chunk, pid,
    beta, and optionally ``encoders`` (the subset to train against, e.g. one encoder) and ``loss_chunk``
    (row block of the loss).
    """
    cfg = config_section(cfg, IRDM_KEYS, "iRDM")
    names = list(cfg.get("encoders") or bundles)
    missing = [n for n in names if n not in encoders or n not in bundles]
    if missing:
        raise KeyError(f"no encoder or bundle for {missing}")
    if cfg["pid"]:
        if floors is None:
            raise ValueError("the PID controller needs the floors of the joint bundles")
        controller = PIDLagrangian(names, floors)
    else:
        controller = UniformWeights(names)
    rollout = ClassRollout(generator, cfg["rollout"], cfg["chunk"], cfg["seed"])

    def joint_irdm(g: Tensor, bundle: NystromBundle) -> Tensor:
        joint = joint_features(g, rollout.code, cfg["beta"] * bundle.sigma)
        if joint.shape[1] != bundle.Z.shape[1]:
            raise ValueError(f"joint features have {joint.shape[1]} columns, the bundle's landmarks "
                             f"{bundle.Z.shape[1]}: pass the joint bundles of these encoders")
        return irdm_loss(joint, bundle, chunk=cfg.get("loss_chunk"))

    battery = battery_loss_fn({n: bundles[n] for n in names}, joint_irdm, controller)
    return run_loop(generator, rollout, rollout.generate, {n: encoders[n] for n in names}, battery, controller,
                    cfg, workdir, log)
