"""Pure-tensor comparison of feature distributions. Never imports snakemake.

- :mod:`.kernels`  Gaussian RBF on raw features, median-heuristic bandwidth
- :mod:`.mmd`      exact biased MMD, k-means, the Nystrom bundle, the iRDM loss (training)
- :mod:`.rff`      random-Fourier-feature MMD (MMDr14 and the RFF arm)
- :mod:`.frechet`  differentiable Frechet distance (training arm)
- :mod:`.sliced`   sliced Wasserstein: training loss and SW_2 evaluation banks
- :mod:`.drifting` the drifting field (training arm)

Only the evaluation-safe names are re-exported here. The training losses are imported from their
modules (``from rdm_core.compare.mmd import irdm_loss``), so that evaluation, which imports this
package through ``.rff`` and ``.sliced``, never loads a training loss (``tests/unit/test_offobjective.py``).
"""

from .kernels import median_sigma, rbf, sq_dist
from .rff import RFFMap, mmd2_rff
from .sliced import SortedBank, random_directions, sw2, sw_directions, sw_loss

__all__ = ["RFFMap", "SortedBank", "median_sigma", "mmd2_rff", "random_directions", "rbf", "sq_dist",
           "sw2", "sw_directions", "sw_loss"]
