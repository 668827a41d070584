"""Benchmarks of model files through the torch-free runtime (``edgepose bench``, ``python apps/bench.py``).

One job a module:

* ``scene``: the moving 640x480 scene every end-to-end run is timed on, and its tracker;
* ``latency``: model-only and end-to-end latency of one file on one backend (a :class:`Row`);
* ``macs``: multiply-adds per crop (given, from metadata, or counted in an ONNX graph);
* ``table``: the rows as a text table and CSV, and the "vs peer" columns;
* ``plot``: the PNG (matplotlib);
* ``soak``: memory and latency stability over many frames of the tracking pipeline.

The command that ties them together is :mod:`edgepose.commands.bench`. None of these modules
imports torch; ``onnx`` (graph MACs) and ``matplotlib`` (the plot) are imported only when used.
"""
