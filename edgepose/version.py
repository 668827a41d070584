"""The package version (one place; ``edgepose.__version__``, model-file metadata and checkpoints read it)."""

__version__ = "0.1.0"
