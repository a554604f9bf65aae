"""Convert the committed results that predate run records into records, once.

Before run records were committed, a results directory held one CSV (or JSON) row per run, or per
group of seeds, and no run directories. This writes one record per such row under
``results/<paper>/runs/`` (:mod:`topoexp.report.records`) with what the row knows: its metrics,
the keys of its config (method, data set, seed, settings), ``status.json`` completed and a
``provenance.json`` whose ``source`` names the file the record was made from and whose
``git_commit`` / ``git_dirty`` are given only where that file recorded them. Records already
there (full records copied from run directories) are left as they are.

It was run once, on the commit that removed the converted files (`git log -- scripts/
convert_records.py`); its output is what is committed. It reads the files it converts, so it
cannot run again after them: kept as the record of how the converted records were made.

    python scripts/convert_records.py --root .
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from topoexp.report.corel import SETTINGS
from topoexp.report.records import write_record

SOURCE = "{file} (record made before run directories were committed)"
STATUS = {"status": "completed"}
#: corel run → (backbone, evaluated data set, scorer): the labels of its tables.
COREL = SETTINGS
DATA_LABEL = {"mnist": "MNIST", "fmnist": "Fashion-MNIST"}


def _number(value: Any) -> Any:
    """A CSV cell as JSON: NaN dropped (None), integral floats kept as floats."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _metrics(row: Mapping[str, Any], skip: set[str]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        value = _number(value)
        if key not in skip and value is not None:
            out[key] = value
    return out


def _provenance(file: str, **known: Any) -> dict[str, Any]:
    return {"source": SOURCE.format(file=file), "git_commit": None, "git_dirty": None} | known


def _table_commit(root: Path, folder: str) -> dict[str, Any]:
    """The commit the directory's table was built at (not necessarily the runs')."""
    path = root / folder / "provenance.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    commit = data.get("git_commit") if isinstance(data, dict) else None
    return {"table_built_at": commit} if commit else {}


def _skip_existing(record: Path) -> bool:
    return (record / "metrics.json").is_file()


def table1(root: Path, folder: str, out: str, experiment: str) -> Iterator[Path]:
    """A Table-1 ``runs.csv``: one record ``<method>_<seed>`` per row."""
    file = f"{folder}/runs.csv"
    for row in pd.read_csv(root / file).to_dict("records"):
        record = root / out / f"{row['method']}_{row['seed']}"
        if _skip_existing(record):
            continue
        config = {
            "method": row["method"],
            "seed": int(row["seed"]),
            "dataset": {"name": row["dataset"]},
            "experiment": experiment.format(**row),
        }
        metrics = _metrics(row, {"method", "dataset", "seed"})
        yield write_record(
            record, config, metrics, STATUS, _provenance(file, **_table_commit(root, folder))
        )


def perplexity(root: Path) -> Iterator[Path]:
    file = "results/reproduction_study/perplexity.csv"
    for row in pd.read_csv(root / file).to_dict("records"):
        p = float(row["perplexity"])
        config = {
            "method": "tsne",
            "seed": int(row["seed"]),
            "dataset": {"name": "spheres"},
            "experiment": "study/spheres_tsne",
            "model": {"perplexity": p},
        }
        record = root / "results/reproduction_study/runs/perplexity" / f"tsne_perplexity{p:g}"
        metrics = _metrics(row, {"perplexity", "seed"})
        yield write_record(record, config, metrics, STATUS, _provenance(file))


def signature(root: Path) -> Iterator[Path]:
    file = "results/topology_layer/signature_h01_runs.csv"
    for row in pd.read_csv(root / file).to_dict("records"):
        config = {
            "method": row["method"],
            "seed": int(row["seed"]),
            "dataset": {"name": "spheres"},
            "experiment": "spheres/topoae",
            "loss": {"signature": {"dims": [0, 1]}},
        }
        name = f"{row['method']}_{row['seed']}"
        record = root / "results/topology_layer/runs/signature_h01" / name
        metrics = _metrics(row, {"method", "seed"})
        yield write_record(record, config, metrics, STATUS, _provenance(file))


ATTACK_TASK = ("eps", "step_size", "steps", "clip_min", "clip_max", "early_stop", "n_attack",
               "attack_seed", "fit_epochs", "train_subset")  # fmt: skip
ATTACK_PROVENANCE = ("git_commit", "git_dirty", "duration_s")


def attacks(root: Path) -> Iterator[Path]:
    """One record per attack run; ``runs.csv`` recorded each run's commit and dirty flag."""
    file = "results/topology_layer/attacks/runs.csv"
    for row in pd.read_csv(root / file).to_dict("records"):
        config = {
            "method": f"attack_{row['model']}",
            "seed": int(row["seed"]),
            "dataset": {"name": "mnist"},
            "experiment": f"toplayer/attacks/{row['model']}",
            "task": {k: _number(row[k]) for k in ATTACK_TASK},
        }
        name = f"attack_{row['model']}_eps{row['eps']:g}_steps{int(row['steps'])}"  # as exported
        known = {k: _number(row[k]) for k in ATTACK_PROVENANCE}
        metrics = _metrics(row, {"model", "seed", *ATTACK_TASK, *ATTACK_PROVENANCE})
        record = root / "results/topology_layer/attacks/runs" / name
        yield write_record(record, config, metrics, STATUS, _provenance(file, **known))


def generator(root: Path, folder: str) -> Iterator[Path]:
    """One record per stage: its metrics (mean and std over 5 computations) and the stage's
    commit from the directory's ``provenance.json``."""
    file = f"{folder}/table.csv"
    stages = json.loads((root / folder / "provenance.json").read_text())
    for row in pd.read_csv(root / file).to_dict("records"):
        model = row["model"]
        stage = stages.get(model, {})
        config = {
            "method": model,
            "seed": stage.get("seed"),
            "dataset": {"name": "mnist"},
            "experiment": f"toplayer/generator/{stage.get('run', model)}",
            "task": {k: stage.get(k) for k in ("stage", "n_l2", "n_wass", "eval_seed")},
            "trainer": {"batch_size": stage.get("batch_size")},
        }
        metrics = {}
        for key, value in row.items():
            if key.endswith("_mean"):
                metrics[key.removesuffix("_mean")] = _number(value)
            elif key.endswith("_std"):
                metrics[key] = _number(value)
        metrics |= {
            k: stage[k] for k in ("iterations", "train_s", "iter_s", "eval_s", "computations")
        }
        known = {k: stage.get(k) for k in ("git_commit", "git_dirty")}
        source = f"{file} and {folder}/provenance.json"
        record = root / folder / "runs" / f"{model}_{stage.get('seed')}"  # as exported
        yield write_record(record, config, metrics, STATUS, _provenance(source, **known))


HOMREG = {
    "table.csv": "ten_epochs",
    "control_ball_prior.csv": "control_ball_prior",
    "epochs100_latent5.csv": "epochs100_latent5",
    "batch512.csv": "batch512",
}


def homreg(root: Path) -> Iterator[Path]:
    """One record per row (a group of seeds: mean, std with ddof 1, n_seeds); the per-seed
    values were never committed."""
    folder = "results/homreg"
    data = json.loads((root / folder / "provenance.json").read_text())
    seeds = {(r["dataset"], r["method"], int(r["latent"])): r["seeds"] for r in data["runs"]}
    for name, group in HOMREG.items():
        file = f"{folder}/{name}"
        for row in pd.read_csv(root / file).to_dict("records"):
            key = (row["dataset"], row["method"], int(row["latent"]))
            config = {
                "method": row["method"],
                "dataset": {"name": row["dataset"]},
                "experiment": group,
                "model": {"latent_dim": int(row["latent"])},
                "seeds": seeds.get(key) if group == "ten_epochs" else None,
            }
            metrics = _metrics(row, {"dataset", "method", "latent"})
            record = root / folder / "runs" / f"{group}_{row['dataset']}_{row['method']}_{key[2]}"
            known = {"git_commit": None, "table_built_at": data.get("git_commit")}
            yield write_record(record, config, metrics, STATUS, _provenance(file, **known))


def corel(root: Path) -> Iterator[Path]:
    """One record per COREL run: the mean AUC per m and the radius grid in ``metrics.json`` (the
    run's own keys), the per-class AUCs as ``per_class.csv``; commit from ``provenance.json``."""
    folder = root / "results/corel"
    runs = json.loads((folder / "provenance.json").read_text())
    radius = pd.read_csv(folder / "radius_grid_fmnist_to_mnist.csv")
    for name, (backbone, data, scorer) in COREL.items():
        per_class = pd.read_csv(folder / f"per_class_{name}.csv", dtype={"class": str})
        m_columns = [c for c in per_class if c.startswith("m=")]
        mean = per_class[per_class["class"] == "mean"].iloc[0]
        metrics = {
            f"auc_m{c[2:]}": _number(mean[c]) for c in m_columns if _number(mean[c]) is not None
        }
        for _, row in radius[radius["run"].str.startswith(f"{name}, ")].iterrows():
            m = row["run"].split("m=")[1]
            for column in radius.columns[1:]:
                metrics[f"auc_r{column[2:]}_m{m}"] = _number(row[column])
        entry = runs.get(name, {})
        config = {
            "method": name,
            "dataset": {"name": data},
            "experiment": entry.get("command", "").split("+experiment=")[-1].split()[0] or None,
            "labels": {"backbone": backbone, "evaluated_on": DATA_LABEL[data], "scorer": scorer},
            "trainer": {"max_epochs": entry.get("epochs")},
        }
        known = {k: entry.get(k) for k in ("git_commit", "git_dirty", "command", "packages")}
        source = f"results/corel/per_class_{name}.csv and results/corel/provenance.json"
        record = write_record(
            folder / "runs" / name, config, metrics, STATUS, _provenance(source, **known)
        )
        ours = per_class[["class", *m_columns]].rename(
            columns={c: f"auc_m{c[2:]}" for c in m_columns}
        )
        ours.to_csv(record / "per_class.csv", index=False)
        yield record


def regression(root: Path) -> Iterator[Path]:
    """One record per regression sweep: its protocol as the config, its seconds as the metric,
    its summary (mean error per β*, n and penalty at the selected λ) and trials as arrays."""
    folder = root / "results/topology_layer/regression"
    for protocol in sorted(folder.glob("*_protocol.json")):
        tag = protocol.name.removesuffix("_protocol.json")
        config = json.loads(protocol.read_text())
        seconds = config.pop("seconds", None)
        config = {"method": f"regression_{config['name']}", "seed": config.get("seed")} | config
        metrics = {"seconds": seconds} if seconds is not None else {}
        source = f"results/topology_layer/regression/{tag}_*.csv and _protocol.json"
        record = root / "results/topology_layer/runs/regression" / tag
        write_record(record, config, metrics, STATUS, _provenance(source))
        for name in ("summary", "trials"):
            (record / f"{name}.csv").write_bytes((folder / f"{tag}_{name}.csv").read_bytes())
        yield record


def convert(root: Path) -> list[Path]:
    made: list[Path] = []
    for folder in ("spheres", "mnist", "fmnist"):
        made += table1(root, f"results/{folder}", f"results/{folder}/runs", "{dataset}/{method}")
    study = "study/{dataset}_{method}"
    made += table1(root, "results/reproduction_study", "results/reproduction_study/runs", study)
    made += table1(
        root, "results/reproduction_study/mnist", "results/reproduction_study/mnist/runs", study
    )
    made += perplexity(root)
    made += signature(root)
    made += attacks(root)
    made += generator(root, "results/topology_layer/generator")
    made += generator(root, "results/topology_layer/generator/seed1")
    made += homreg(root)
    made += corel(root)
    made += regression(root)
    return made


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    made = convert(args.root.resolve())
    print(f"{len(made)} records written")


if __name__ == "__main__":
    main()
