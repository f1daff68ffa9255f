"""Evaluation: SW_rK and MMDrK against frozen banks. Off-objective: never imports the training loss
or ``rdm_core.train`` (``tests/unit/test_offobjective.py`` enforces it)."""

from .ratios import TooFewSamplesError, mmd_ratios, mmd_rK, score_features, sw_ratios, sw_rK
from .score import load_battery, score_images, score_npz
from .table import score_table

__all__ = ["TooFewSamplesError", "mmd_ratios", "mmd_rK", "score_features", "sw_ratios", "sw_rK", "load_battery", "score_images", "score_npz",
           "score_table"]
