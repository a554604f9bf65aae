"""Check that a data set is in place: ``python -m topoexp.data <name> [--root DIR]``.

Prints the split sizes, or the path that was searched and how to provide the files.
"""

from __future__ import annotations

import argparse
import os
import sys

from topoexp.data.images import IMAGE_DATASETS, load_image_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=IMAGE_DATASETS)
    parser.add_argument("--root", default=os.environ.get("TOPOEXP_DATA_DIR", "data"))
    args = parser.parse_args(argv)
    try:
        data = load_image_dataset(args.name, args.root)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sizes = {s: len(data.split(s)) for s in ("fit", "train", "validation", "test")}
    print(f"{args.name}: {sizes}, samples of shape {data.input_shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
