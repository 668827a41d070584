"""edgepose.data.contact_sheet: labels drawn where they are, by side and visibility."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgepose.data.contact_sheet import LEFT_BGR, RIGHT_BGR, contact_sheet
from edgepose.errors import InputError


def _dataset(folder: Path) -> None:
    (folder / "images").mkdir(parents=True)
    (folder / "annotations").mkdir()
    cv2.imwrite(str(folder / "images" / "a.png"), np.zeros((64, 64, 3), np.uint8))
    keypoints = np.zeros((17, 3))
    keypoints[9] = (10, 10, 2)   # left wrist, visible
    keypoints[10] = (50, 50, 2)  # right wrist, visible
    keypoints[15] = (10, 50, 1)  # left ankle, hidden: hollow
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 64}],
            "annotations": [{"id": 1, "image_id": 1, "keypoints": keypoints.ravel().tolist()}]}
    (folder / "annotations" / "person_keypoints.json").write_text(json.dumps(data))


def test_left_right_and_hidden_keypoints(tmp_path: Path) -> None:
    _dataset(tmp_path / "d")
    sheet = contact_sheet(tmp_path / "d", n=1, columns=2, tile=128)  # scale 2
    assert sheet.shape == (128, 256, 3)
    assert tuple(sheet[20, 20]) == LEFT_BGR
    assert tuple(sheet[100, 100]) == RIGHT_BGR
    assert tuple(sheet[100, 20]) == (0, 0, 0)  # hollow centre
    assert np.all(sheet[:, 128:] == 0)  # the padding tile


def test_missing_dataset_names_the_render_command(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="training/synth.py --out"):
        contact_sheet(tmp_path / "none")
