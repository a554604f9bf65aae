"""The one 0-dim death-time function: against gudhi and ripser, its two backends, and the outputs
of the five implementations it replaced (recorded on fixed inputs before they were removed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import gudhi
import numpy as np
import pytest
import ripser
import torch
from scipy.spatial.distance import cdist

from tests.conftest import RECORD_MACHINE, cpu_signature, machine_reference, unrecorded_cpu
from topoexp.evaluation.death_times import batch_death_times
from topoexp.evaluation.latents import total_persistence0_batches
from topoexp.losses.connectivity import ConnectivityLoss
from topoexp.losses.homological import HomologicalLoss
from topoexp.topology import death_times0, pairing0, rips_barcodes

BEFORE = Path(__file__).parent / "data" / "death_times_before.npz"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def finite(z: torch.Tensor, cutoff: float | None = None, **kwargs) -> torch.Tensor:
    deaths = death_times0(z, cutoff=cutoff, **kwargs).deaths
    return deaths[torch.isfinite(deaths)]


def gudhi_deaths(D: np.ndarray, cutoff: float = np.inf) -> np.ndarray:
    """Sorted finite 0-dim deaths of gudhi's Rips complex on a distance matrix, zeros included."""
    tree = gudhi.RipsComplex(distance_matrix=D, max_edge_length=cutoff).create_simplex_tree(
        max_dimension=1
    )
    tree.persistence(min_persistence=-1)
    bars = tree.persistence_intervals_in_dimension(0).reshape(-1, 2)
    return np.sort(bars[np.isfinite(bars[:, 1]), 1])


def lattice() -> np.ndarray:
    """Grid points with many equal distances, edges of exactly 0.5, and duplicates."""
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(3)), -1).reshape(-1, 2) * 0.25
    far = np.array([[10.0, 0.0], [10.5, 0.0], [11.25, 0.0], [0.0, 0.0], [0.25, 0.0]])
    return np.concatenate([grid, grid + 3.0, far])


def cloud(kind: str, seed: int = 0, n: int = 40, d: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        return rng.normal(size=(n, d)) * 0.4
    if kind == "lattice":
        return lattice()
    X = rng.normal(size=(n, d)) * 0.4  # duplicates: a third of the points repeated
    X[n // 3 : 2 * (n // 3)] = X[: n // 3]
    return X


# ----------------------------------------------------------------------- independent references


@pytest.mark.parametrize("kind", ["gauss", "lattice", "dups"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("p", "backend"), [(1.0, "pairing"), (2.0, "pairing"), (3.0, "pairing"), (2.0, "fused")]
)
def test_deaths_equal_gudhi(kind, dtype, p, backend):
    X = cloud(kind)
    metric = {1.0: "cityblock", 2.0: "euclidean", 3.0: "minkowski"}[p]
    D = cdist(X, X, metric, **({"p": 3} if p == 3 else {}))
    tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 0}
    for cutoff in (None, 0.3, 0.5):
        ours = finite(torch.as_tensor(X, dtype=dtype), cutoff, p=p, backend=backend).numpy()
        theirs = gudhi_deaths(D, np.inf if cutoff is None else cutoff)
        if dtype == torch.float32 and cutoff is not None:  # rounding may move an edge across
            near = np.abs(theirs - cutoff) < 1e-6
            theirs, ours = theirs[~near], ours[np.abs(ours - cutoff) >= 1e-6]
        assert np.all(np.diff(ours) >= 0)
        np.testing.assert_allclose(ours, theirs, **tol)
    n_dups = len(X) - len(np.unique(X, axis=0))
    assert int((death_times0(torch.as_tensor(X, dtype=dtype), p).deaths == 0).sum()) == n_dups


@pytest.mark.parametrize("kind", ["gauss", "lattice", "dups"])
def test_distance_matrix_input_equals_ripser(kind):
    X = cloud(kind, seed=1)
    D = torch.from_numpy(cdist(X, X))
    deaths, pairs = death_times0(D, distance_matrix=True)
    dgm = ripser.ripser(D.numpy(), distance_matrix=True, maxdim=0)["dgms"][0]
    ours = deaths.numpy()
    np.testing.assert_allclose(ours[ours > 0], np.sort(dgm[np.isfinite(dgm[:, 1]), 1]), rtol=1e-6)
    torch.testing.assert_close(deaths, D[pairs[:, 0], pairs[:, 1]], rtol=0, atol=0)


def test_hand_computed_with_cutoff_and_gradient():
    # MST edges 0.3 (0–1), 0.4 (1–2), 1.7 (1–3)
    z = torch.tensor(
        [[0.0, 0.0], [0.3, 0.0], [0.3, 0.4], [2.0, 0.0]], dtype=torch.float64, requires_grad=True
    )
    for backend in ("pairing", "fused"):
        deaths, pairs = death_times0(z, cutoff=0.5, backend=backend)
        torch.testing.assert_close(deaths, torch.tensor([0.3, 0.4, float("inf")]).double())
        assert pairs.tolist() == [[0, 1], [1, 2], [1, 3]]
        (grad,) = torch.autograd.grad(deaths[:2].sum(), z)
        expected = torch.tensor([[-1.0, 0.0], [1.0, -1.0], [0.0, 1.0], [0.0, 0.0]]).double()
        torch.testing.assert_close(grad, expected)


def test_batched_equals_loop_and_keeps_batch_shape():
    z = torch.randn(5, 30, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for backend in ("pairing", "fused"):
        deaths, pairs = death_times0(z, cutoff=2.0, backend=backend)
        assert deaths.shape == (5, 29) and pairs.shape == (5, 29, 2)
        for b in range(5):
            one = death_times0(z[b], cutoff=2.0, backend=backend)
            torch.testing.assert_close(deaths[b], one.deaths, rtol=0, atol=0)
            torch.testing.assert_close(pairs[b], one.pairs)


def test_backends_agree_and_fused_gradient_is_exact():
    gen = torch.Generator().manual_seed(2)
    z = (torch.randn(3, 25, 4, dtype=torch.float64, generator=gen) * 0.5).requires_grad_(True)
    a, b = death_times0(z), death_times0(z, backend="fused")
    torch.testing.assert_close(a.pairs, b.pairs)
    torch.testing.assert_close(a.deaths, b.deaths, rtol=1e-14, atol=0)
    w = torch.rand(3, 24, dtype=torch.float64, generator=gen)
    (ga,) = torch.autograd.grad((a.deaths * w).sum(), z)
    (gb,) = torch.autograd.grad((b.deaths * w).sum(), z)
    torch.testing.assert_close(ga, gb, rtol=1e-12, atol=1e-14)
    assert torch.autograd.gradcheck(lambda t: death_times0(t, backend="fused").deaths, (z,))
    z32 = z.detach().float()
    torch.testing.assert_close(death_times0(z32, backend="fused").deaths, a.deaths.float())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_backend_is_the_death_term_of_the_homological_loss(dtype):
    gen = torch.Generator().manual_seed(1)
    z = (torch.randn(128, 10, generator=gen, dtype=torch.float64) * 0.3).to(dtype)
    z.requires_grad_(True)
    loss, terms = HomologicalLoss(coef=1.0, ball_coef=0.0)(z)
    deaths = finite(z, 0.5, backend="fused")
    assert 0 < len(deaths) < 127 and int(terms["n_deaths"]) == len(deaths)
    rel = 1e-14 if dtype == torch.float64 else 1e-6
    assert float(terms["death_sum"]) == pytest.approx(float(deaths.detach().sum()), rel=rel)
    (g_loss,) = torch.autograd.grad(loss, z)
    (g_deaths,) = torch.autograd.grad(-deaths.sum(), z)
    torch.testing.assert_close(g_loss, g_deaths, rtol=rel, atol=rel)


def test_fused_gradcheck_with_cutoff():
    z = torch.randn(12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    z = z.requires_grad_(True)
    deaths = death_times0(z.detach(), cutoff=0.8, backend="fused").deaths
    keep = torch.isfinite(deaths)
    assert 0 < int(keep.sum()) < 11 and ((deaths[keep] - 0.8).abs() > 1e-3).all()
    assert torch.autograd.gradcheck(
        lambda t: death_times0(t, cutoff=0.8, backend="fused").deaths[keep], (z,)
    )


def test_degenerate_sizes_and_invalid_arguments():
    assert death_times0(torch.zeros(1, 3)).deaths.shape == (0,)
    assert death_times0(torch.zeros(2, 0, 3), backend="fused").deaths.shape == (2, 0)
    for kwargs, match in [
        ({"backend": "gpu"}, "backend"),
        ({"p": 0.5}, "p must"),
        ({"cutoff": -1.0}, "cutoff"),
        ({"backend": "fused", "p": 1.0}, "Euclidean"),
    ]:
        with pytest.raises(ValueError, match=match):
            death_times0(torch.zeros(4, 2), **kwargs)
    with pytest.raises(ValueError, match="distance matrix"):
        death_times0(torch.zeros(4, 4), distance_matrix=True, backend="fused")
    with pytest.raises(ValueError, match="distances"):
        death_times0(torch.zeros(4, 3), distance_matrix=True)
    with pytest.raises(ValueError, match="shape"):
        death_times0(torch.zeros(4))
    nan = torch.zeros(4, 2)
    nan[1, 0] = float("nan")
    for backend in ("pairing", "fused"):
        with pytest.raises(ValueError, match="NaN"):
            death_times0(nan, backend=backend)


# ------------------------------------------------- the replaced implementations' recorded outputs


def _weighted_grad(z: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    w = (1.0 + torch.arange(y.numel(), dtype=y.dtype) / max(y.numel(), 1)).reshape(y.shape)
    (g,) = torch.autograd.grad((y * w).sum(), z)
    return g.numpy()


def _now(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Today's outputs for every key of the recording (the keys name the former functions:
    ``fdt`` homological.finite_death_times, ``tp0`` homological.total_persistence0, ``mst``
    connectivity.mst_death_times, ``con`` / ``hom`` the two losses, ``tpb`` and ``bdt`` the two
    evaluators)."""
    single = {k: v for k, v in inputs.items() if k[:5] in ("gauss", "latti", "intgr", "dups3")}
    batch = {k: v for k, v in inputs.items() if k.startswith("batch")}
    out: dict[str, np.ndarray] = {}
    for name, x in single.items():
        for cutoff in (0.5, None):
            z = torch.from_numpy(x).requires_grad_(True)
            y = finite(z, cutoff)
            out[f"fdt/{name}/{cutoff}/deaths"] = y.detach().numpy()
            out[f"fdt/{name}/{cutoff}/grad"] = _weighted_grad(z, y)
            t = finite(z, cutoff).sum()
            out[f"tp0/{name}/{cutoff}/value"] = t.detach().numpy()
            out[f"tp0/{name}/{cutoff}/grad"] = torch.autograd.grad(t, z)[0].numpy()
        for cfg_name, cfg in {
            "default": {},
            "norm": {"ball_norm": "norm"},
            "nocut": {"cutoff": None},
            "noball_death": {"death_coef": 0.0},
            "coefs": {"coef": 1.0, "ball_coef": 0.3},
        }.items():
            z = torch.from_numpy(x).requires_grad_(True)
            loss, terms = HomologicalLoss(**cfg)(z)
            out[f"hom/{name}/{cfg_name}/loss"] = loss.detach().numpy()
            out |= {f"hom/{name}/{cfg_name}/{k}": v.numpy() for k, v in terms.items()}
            out[f"hom/{name}/{cfg_name}/grad"] = torch.autograd.grad(loss, z)[0].numpy()
    for name, x in {**single, **batch}.items():
        for p in (1.0, 2.0, 1.5):
            z = torch.from_numpy(x).requires_grad_(True)
            deaths, pairs = death_times0(z, p)
            out[f"mst/{name}/{p}/deaths"] = deaths.detach().numpy()
            out[f"mst/{name}/{p}/pairs"] = pairs.numpy()
            out[f"mst/{name}/{p}/grad"] = _weighted_grad(z, deaths)
            for cfg_name, cfg in {
                "mean": {"eta": 2.0},
                "sum_keep": {"eta": 0.7, "branch_reduction": "sum", "drop_zero_deaths": False},
            }.items():
                loss, dd = ConnectivityLoss(p=p, **cfg)(z if z.dim() == 3 else z[None])
                out[f"con/{name}/{p}/{cfg_name}/loss"] = loss.detach().numpy()
                out[f"con/{name}/{p}/{cfg_name}/deaths"] = dd.detach().numpy()
                out[f"con/{name}/{p}/{cfg_name}/grad"] = torch.autograd.grad(loss, z)[0].numpy()
    for name in ("tp32", "tp64"):
        for cutoff in (None, 0.5):
            tp = total_persistence0_batches(torch.from_numpy(inputs[name]), 40, cutoff)
            out[f"tpb/{name}/{cutoff}"] = tp.numpy()
    for name in ("bd64", "bd32"):
        x = inputs[name]
        for p in (1.0, 2.0):
            out[f"bdt/{name}/{p}"] = batch_death_times(x, 2, 12, 7, seed=3, p=p)
            out[f"bdt_t/{name}/{p}"] = batch_death_times(torch.from_numpy(x), 2, 9, 5, 1, p)
    return out


def _digest(x: np.ndarray) -> str:
    x = np.ascontiguousarray(x)
    h = hashlib.sha256(f"{x.dtype.str}{x.shape}".encode())
    h.update(x.tobytes())
    return h.hexdigest()[:20]


@pytest.fixture(scope="module")
def recorded() -> tuple[dict[str, str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(BEFORE) as f:
        digests = dict(zip(f["digest_keys"].tolist(), f["digests"].tolist(), strict=True))
        values = {k[4:]: f[k] for k in f.files if k.startswith("val/")}
        inputs = {k[3:]: f[k] for k in f.files if k.startswith("in/")}
    torch.set_num_threads(1)
    return digests, values, _now(inputs)


def test_recording_covers_every_former_function(recorded):
    digests, _, now = recorded
    assert set(now) == set(digests)
    groups = {"fdt", "tp0", "mst", "con", "hom", "tpb", "bdt", "bdt_t"}
    assert {k.split("/")[0] for k in digests} == groups
    assert len(digests) == 513


@pytest.mark.parametrize("group", ["mst", "con", "hom", "tpb", "bdt", "bdt_t", "fdt", "tp0"])
def test_bit_identical_to_the_replaced_implementations(recorded, group):
    """Every output of the losses and evaluators, and every death time, is bit-identical.

    The one difference: the former ``finite_death_times`` / ``total_persistence0`` (used by
    tests and a benchmark only) paired on ``torch.cdist``'s matrix-product distances and
    gathered both ends with one index. Their deaths are unchanged; their gradients differ from
    today's in the last bits (summation order), and for duplicate points, which the matrix
    product made non-coincident by rounding, the tree between the duplicates is now the exact
    one: the gradient is then checked against the explicit formula on that tree.
    """
    digests, values, now = recorded
    keys = [k for k in digests if k.split("/")[0] == group]
    assert keys
    if group not in ("fdt", "tp0"):  # another CPU's last bits: its recording, if any
        machine = machine_reference(BEFORE.with_suffix(".json"))
        if RECORD_MACHINE:
            known = json.loads(machine.read_text()) if machine.is_file() else {}
            now_digests = {k: _digest(now[k]) for k in keys}
            machine.write_text(json.dumps({**known, **now_digests}, indent=1, sort_keys=True))
        if machine.is_file():
            digests = {**digests, **json.loads(machine.read_text())}
    differ = [k for k in keys if _digest(now[k]) != digests[k]]
    if group not in ("fdt", "tp0"):
        if differ and unrecorded_cpu(BEFORE.with_suffix(".json")):
            pytest.skip(
                f"{len(differ)} digests differ on this CPU (signature {cpu_signature()}), which "
                "has no recording: digests have no tolerance; the values are checked against "
                "gudhi and ripser above. Record with TOPOEXP_RECORD_MACHINE=1"
            )
        assert differ == []
        return
    assert all(k.endswith("/grad") for k in differ)
    for k in differ:
        name, cutoff = k.split("/")[1:3]
        if name.startswith("dups"):
            x = recorded_inputs()[name]
            expected = explicit_gradient(x, None if cutoff == "None" else float(cutoff), group)
            np.testing.assert_allclose(now[k], expected, rtol=1e-5, atol=1e-6)
        else:
            before, eps = values[k], np.finfo(values[k].dtype).eps
            np.testing.assert_allclose(now[k], before, rtol=4 * eps, atol=4 * eps)
    assert any(k.split("/")[1].startswith("dups") for k in differ) or group == "tp0"


def recorded_inputs() -> dict[str, np.ndarray]:
    with np.load(BEFORE) as f:
        return {k[3:]: f[k] for k in f.files if k.startswith("in/")}


def explicit_gradient(x: np.ndarray, cutoff: float | None, group: str) -> np.ndarray:
    """Σ_t w_t ∂‖x_i − x_j‖/∂x over the MST edges ≤ cutoff of the exact float64 distances, with
    the weights of :func:`_now` (``fdt``: 1 + t / k, ``tp0``: 1)."""
    x64 = x.astype(np.float64)
    pairs = pairing0(cdist(x64, x64))
    diff = x64[pairs[:, 0]] - x64[pairs[:, 1]]
    d = np.linalg.norm(diff, axis=1)
    k = len(d) if cutoff is None else int((d <= cutoff).sum())
    w = 1.0 + np.arange(k) / max(k, 1) if group == "fdt" else np.ones(k)
    grad = np.zeros_like(x64)
    for t in range(k):
        if d[t] > 0:
            g = w[t] * diff[t] / d[t]
            grad[pairs[t, 0]] += g
            grad[pairs[t, 1]] -= g
    return grad


# ------------------------------------------------------------------------- the Barcode contract


@pytest.mark.parametrize("kind", ["gauss", "lattice", "dups"])
def test_barcode_is_the_rips_barcode_in_dimension_0(kind):
    X = cloud(kind, seed=3, n=30)
    D = torch.from_numpy(cdist(X, X)).requires_grad_(True)
    ours = death_times0(D, distance_matrix=True).barcode()
    ref = rips_barcodes(D, maxdim=0, distance_matrix=True)[0]
    assert ours.dim == ref.dim == 0 and ours.sublevel and len(ours) == len(X)
    for field in ("births", "deaths", "birth_cells", "death_cells"):
        assert torch.equal(getattr(ours, field), getattr(ref, field)), field
    (g1,) = torch.autograd.grad(ours.lengths.sum(), D)
    (g2,) = torch.autograd.grad(ref.lengths.sum(), D)
    assert torch.equal(g1.triu(1), g2.triu(1))


def test_barcode_with_cutoff_batch_and_points():
    z = torch.randn(3, 20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    full = death_times0(z).barcode()
    cut = death_times0(z, cutoff=0.3).barcode()
    assert full.deaths.shape == full.death_cells.shape[:-1] == (3, 20)
    assert torch.equal(full.birth_cells, cut.birth_cells)
    long = full.deaths > 0.3
    assert long.any() and torch.equal(cut.deaths.isinf(), long)
    assert (cut.death_cells[long] == -1).all()
    assert torch.equal(cut.death_cells[~long], full.death_cells[~long])
    for b in range(3):
        ref = rips_barcodes(z[b], maxdim=0)[0]
        assert torch.equal(full.birth_cells[b], ref.birth_cells)
        assert torch.equal(full.death_cells[b], ref.death_cells)
        torch.testing.assert_close(full.deaths[b], ref.deaths, rtol=1e-14, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("backend", ["pairing", "fused"])
def test_cuda_input_equals_cpu(backend):
    z = torch.randn(2, 40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    cpu = death_times0(z.requires_grad_(True), cutoff=1.0, backend=backend)
    zc = z.detach().cuda().requires_grad_(True)
    gpu = death_times0(zc, cutoff=1.0, backend=backend)
    assert gpu.deaths.device == gpu.pairs.device == zc.device
    torch.testing.assert_close(gpu.pairs.cpu(), cpu.pairs)
    torch.testing.assert_close(gpu.deaths.cpu(), cpu.deaths)
    w = torch.isfinite(cpu.deaths)
    (g_cpu,) = torch.autograd.grad(cpu.deaths[w].sum(), z)
    (g_gpu,) = torch.autograd.grad(gpu.deaths[w.cuda()].sum(), zc)
    torch.testing.assert_close(g_gpu.cpu(), g_cpu)
    bar = gpu.barcode()
    assert bar.death_cells.device == zc.device
    assert torch.equal(bar.death_cells.cpu(), cpu.barcode().death_cells)
