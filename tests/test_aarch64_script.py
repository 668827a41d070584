"""tests/aarch64/run.sh needs root and qemu, so CI never runs it whole; its Python parts run here.

The script lists the shipped int8 files with a Python snippet embedded in the shell script;
a rename in the package once broke that snippet without any test noticing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "aarch64" / "run.sh"


def embedded_snippets(text: str) -> list[str]:
    """The ``"$PYTHON" -c '...'`` programs of the script (single-quoted, no quotes inside)."""
    return re.findall(r"\"\$PYTHON\" -c '(.*?)'", text, flags=re.S)


def test_the_script_lists_the_shipped_int8_files() -> None:
    snippets = [s for s in embedded_snippets(SCRIPT.read_text()) if "read_manifest" in s]
    assert len(snippets) == 1, "the snippet that lists the shipped files has moved: update this test"
    out = subprocess.run([sys.executable, "-c", snippets[0]], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, check=True).stdout.split()
    assert out, "no shipped int8 file listed"
    for path in map(Path, out):
        assert path.is_file() and path.suffix in (".onnx", ".tflite"), path
