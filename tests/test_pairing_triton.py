"""The Triton pairing equals the numba pairing (and the original's Kruskal), ties included.

On the CPU the kernels run in Triton's interpreter, which in triton 3.8 has to be on
(``TRITON_INTERPRET=1``) before ``triton`` is imported: one worker process
(:mod:`tests.triton_interpret`) pairs every input below and the tests compare its outputs with the
numba path here. The interpreter runs each program step by step in NumPy, so sizes stay small. The
``gpu`` test runs the compiled kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_pairing import KINDS, pairing0_kruskal, sample_matrix
from topoexp.topology import death_times, pairing0, pairing_triton
from topoexp.topology.pairing import pairing_backend

pytest.importorskip("triton")

REPO_ROOT = Path(__file__).resolve().parents[1]
SIZES = [1, 2, 3, 8, 20]
ALL_KINDS = [*KINDS, "asym"]


def batch(kind: str, b: int, m: int, seed: int) -> np.ndarray:
    """(b, m, m) matrices of one kind; ``asym`` is a non-symmetric one with negative entries."""
    rng = np.random.default_rng(seed)
    if kind == "asym":
        return rng.normal(size=(b, m, m))
    return np.stack([sample_matrix(kind, m, rng) for _ in range(b)])


def nan_batch() -> np.ndarray:
    """Integer weights with 60 % NaN: some matrices connect without NaN edges, some do not."""
    D = batch("integer", 6, 8, seed=12)
    D[np.random.default_rng(11).random(D.shape) < 0.6] = np.nan
    return D


def cases() -> dict[str, np.ndarray]:
    """Every input the interpreter pairs, by name."""
    inf, nan = np.inf, np.nan
    out = {}
    for kind in ALL_KINDS:
        for m in SIZES:
            D = batch(kind, 3, m, seed=100 * m + len(kind))
            out[f"{kind}:{m}"] = D
            if m < 20 or kind in ("gauss", "asym"):  # where float32 rounding changes the tree
                out[f"{kind}:{m}:f32"] = D.astype(np.float32)
    out["grid:70"] = batch("grid", 1, 70, seed=4)  # 69 edges: the rank kernel's two blocks
    out["single"] = np.array([[0.0, 5.0], [5.0, 0.0]])  # a 2-D input
    out["one_point"] = np.zeros((3, 1, 1))
    out["empty"] = np.zeros((0, 5, 5))
    out["no_points"] = np.zeros((0, 0))
    out["all_tied"] = (1.0 - np.eye(5))[None]
    out["all_zero"] = np.zeros((1, 5, 5), np.float32)
    out["signed_zero"] = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, -0.0], [1.0, -0.0, 0.0]]])
    out["inf_nan"] = np.array(
        [[[0, 1, inf, 2], [1, 0, nan, inf], [inf, nan, 0, inf], [2, inf, inf, 0]]]
    )
    out["nan"] = nan_batch()
    for dtype in ("float16", "bfloat16", "int64"):
        out[f"as_{dtype}:grid"] = batch("grid", 2, 10, seed=5)
    out["grad:duplicates"] = batch("duplicates", 3, 12, seed=6)
    return out


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """The worker's outputs: the Triton pairing of every case, run in the interpreter."""
    folder = tmp_path_factory.mktemp("triton_interpret")
    src, dst = folder / "in.npz", folder / "out.npz"
    np.savez(src, **cases())
    env = {**os.environ, "TRITON_INTERPRET": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.triton_interpret", str(src), str(dst)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with np.load(dst) as results:
        return {name: results[name] for name in results.files}


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("m", SIZES)
def test_equals_numba(interpreted: dict[str, np.ndarray], kind: str, m: int) -> None:
    D = cases()[f"{kind}:{m}"]
    pairs = interpreted[f"{kind}:{m}"]
    assert pairs.shape == (3, max(m - 1, 0), 2) and pairs.dtype == np.int64
    np.testing.assert_array_equal(pairs, pairing0(D))
    for b in range(3):
        np.testing.assert_array_equal(pairs[b], pairing0_kruskal(D[b]))
    if f"{kind}:{m}:f32" in interpreted:  # compared in float32, as the numba kernel compares
        D32 = D.astype(np.float32)
        np.testing.assert_array_equal(interpreted[f"{kind}:{m}:f32"], pairing0(D32))
    if m >= 2:
        assert interpreted[f"{kind}:{m}:ok"].all()


def test_small_cases_and_ties(interpreted: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(interpreted["single"], [[0, 1]])
    assert interpreted["one_point"].shape == (3, 0, 2)
    assert interpreted["empty"].shape == (0, 4, 2)
    assert interpreted["no_points"].shape == (0, 2) == pairing0(np.zeros((0, 0))).shape
    star = [[[0, 1], [0, 2], [0, 3], [0, 4]]]  # all distances tied: row-major order
    np.testing.assert_array_equal(interpreted["all_tied"], star)
    np.testing.assert_array_equal(interpreted["all_zero"], star)
    np.testing.assert_array_equal(interpreted["signed_zero"], [[[0, 1], [1, 2]]])
    np.testing.assert_array_equal(interpreted["inf_nan"], [[[0, 1], [0, 3], [0, 2]]])
    D = cases()["grid:70"]
    np.testing.assert_array_equal(interpreted["grid:70"], pairing0(D))
    np.testing.assert_array_equal(interpreted["grid:70"][0], pairing0_kruskal(D[0]))


def test_nan_flag_where_numba_fails(interpreted: dict[str, np.ndarray]) -> None:
    """False exactly where the numba kernel raises; the tree then has NaN deaths."""
    D, pairs, ok = nan_batch(), interpreted["nan"], interpreted["nan:ok"]
    assert 0 < ok.sum() < len(D)
    for b in range(len(D)):
        deaths = death_times(D[b], pairs[b])
        if ok[b]:
            np.testing.assert_array_equal(pairs[b], pairing0(D[b]))
            assert np.isfinite(deaths).all()
        else:
            with pytest.raises(ValueError, match="NaN"):
                pairing0(D[b])
            assert np.isnan(deaths).any()
        assert np.all(pairs[b, :, 0] < pairs[b, :, 1])  # a spanning tree either way
        assert len(np.unique(np.concatenate([[0], pairs[b].ravel()]))) == D.shape[-1]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int64"])
def test_dtypes_as_numba(interpreted: dict[str, np.ndarray], dtype: str) -> None:
    name = f"as_{dtype}:grid"
    D = torch.from_numpy(cases()[name]).to(getattr(torch, dtype))
    np.testing.assert_array_equal(interpreted[name], pairing0(D, backend="numba").numpy())


def test_death_times_and_gradient_equal_numba(interpreted: dict[str, np.ndarray]) -> None:
    name = "grad:duplicates"
    D = torch.from_numpy(cases()[name]).requires_grad_(True)
    pairs = pairing0(D, backend="numba")
    np.testing.assert_array_equal(interpreted[name], pairs.numpy())
    deaths = death_times(D, pairs)
    (deaths * torch.arange(1, 12, dtype=D.dtype)).sum().backward()
    np.testing.assert_array_equal(interpreted[f"{name}:deaths"], deaths.detach().numpy())
    np.testing.assert_array_equal(interpreted[f"{name}:grad"], D.grad.numpy())
    assert D.grad.sum().item() == 3 * sum(range(1, 12))


def test_dispatch(interpreted: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    # in the interpreter a CPU tensor may ask for Triton but never gets it by default
    assert interpreted["backend:cpu_auto"] == "numba"
    assert interpreted["backend:cpu_triton"] == "triton"
    assert not pairing_triton.interpreting()
    D = torch.tensor(batch("gauss", 2, 6, seed=7))
    assert pairing_backend(D) == "numba" and pairing_backend(D.numpy()) == "numba"
    with pytest.raises(ValueError, match="CUDA tensor"):
        pairing0(D, backend="triton")
    with pytest.raises(ValueError, match="NumPy"):
        pairing0(D.numpy(), backend="triton")
    with pytest.raises(ValueError, match="backend must be one of"):
        pairing0(D, backend="cuda")
    monkeypatch.setattr(pairing_triton, "available", lambda: False)
    with pytest.raises(RuntimeError, match="needs the triton package"):
        pairing0(D, backend="triton")


def test_interpreter_switched_on_too_late(monkeypatch: pytest.MonkeyPatch) -> None:
    import triton

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert triton.knobs.runtime.interpret and not pairing_triton.interpreting()
    with pytest.raises(RuntimeError, match="before the first import"):
        pairing_triton.prim_pairs(torch.zeros(1, 3, 3))


def test_cpu_results_never_use_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU inputs take the numba path, bit for bit, by default."""

    def fail(*args: object) -> None:
        raise AssertionError("the Triton kernel ran on a CPU input")

    monkeypatch.setattr(pairing_triton, "prim_pairs", fail)
    D = batch("integer", 4, 30, seed=8)
    expected = np.stack([pairing0_kruskal(d) for d in D])
    np.testing.assert_array_equal(pairing0(D), expected)
    np.testing.assert_array_equal(pairing0(torch.from_numpy(D)).numpy(), expected)
    np.testing.assert_array_equal(pairing0(D, backend="numba"), expected)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("m", [2, 65, 100, 512, 1024])
def test_cuda_equals_numba(m: int) -> None:
    for kind in ("gauss", "duplicates", "grid"):
        D = batch(kind, 8, m, seed=m)
        for dtype in (torch.float64, torch.float32):
            Dc = torch.tensor(D, device="cuda", dtype=dtype)
            assert pairing_backend(Dc) == "triton"
            pairs = pairing0(Dc)
            assert pairs.device == Dc.device and pairs.dtype == torch.int64
            np.testing.assert_array_equal(pairs.cpu().numpy(), pairing0(Dc.cpu()).numpy())
    # subnormal distances are compared exactly (no flush to zero)
    tiny = torch.tensor(batch("grid", 4, 40, seed=1), dtype=torch.float32) * 1e-44
    np.testing.assert_array_equal(pairing0(tiny.cuda()).cpu().numpy(), pairing0(tiny).numpy())
    nan = torch.from_numpy(nan_batch())
    pairs, ok = pairing_triton.prim_pairs(nan.cuda())
    for b in range(len(nan)):
        if ok[b]:
            np.testing.assert_array_equal(pairs[b].cpu().numpy(), pairing0(nan[b]).numpy())
        else:
            with pytest.raises(ValueError, match="NaN"):
                pairing0(nan[b])
    Dc = torch.tensor(batch("gauss", 4, m, seed=2), device="cuda", requires_grad=True)
    death_times(Dc, pairing0(Dc)).sum().backward()
    assert Dc.grad.sum().item() == pytest.approx(4 * (m - 1))
