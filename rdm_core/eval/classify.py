"""Class agreement and class log-probability from a held-out classifier of the battery (mini scale).

The classifier is a battery encoder whose backbone has a 10-way ``head`` on its features (``sup_res``,
held out from every training objective). Class agreement = accuracy of its prediction on the class the
generator was asked for; the per-sample log-probability of the requested class is the mini preference
score (the analogue of PickScore: a held-out scorer no objective uses).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def classifier_head(encoder: nn.Module) -> nn.Module:
    head = getattr(getattr(encoder, "backbone", None), "head", None)
    if not isinstance(head, nn.Linear):
        name = getattr(getattr(encoder, "spec", None), "name", type(encoder).__name__)
        raise ValueError(f"encoder '{name}' has no classification head; use a supervised classifier (sup_res)")
    return head


@torch.inference_mode()
def class_logprob(encoder: nn.Module, images: Tensor, labels: Tensor, batch: int = 500) -> Tensor:
    """log p(requested class | image) [N] under the classifier ``encoder`` (its features, then its head)."""
    head = classifier_head(encoder)
    out = []
    for x, y in zip(images.split(batch), labels.split(batch)):
        logp = F.log_softmax(head(encoder(x)).float(), 1)
        out.append(logp.gather(1, y.long().view(-1, 1)).squeeze(1))
    return torch.cat(out)


@torch.inference_mode()
def class_agreement(encoder: nn.Module, images: Tensor, labels: Tensor, batch: int = 500) -> float:
    """Fraction of images the classifier assigns to their requested class."""
    head = classifier_head(encoder)
    hits = sum(int((head(encoder(x)).argmax(1) == y).sum()) for x, y in zip(images.split(batch), labels.split(batch)))
    return hits / len(labels)
