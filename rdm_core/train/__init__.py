"""Training core: the loop, gradient caching, battery balancing and checkpoints."""

from .balance import PIDLagrangian, UniformWeights, self_normalise
from .checkpoint import Checkpointer
from .gradcache import full_batch_step, gradcache_step
from .loop import TrainConfig, battery_loss_fn, rollout_generator, train

__all__ = ["PIDLagrangian", "UniformWeights", "self_normalise", "Checkpointer", "full_batch_step",
           "gradcache_step", "TrainConfig", "battery_loss_fn", "rollout_generator", "train"]
