"""Run the Triton pairing in Triton's interpreter on saved inputs (a worker for the tests).

    TRITON_INTERPRET=1 python -m tests.triton_interpret IN.npz OUT.npz

In triton 3.8 the interpreter must be switched on before ``triton`` is imported, hence a process
of its own. For every input ``name`` it writes ``name`` (the pairs of ``pairing0(...,
backend="triton")``) and ``name:ok`` (the per-matrix flags of ``prim_pairs``). Names starting
``as_<dtype>:`` are converted to that torch dtype first; ``grad:`` inputs also get ``name:deaths``
and ``name:grad``, the gradient of ``Σ_k k · death_k`` (k = 1, 2, ...) with respect to D.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from topoexp.topology import death_times, pairing0, pairing_triton
from topoexp.topology.pairing import pairing_backend


def run(name: str, D: np.ndarray) -> dict[str, np.ndarray]:
    T = torch.from_numpy(D)
    if name.startswith("as_"):
        T = T.to(getattr(torch, name[3 : name.index(":")]))
    out: dict[str, np.ndarray] = {}
    if name.startswith("grad:"):
        T.requires_grad_(True)
    pairs = pairing0(T, backend="triton")
    assert pairs.dtype == torch.int64 and pairs.device == T.device and not pairs.requires_grad
    out[name] = pairs.numpy()
    if T.ndim == 3 and T.shape[-1] >= 2 and T.dtype in (torch.float32, torch.float64):
        out[f"{name}:ok"] = pairing_triton.prim_pairs(T.detach().contiguous())[1].numpy()
    if name.startswith("grad:"):
        deaths = death_times(T, pairs)
        (deaths * torch.arange(1, deaths.shape[-1] + 1, dtype=T.dtype)).sum().backward()
        out[f"{name}:deaths"] = deaths.detach().numpy()
        out[f"{name}:grad"] = T.grad.numpy()
    return out


def main(src: str, dst: str) -> None:
    assert pairing_triton.interpreting(), "set TRITON_INTERPRET=1 before starting the process"
    inputs = np.load(src)
    results: dict[str, np.ndarray] = {}
    for name in inputs.files:
        results.update(run(name, inputs[name]))
    probe = torch.zeros(3, 3)
    results["backend:cpu_auto"] = np.array(pairing_backend(probe))
    results["backend:cpu_triton"] = np.array(pairing_backend(probe, "triton"))
    np.savez(dst, **results)


if __name__ == "__main__":
    main(*sys.argv[1:3])
