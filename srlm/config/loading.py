"""Reading a params file: YAML without duplicate keys, ``extends`` chains, validation errors that
name the key."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from .base import ParamsError
from .params import Params


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error naming key and line."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (first on line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_text(path: Path) -> str:
    """A params file's text; bytes that are not UTF-8 are an error naming file, line and column."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ParamsError(f"{path}:{line}:{column}: not UTF-8 (byte 0x{data[err.start]:02x})") from None


def params_chain(path: str | os.PathLike, _seen: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """The files of an ``extends`` chain, most derived first, each with its own (unmerged) keys."""
    path = Path(os.path.normpath(path))
    if not path.is_file():
        via = f" (extended by {_seen[-1]})" if _seen else ""
        raise ParamsError(f"{path}: params file not found{via}")
    if str(path.resolve()) in _seen:
        cycle = [*_seen[_seen.index(str(path.resolve())):], str(path.resolve())]
        raise ParamsError(f"{path}: extends cycle: {' -> '.join(cycle)}")
    try:
        raw = yaml.load(read_text(path), Loader=_UniqueKeyLoader) or {}  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping")
    parent = raw.pop("extends", None)
    if parent is not None and not (isinstance(parent, str) and parent.strip()):
        raise ParamsError(f"{path}: extends: must be the path of another params file, "
                          f"not {parent!r}")
    chain = [(str(path), raw)]
    seen = (*_seen, str(path.resolve()))
    return chain + params_chain(path.parent / parent, seen) if parent else chain


def read_raw(path: str | os.PathLike) -> dict:
    """Read a params YAML file, resolving ``extends`` chains (later files override earlier ones)."""
    merged: dict = {}
    for _, raw in reversed(params_chain(path)):
        merged = _merge(merged, raw)
    return merged


def has_key(raw: dict, dotted: str) -> bool:
    """Whether a dotted key (``rl.train``) is set in a raw params mapping."""
    for part in dotted.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return False
        raw = raw[part]
    return True


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid params"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_params(path: str | os.PathLike, overrides: dict | None = None) -> Params:
    """Load and validate a params file; raise :class:`ParamsError` naming any bad key."""
    raw = read_raw(path)
    if overrides:
        raw = _merge(raw, overrides)
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_describe(err, Path(path))) from None
