"""One line of the bench's table: what was measured for one model file on one backend (or a peer)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Row"]


@dataclass
class Row:
    """One benchmark line; times in ms (nan: not measured).

    ``model_*``: the runtime call on one preprocessed crop; ``e2e_*``: one frame of the moving
    scene through the tracking pipeline; ``batch_med`` / ``onecall_med`` / ``loop_med``: one
    frame with ``--people`` boxes, batched the default way (``"auto"``), in one runtime call,
    and in a loop of single calls. ``gmac``: multiply-adds per crop in 10^9, ``macs_from``
    where that figure came from. ``peer``: a peer's row (MoveNet, MediaPipe); ``found``: False
    when a peer found no person and so timed its detector only. ``model_vs_peer`` /
    ``e2e_vs_peer``: this row's median over the fastest peer's.
    """

    file: str
    model: str
    input_hw: str
    backend: str
    precision: str
    threads: str
    model_med: float = float("nan")
    model_p90: float = float("nan")
    e2e_med: float = float("nan")
    e2e_p90: float = float("nan")
    batch_med: float = float("nan")
    onecall_med: float = float("nan")
    loop_med: float = float("nan")
    gmac: float = float("nan")
    macs_from: str = ""
    accuracy: float = float("nan")
    peer: bool = False
    found: bool = True  # a peer that found no person timed its detector only
    model_vs_peer: float = float("nan")
    e2e_vs_peer: float = float("nan")

    @property
    def gmacs_per_s(self) -> float:
        """Achieved multiply-adds per second in 10^9: ``gmac`` over the model-only median."""
        return self.gmac / (self.model_med / 1e3) if self.model_med > 0 else float("nan")
