"""Batch-norm helpers: repeating a layer's running-statistics update (TopoAE's double encoding)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import Tensor, nn

__all__ = ["repeat_batchnorm_updates"]


def _second_update(
    module: nn.modules.batchnorm._BatchNorm, inputs: tuple[Tensor, ...], _out: Tensor
) -> None:
    """Apply a batch-norm module's running-statistics update once more for the same batch."""
    if not (module.training and module.track_running_stats):
        return
    x = inputs[0].detach()
    dims = [0, *range(2, x.dim())]
    mean = x.mean(dim=dims)
    var = x.var(dim=dims, unbiased=True)
    # Out of place: batch norm keeps the buffers of this forward for its backward.
    module.num_batches_tracked = module.num_batches_tracked + 1
    momentum = module.momentum
    factor = 1.0 / float(module.num_batches_tracked) if momentum is None else momentum
    module.running_mean = (1 - factor) * module.running_mean + factor * mean
    module.running_var = (1 - factor) * module.running_var + factor * var


@contextmanager
def repeat_batchnorm_updates(module: nn.Module) -> Iterator[None]:
    """Within the context, every forward of a batch-norm layer in ``module`` (training mode)
    updates its running statistics twice, as if the batch had been passed through twice."""
    handles = [
        m.register_forward_hook(_second_update)
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
