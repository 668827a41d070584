"""Learning-curve fits (edgepose.train.curves.extrapolate) and training/curves.py on known curves."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgepose.train.curves import extrapolate, read_training_log

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [16_000, 32_000, 48_000, 64_000, 80_000]


def write_log(path: Path, samples: list[int], pck, err) -> Path:
    """A log.csv like the engine's: a step row without metrics, then one validation row per sample count."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", "epoch", "step", "samples", "loss", "PCK@0.1", "median_error"])
        w.writerow([0, 1, 1, 32, 120.0, "", ""])
        for i, s in enumerate(samples):
            w.writerow([i, i + 1, s // 32, s, 100.0, pck(s), err(s)])
    return path


@settings(max_examples=25, deadline=None)
@given(b=st.floats(-0.5, -0.2), c=st.floats(-0.5, -0.05))
def test_fits_recover_exact_curves(tmp_path_factory, b: float, c: float) -> None:
    # accuracies: the miss rate 1 - PCK falls as a power law; errors fall as one
    log = write_log(tmp_path_factory.mktemp("log") / "log.csv", SAMPLES,
                    lambda s: 1 - 5.0 * s ** b, lambda s: 3.0 * s ** c)
    rows = read_training_log(log)
    pck = extrapolate(rows, "PCK@0.1")
    assert pck.points == 5 and pck.slope == pytest.approx(b, abs=1e-9)
    assert pck.value_at(160_000) == pytest.approx(1 - 5.0 * 160_000 ** b, abs=1e-9)
    assert pck.value_at(1e12) < 1
    err = extrapolate(rows, "median_error")
    assert err.slope == pytest.approx(c, abs=1e-9)
    assert err.value_at(1.5e6) == pytest.approx(3.0 * 1.5e6 ** c, rel=1e-9)


def test_last_fits_only_the_newest_points(tmp_path: Path) -> None:
    # a warm start: the first point is off the line that the last three follow
    values = {16_000: 0.9, 32_000: 0.5, 48_000: 0.6, 64_000: 0.7}
    log = write_log(tmp_path / "log.csv", list(values), values.__getitem__, lambda s: 0.1)
    fit = extrapolate(read_training_log(log), "PCK@0.1", last=3)
    assert fit.points == 3 and fit.first_samples == 32_000 and fit.slope < 0  # the miss rate falls
    assert extrapolate(read_training_log(log), "PCK@0.1").slope > fit.slope


def test_too_few_points_and_non_positive_errors_are_refused(tmp_path: Path) -> None:
    rows = read_training_log(write_log(tmp_path / "a.csv", [16_000], lambda s: 0.5, lambda s: 0.1))
    with pytest.raises(ValueError, match="1 validation point"):
        extrapolate(rows, "PCK@0.1")
    rows = read_training_log(write_log(tmp_path / "b.csv", SAMPLES, lambda s: 1.0, lambda s: 0.0))
    with pytest.raises(ValueError, match="positive"):
        extrapolate(rows, "median_error")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        extrapolate(rows, "PCK@0.1")


def test_cli_prints_the_table_and_rejects_a_missing_log(tmp_path: Path) -> None:
    write_log(tmp_path / "log.csv", SAMPLES, lambda s: 1 - 4.0 * s ** -0.25, lambda s: s ** -0.2)
    done = subprocess.run([sys.executable, str(ROOT / "training" / "curves.py"), str(tmp_path), "--at", "1.5e6"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("| PCK@0.1 |"))
    expected_2x = 100 * (1 - 4.0 * 160_000 ** -0.25)
    assert f"{expected_2x:.1f}" in line and "5 (" in line
    missing = subprocess.run([sys.executable, str(ROOT / "training" / "curves.py"), str(tmp_path / "nope")],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("error: no log.csv")
    assert "Traceback" not in missing.stderr
