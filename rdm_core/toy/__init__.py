"""The spiral diagnostic (Fig. 3, low-dim Fig. 4 and Table 4): six distances x generated batch size."""

from .data import anchors, embed, embedding, real_points, sample_spiral, spiral_curve, to_plane
from .metrics import evaluate, med_dist, real_floor, recall
from .run import run_cell

__all__ = ["anchors", "embed", "embedding", "evaluate", "med_dist", "real_floor", "real_points", "recall",
           "run_cell", "sample_spiral", "spiral_curve", "to_plane"]
