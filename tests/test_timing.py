"""edgepose.runtime.timing: repeated and interleaved wall-clock timing."""

from __future__ import annotations

from edgepose.runtime.timing import time_calls_ms, time_interleaved_ms


def test_time_calls_counts_and_units() -> None:
    calls: list[int] = []
    times = time_calls_ms(lambda: calls.append(1), repeats=4, warmup=2)
    assert len(calls) == 6 and len(times) == 4 and all(t >= 0 for t in times)


def test_interleaved_rounds_rotate_the_order() -> None:
    order: list[str] = []
    fns = {name: (lambda name=name: order.append(name)) for name in ("a", "b", "c")}
    times = time_interleaved_ms(fns, repeats=3, warmup=1)
    assert list(times) == ["a", "b", "c"] and all(len(v) == 3 for v in times.values())
    rounds = [order[i:i + 3] for i in range(0, len(order), 3)]
    assert rounds == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]


def test_interleaved_times_belong_to_their_function() -> None:
    import time

    times = time_interleaved_ms({"slow": lambda: time.sleep(0.02), "fast": lambda: None}, repeats=3, warmup=0)
    assert min(times["slow"]) >= 15 and max(times["fast"]) < 15
