"""Run an experiment from Python: the same job as ``topoexp <overrides>``.

``run_experiment`` composes the config from the project's ``conf/`` (or the copy an installed
wheel carries), validates it, runs it into a run directory and returns the flat metrics; no
``paths.*`` overrides are needed (the current folder is the root, ``TOPOEXP_ROOT`` changes it).
``debug=smoke`` makes any experiment a seconds-long try.

    python examples/run_experiment.py [run directory]
"""

from __future__ import annotations

import sys

from topoexp.cli import run_experiment


def main(output_dir: str | None = None) -> dict[str, float]:
    return run_experiment(["+experiment=spheres/topoae", "debug=smoke"], output_dir=output_dir)


if __name__ == "__main__":
    metrics = main(sys.argv[1] if len(sys.argv) > 1 else None)
    print({key: round(value, 4) for key, value in metrics.items() if key.startswith("kl_")})
