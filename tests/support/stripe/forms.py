"""Stripe's form encoding: the bracket notation of request bodies and query
strings, decoded into nested dicts and lists, and Python values encoded the
way the form decoder would produce them (for scenario helpers)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")
_DICT_ONLY_KEYS = frozenset({"metadata"})


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracket notation into nested dicts/lists.

    ``line_items[0][price]=p`` -> ``{"line_items": [{"price": "p"}]}``,
    ``metadata[user_id]=3`` -> ``{"metadata": {"user_id": "3"}}``,
    ``expand[]=a&expand[]=b`` (or ``expand[0]=a``) -> ``{"expand": ["a", "b"]}``.
    A dict whose keys are all digits becomes a list, except under ``metadata``.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        m = _KEY_RE.match(raw_key)
        parts = [m.group(1), *_PART_RE.findall(m.group(2))] if m else [raw_key]
        node = root
        for depth, part in enumerate(parts):
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if depth == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root, None)


def _listify(node: Any, key: str | None) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, k) for k, v in node.items()}
    if key is not None and key not in _DICT_ONLY_KEYS and out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_query(query: str) -> dict[str, Any]:
    """A query string (``?limit=3&expand[]=data.customer``) decoded like a form body."""
    return decode_form(urllib.parse.parse_qsl(query, keep_blank_values=True))


def stringify(value: Any) -> Any:
    """Python kwargs -> what the form decoder would produce (strings, nested dicts/lists)."""
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
