"""Train the small CNN that defines the generative metrics' feature space for one data set.

    python scripts/train_classifier.py --dataset mnist  --root data \
        --out topoexp/assets/mnist_cnn.pt --shift 2
    python scripts/train_classifier.py --dataset fmnist --root data \
        --out topoexp/assets/fmnist_cnn.pt
    python scripts/train_classifier.py --dataset mnist --arch mlp --root data \
        --out topoexp/assets/mnist_mlp.pt

``--arch mlp`` trains the fully connected pixel classifier (``PixelMLP``, the MLP target of the
topological adversarial attacks), recorded under ``<dataset>_mlp`` in the manifest.

Seeded and single-threaded (``torch.set_num_threads(1)``), through the training engine: Adam,
cross-entropy, shuffled batches of
the official training split (with ``--shift s``: each image translated by a random integer offset
in [−s, s]² with zero fill), a step learning-rate decay; the official test split is only scored.
Writes the ``state_dict`` to ``--out`` and records its sha256, architecture, test accuracy and this
command in ``classifiers.json`` beside it (read by ``topoexp.models.classifier.load_classifier``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

from topoexp.evaluation.image_tensors import image_tensors
from topoexp.io import save_torch, write_json
from topoexp.models.classifier import MANIFEST, PixelMLP, SmallCNN, file_sha256, read_manifest
from topoexp.training.batches import DeviceData, MemoryBatches
from topoexp.training.callbacks import Callback
from topoexp.training.engine import Engine
from topoexp.training.schedule import Epochs
from topoexp.training.steps import ClassifierStep

EPOCHS = {"mnist": 8, "fmnist": 15}


def random_shift(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image of ``x`` (B, 1, H, W) by its own random offset in [−shift, shift]²."""
    if shift == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift))
    dy, dx = torch.randint(0, 2 * shift + 1, (2, b, 1), generator=gen)
    rows = (dy + torch.arange(h))[:, :, None]
    cols = (dx + torch.arange(w))[:, None, :]
    return padded[torch.arange(b)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    return correct / len(x)


def train(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = image_tensors(args.dataset, args.root, "fit")
    x_test, y_test = image_tensors(args.dataset, args.root, "test")
    if args.arch == "mlp":
        model = PixelMLP(hidden=args.mlp_hidden)
    else:
        model = SmallCNN(channels=tuple(args.channels), hidden=args.hidden)
    epochs = args.epochs or EPOCHS[args.dataset]
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.3)
    gen = torch.Generator().manual_seed(args.seed)
    history: list[dict] = []

    def summary(results: list) -> dict[str, float]:
        total = 0.0
        for value, parts in results:
            total += value * parts["n"]
        return {"loss": total / len(x)}

    class Report(Callback):
        def on_epoch_end(self, engine: Engine, record: dict) -> None:
            record["test_accuracy"] = accuracy(model, x_test, y_test)

        def on_record(self, engine: Engine, record: dict) -> None:
            epoch = int(record["epoch"]) + 1
            history.append({"epoch": epoch, "loss": record["loss"],
                            "test_accuracy": record["test_accuracy"]})  # fmt: skip
            print(
                f"epoch {epoch}/{epochs}  loss {record['loss']:.4f}  test acc "
                f"{record['test_accuracy']:.4f}  {record['time/epoch_s']:.1f} s",
                flush=True,
            )

    # the shift draws from the batch order's generator, after each epoch's permutation
    step = ClassifierStep(lambda b: model(random_shift(b, args.shift, gen)), opt, {"model": model})
    batches = MemoryBatches(DeviceData(x, lambda v: v), args.batch_size, True, False, gen,
                            labels=y, loader_draw=False)  # fmt: skip
    Engine(step, Epochs(epochs), batches, [Report()], schedulers={"lr": sched},
           summary=summary).fit()  # fmt: skip
    return {"model": model, "history": history, "epochs": epochs}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(EPOCHS), required=True)
    parser.add_argument("--root", type=Path, required=True, help="data root (torchvision layout)")
    parser.add_argument("--out", type=Path, required=True, help="weights file (.pt)")
    parser.add_argument("--epochs", type=int, default=None, help="default: mnist 8, fmnist 15")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--channels", type=int, nargs=2, default=(32, 64))
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--arch", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--mlp-hidden", type=int, nargs="+", default=(256, 256))
    parser.add_argument("--shift", type=int, default=0, help="random translation (pixels)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    result = train(args)
    model = result["model"]
    save_torch(args.out, model.state_dict())
    manifest_path = args.out.parent / MANIFEST
    manifest = read_manifest(args.out.parent)
    command = "python scripts/train_classifier.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    key = args.dataset if args.arch == "cnn" else f"{args.dataset}_{args.arch}"
    manifest[key] = {
        "file": args.out.name,
        "sha256": file_sha256(args.out),
        "arch": args.arch,
        "architecture": model.config,
        "test_accuracy": result["history"][-1]["test_accuracy"],
        "epochs": result["epochs"],
        "seed": args.seed,
        "shift": args.shift,
        "history": result["history"],
        "command": command,
        "torch": torch.__version__,
    }
    write_json(manifest_path, manifest)
    print(f"wrote {args.out} (sha256 {manifest[key]['sha256']}) and {manifest_path}")
    return manifest[key]


if __name__ == "__main__":
    main()
