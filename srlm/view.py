"""A stage's view of the params: exactly the keys it declares, nothing else.

A stage receives ``ParamsView(params, reads)`` instead of the whole :class:`~srlm.config.Params`;
reading a key outside ``reads`` raises :class:`UndeclaredRead` naming the stage and the key. Its
rerun digest (Snakemake), its ``dvc.yaml`` params and its resume fingerprint are computed from the
same ``reads`` (:mod:`srlm.stages`), so they cannot drift from what the code reads.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator, Mapping

from pydantic import BaseModel


class UndeclaredRead(RuntimeError):
    """A stage read a params key it does not declare in :mod:`srlm.stages`."""


def covered(key: str, reads: Iterable[str]) -> bool:
    """Is ``key`` (dotted) inside one of ``reads`` (a read key or a section above it)?"""
    return any(key == r or key.startswith(r + ".") for r in reads)


class ParamsView:
    """Read-only view of a params object (or one of its sections) limited to ``reads``.

    A fully covered value is returned as it is; a partly covered section comes back as a view.
    Mapping sections (``datasets``, ``models``, ...) list all their keys but let only declared
    entries be read. Methods and properties of the params classes run against the view."""

    __slots__ = ("_obj", "_reads", "_prefix", "_stage")

    def __init__(self, obj, reads: Iterable[str], stage: str, prefix: str = ""):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_reads", tuple(reads))
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_stage", stage)

    def _child(self, name: str, value):
        key = f"{self._prefix}{name}"
        if covered(key, self._reads):
            return value
        if any(r.startswith(key + ".") for r in self._reads):
            if isinstance(value, BaseModel | Mapping):
                return ParamsView(value, self._reads, self._stage, key + ".")
            return value  # an optional section that is unset (None): nothing below it to read
        raise UndeclaredRead(f"stage {self._stage} reads params key {key!r}, which it does not "
                             "declare (srlm/stages.py)")

    def __getattr__(self, name: str):
        if name.startswith("_"):  # probes of copy, pickle, pydantic: not params keys
            raise AttributeError(name)
        obj = self._obj
        if isinstance(obj, BaseModel) and name in type(obj).model_fields:
            return self._child(name, getattr(obj, name))
        attr = getattr(type(obj), name, None)
        if isinstance(attr, types.FunctionType):  # a method of the params classes: runs on the view
            return types.MethodType(attr, self)
        if isinstance(attr, property):
            return attr.fget(self)
        raise UndeclaredRead(f"stage {self._stage}: {name!r} is not readable through its params view")

    def __setattr__(self, name, value):
        raise TypeError("params are read-only")

    # mapping sections -----------------------------------------------------------------------
    def __getitem__(self, key: str):
        return self._child(str(key), self._obj[key])

    def get(self, key: str, default=None):
        return self[key] if key in self._obj else default

    def __contains__(self, key) -> bool:
        return key in self._obj

    def __iter__(self) -> Iterator:
        return iter(self._obj)

    def __bool__(self) -> bool:
        return bool(self._obj) if isinstance(self._obj, Mapping) else True

    def __len__(self) -> int:
        return len(self._obj)

    def keys(self):
        return self._obj.keys()

    def items(self):
        return [(k, self[k]) for k in self._obj]

    def values(self):
        return [self[k] for k in self._obj]

    def __repr__(self) -> str:
        return f"ParamsView({self._stage}: {', '.join(self._reads)})"
