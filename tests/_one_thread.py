"""An autouse fixture for test modules whose tiny CPU passes run faster on one torch thread
when the cores are busy with other work: ``from _one_thread import one_thread  # noqa: F401``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """torch on one thread for the module's tests; the previous count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
