"""apps/detector_recall.py: the matching rules of the detector recall table (no renders, no models)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


@pytest.fixture(scope="module")
def app() -> Iterator[ModuleType]:
    path = Path(__file__).resolve().parents[1] / "apps" / "detector_recall.py"
    spec = importlib.util.spec_from_file_location("detector_recall_app", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        yield module
    finally:
        sys.modules.pop("detector_recall_app", None)


def test_iou_matrix(app: ModuleType) -> None:
    ious = app.iou_matrix(np.array([[0, 0, 10, 10], [5, 0, 10, 10]]), np.array([[0, 0, 10, 10], [100, 100, 5, 5]]))
    np.testing.assert_allclose(ious, [[1, 0], [50 / 150, 0]])
    assert app.iou_matrix(np.zeros((0, 4)), np.zeros((2, 4))).shape == (0, 2)


def test_match_counts_hits_ignores_and_false_positives(app: ModuleType) -> None:
    gt = np.array([[0, 0, 10, 20], [50, 0, 10, 20], [100, 0, 4, 4]], float)
    counted = np.array([True, True, False])  # the third is tiny: ignored
    dets = np.array([[0, 0, 10, 20],      # hits person 0
                     [1, 0, 10, 20],      # duplicate of person 0: false positive
                     [100, 0, 4, 4],      # matches the ignored person: neither
                     [200, 0, 10, 10]],   # nothing there: false positive
                    float)
    found, fp = app.match(dets, np.array([0.9, 0.8, 0.7, 0.6]), gt, counted, 0.5)
    assert found.tolist() == [True, False, True] and fp == 2
    found, fp = app.match(np.zeros((0, 4)), np.zeros(0), gt, counted, 0.5)
    assert not found.any() and fp == 0
    found, fp = app.match(dets, np.ones(4), np.zeros((0, 4)), np.zeros(0, bool), 0.5)
    assert fp == 4


def test_tally_rows_and_breakdown(app: ModuleType) -> None:
    frame = app.Frame(Path("x.jpg"), np.array([[0, 0, 10, 200], [50, 0, 10, 100]], float), np.array([True, True]),
                      [], [("standing", "height 128-255 px"), ("sitting", "height <128 px")])
    tally = app.Tally()
    app.score_frame(tally, frame, np.array([[0, 0, 10, 200]], float), np.array([0.9]), 0.5)
    tally.ms.append(5.0)
    row = tally.row("det")
    assert row["recall"] == 0.5 and row["fp_per_frame"] == 0 and row["ms_median"] == 5.0
    assert row["groups"] == {"standing": [1, 1], "height 128-255 px": [1, 1], "sitting": [0, 1],
                             "height <128 px": [0, 1]}
    assert "| sitting | 1 | 0.00 |" in app.format_breakdown([row])
    assert "0.500 (1/2)" in app.format_table([row], 0.5)
    assert app.height_bucket(300) == "height >=256 px"
