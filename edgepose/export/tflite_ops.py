"""List the operators of a TFLite file (torch- and TensorFlow-free).

Reads the flatbuffer's operator codes with ``ai_edge_litert.schema_py_generated``. An
operator is *builtin* when its code is a ``BuiltinOperator`` other than ``CUSTOM``; custom
operators (including the ``Flex*`` ops of SELECT_TF_OPS) need extra runtime support, so
edgepose ships only files whose ops are all builtin.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from edgepose.errors import ModelFileError
from edgepose.export.model_files import FLATBUFFER_ERRORS, load_tflite_model, read_model_bytes

__all__ = ["TFLiteOps", "tflite_ops", "check_builtin_only", "builtin_op_names"]


def builtin_op_names() -> dict[int, str]:
    """``BuiltinOperator`` code -> name (e.g. 3 -> "CONV_2D")."""
    from ai_edge_litert import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass(frozen=True)
class TFLiteOps:
    """Operators used by a TFLite file.

    Attributes:
        builtin: builtin op name -> number of uses over all subgraphs.
        custom: custom op code (e.g. "FlexErf") -> number of uses.
    """

    builtin: dict[str, int]
    custom: dict[str, int]

    @property
    def builtin_only(self) -> bool:
        """True when no custom (or Flex) op is used."""
        return not self.custom

    def names(self) -> list[str]:
        """Sorted names of all ops used (custom ones prefixed with ``custom:``)."""
        return sorted(self.builtin) + sorted(f"custom:{c}" for c in self.custom)


def tflite_ops(path: str | os.PathLike[str]) -> TFLiteOps:
    """Count the operators of the TFLite file ``path``.

    Raises:
        ModelFileError: missing, empty, corrupt or non-TFLite file.
    """
    p = Path(path)
    data = read_model_bytes(p)
    model = load_tflite_model(data, p)
    names = builtin_op_names()
    custom_code = next(code for code, name in names.items() if name == "CUSTOM")
    builtin: Counter[str] = Counter()
    custom: Counter[str] = Counter()
    try:
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            codes.append((code, (oc.CustomCode() or b"").decode("utf-8", "replace")))
        for s in range(model.SubgraphsLength()):
            graph = model.Subgraphs(s)
            for j in range(graph.OperatorsLength()):
                index = graph.Operators(j).OpcodeIndex()
                if not 0 <= index < len(codes):
                    raise ModelFileError(f"{p}: operator {j} refers to opcode {index} of {len(codes)}")
                code, custom_name = codes[index]
                if code == custom_code:
                    custom[custom_name or "<unnamed>"] += 1
                elif code in names:
                    builtin[names[code]] += 1
                else:
                    raise ModelFileError(
                        f"{p}: builtin operator code {code} is unknown to this ai_edge_litert schema; "
                        "upgrade ai-edge-litert"
                    )
    except FLATBUFFER_ERRORS as exc:
        raise ModelFileError(f"{p} is a corrupt TFLite file ({exc!r})") from None
    return TFLiteOps(dict(sorted(builtin.items())), dict(sorted(custom.items())))


def check_builtin_only(path: str | os.PathLike[str]) -> TFLiteOps:
    """:func:`tflite_ops`, raising ModelFileError if any custom/Flex op is present."""
    ops = tflite_ops(path)
    if not ops.builtin_only:
        raise ModelFileError(
            f"{path} uses non-builtin TFLite ops {sorted(ops.custom)}; it would need the Flex "
            "delegate or custom kernels. edgepose files must use builtin ops only."
        )
    return ops
