"""The connectivity loss of COREL (Hofer et al., ICML 2019; spec §A.2–A.3).

For one branch, let ``S = {z_1, …, z_B}`` be the batch's latents of that branch and ``ε_1 ≤ … ≤
ε_{B−1}`` the finite death times of the 0-dim Vietoris–Rips persistence of ``S`` under ℓ_p (p = 1
in COREL), i.e. the edge lengths of a minimum spanning tree of the complete graph on ``S``. Then

    L_η(S) = Σ_t |ε_t − η|,

a sum over the batch's death times. The loss of a batched latent with ``n`` branches is
``(1/n) Σ_b L_η(S_b)`` (the original code's mean over branches; ``branch_reduction="sum"`` is the
paper's plain sum, the same up to a rescaled λ).

The death times of all branches come from one :func:`~topoexp.topology.deaths.death_times0` call:
one batched pairing of the detached ``(n, B, B)`` stack of distance matrices, then ``‖z_i − z_j‖_p``
recomputed at the ``n·(B − 1)`` tree edges only, so gradients flow through the MST edges and the
backward pass never touches the other ``B²`` distances.

Zero-length bars (duplicate points) are dropped from the loss by default, as in the original
(torchph drops pairs whose birth equals their death, and every 0-dim birth is 0); their gradient
is 0 in either case.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import Tensor, nn

from topoexp.topology.deaths import death_times0

__all__ = ["BranchReduction", "ConnectivityLoss"]

BranchReduction = Literal["mean", "sum"]


class ConnectivityLoss(nn.Module):
    """``L = reduce_b Σ_t |ε_{b,t} − η|`` over the branches of a latent batch (module docstring).

    Args:
        eta: the target death time η (2.0: twice the original's ball radius 1.0).
        branch_reduction: ``"mean"`` over branches (the original code) or ``"sum"`` (the paper).
        p: the ℓ_p metric of the Vietoris–Rips filtration (1.0 in COREL).
        drop_zero_deaths: leave zero-length bars (duplicate points) out of the sum, as the
            original's persistence backend does; ``False`` counts each as ``|0 − η| = η``.

    ``forward(z)`` takes the ``(n_branches, B, d)`` stack of branch latents and returns
    ``(loss, deaths)`` with ``deaths`` of shape ``(n_branches, B − 1)`` (the MST edge lengths,
    zero-length ones included). A batch of fewer than two points has no death times and loss 0.
    """

    def __init__(
        self,
        eta: float = 2.0,
        branch_reduction: str = "mean",
        p: float = 1.0,
        drop_zero_deaths: bool = True,
    ) -> None:
        super().__init__()
        if not float(eta) > 0:
            raise ValueError(f"eta must be > 0, got {eta!r}")
        if branch_reduction not in get_args(BranchReduction):
            raise ValueError(
                f"branch_reduction must be one of {get_args(BranchReduction)}, "
                f"got {branch_reduction!r}"
            )
        if not float(p) >= 1:
            raise ValueError(f"p must be ≥ 1, got {p!r}")
        if not isinstance(drop_zero_deaths, bool):
            raise ValueError(f"drop_zero_deaths must be a bool, got {drop_zero_deaths!r}")
        self.eta = float(eta)
        self.branch_reduction: BranchReduction = branch_reduction  # type: ignore[assignment]
        self.p = float(p)
        self.drop_zero_deaths = drop_zero_deaths

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        if z.dim() != 3:
            raise ValueError(f"z must have shape (n_branches, B, d), got {tuple(z.shape)}")
        deaths = death_times0(z, self.p).deaths
        gaps = (deaths - self.eta).abs()
        if self.drop_zero_deaths:
            gaps = gaps.masked_fill(deaths.detach() == 0, 0.0)
        per_branch = gaps.sum(-1)
        loss = per_branch.mean() if self.branch_reduction == "mean" else per_branch.sum()
        if z.shape[0] == 0:
            loss = z.new_zeros(())
        return loss, deaths

    def extra_repr(self) -> str:
        return (
            f"eta={self.eta}, branch_reduction={self.branch_reduction!r}, p={self.p}, "
            f"drop_zero_deaths={self.drop_zero_deaths}"
        )
