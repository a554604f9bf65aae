"""The device protocol timing script, rehearsed on the CPU at tiny sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_device_timing_script_runs_and_records_every_protocol(tmp_path):
    out = tmp_path / "device.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_device_protocols.py"),
            "--tiny",
            "--device",
            "cpu",
            "--members",
            "2",
            "--json",
            str(out),
        ],
        check=True,
        cwd=tmp_path,
        timeout=600,
    )
    (row,) = json.loads(out.read_text())["results"]
    assert "error" not in row, row
    assert row["members"] == 2 and row["epoch_s"] > 0
    expected = row["epoch_s"] * 100 * 5 / 2 / 60
    assert abs(row["protocol_minutes"] - expected) < 1e-9
