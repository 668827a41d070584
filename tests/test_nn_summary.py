"""The size table: ``python -m edgepose.nn.summary``."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from edgepose.nn.summary import REFERENCE_CONFIGS, format_table, main, summarize  # noqa: E402


def test_reference_rows_match_papers():
    rows = {r.name: r for r in summarize(REFERENCE_CONFIGS)}
    assert round(rows["simdr_r50_64"].params / 1e6, 2) == 24.67
    assert round(rows["simdr_r50_128"].params / 1e6, 2) == 25.02
    assert round(rows["simdr_r50_256x192"].params / 1e6, 2) == 25.69
    assert round(rows["hm_r50_256x192"].params / 1e6, 1) == 34.0
    assert round(rows["simdrdeconv_r50_256x192"].params / 1e6, 1) == 36.8
    assert abs(rows["simdr_r50_256x192"].macs / 1e9 - 4.07) < 0.2
    table = format_table(rows.values())
    assert "simdr_r50_128" in table and "25.02" in table and "GMACs" in table.splitlines()[0]


def test_cli_reference_and_registry(capsys):
    assert main(["--reference"]) == 0
    out = capsys.readouterr().out
    assert "mrfea2_r50_256x192" in out and "24.67" in out
    pytest.importorskip("edgepose.zoo")
    assert main(["--models", "simdr_r50_64", "hm_r50_64"]) == 0
    out = capsys.readouterr().out
    assert "simdr_r50_64" in out and "hm_r50_64" in out and "0.34" in out
