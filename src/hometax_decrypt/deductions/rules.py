"""The 연말정산 rules per tax year, read from ``rules.json`` (the one place they live).

Every number the estimate uses is a *leaf* ``{"value", "source", "confidence", ...selectors}``, so
each figure can name where its rule comes from and how sure we are of it. The confidence levels:

- ``statute``: read in the statute text (current consolidated text plus the 부칙 that date it),
- ``official``: an official NTS/MOEF text,
- ``news``: reputable news or several consistent secondary sources — used, with a warning,
- ``unverified``: one blog, memory or contradicting sources — never used (the figure is not computed).

A year without data raises :class:`NoRules`; there is no fallback to a neighbouring year, because
the rules change almost every year and a wrong year's rule would look like a right answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

CONFIDENCE = ("statute", "official", "news", "unverified")
USABLE = frozenset({"statute", "official", "news"})


class NoRules(ValueError):
    """No rules for the requested tax year (maps to the caller's ``bad_lines``/usage error)."""


@dataclass(frozen=True)
class Leaf:
    """One sourced value. ``path`` names it within its year, e.g. ``card.rates[3]``."""

    year: int
    path: str
    value: Any
    source: str
    confidence: str
    selectors: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def usable(self) -> bool:
        return self.confidence in USABLE

    @property
    def ref(self) -> str:
        """How a figure cites this leaf: year, path, confidence and source."""
        return f"{self.year} {self.path} [{self.confidence}]: {self.source}"


@lru_cache(maxsize=1)
def _data() -> dict:
    text = resources.files(__package__).joinpath("rules.json").read_text(encoding="utf-8")
    return json.loads(text)


def _is_leaf(node: Any) -> bool:
    return isinstance(node, dict) and "value" in node and "source" in node and "confidence" in node


def _wrap(year: int, path: str, node: Any) -> Any:
    """Turn the year's JSON into nested dicts/lists whose leaves are :class:`Leaf`."""
    if _is_leaf(node):
        selectors = {k: v for k, v in node.items() if k not in ("value", "source", "confidence")}
        return Leaf(year, path, node["value"], node["source"], node["confidence"], selectors)
    if isinstance(node, dict):
        return {k: _wrap(year, f"{path}.{k}" if path else k, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_wrap(year, f"{path}[{i}]", v) for i, v in enumerate(node)]
    raise ValueError(f"rules.json {year} {path}: a value without source/confidence")


@dataclass(frozen=True)
class YearRules:
    """The rules of one tax year: ``rules["card"]["threshold_rate"]`` is a :class:`Leaf`."""

    year: int
    tree: dict

    def __getitem__(self, key: str) -> Any:
        return self.tree[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.tree.get(key, default)

    def leaves(self) -> Iterator[Leaf]:
        return _leaves(self.tree)


def _leaves(node: Any) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _leaves(v)
    elif isinstance(node, list):
        for v in node:
            yield from _leaves(v)


def years() -> list[int]:
    """Tax years that have rules."""
    return sorted(int(y) for y in _data()["years"])


def rules_for(year: int) -> YearRules:
    """The rules of tax year ``year``; :class:`NoRules` when there are none (never another year's)."""
    if isinstance(year, bool) or not isinstance(year, int):
        raise NoRules("the tax year must be an integer")
    node = _data()["years"].get(str(year))
    if node is None:
        raise NoRules(f"no 연말정산 rules for tax year {year} (have {years()[0]}–{years()[-1]})")
    return YearRules(year, _wrap(year, "", node))


def sources() -> dict[str, str]:
    """The source ids (S1, N1, …) that the leaves cite, with what each is."""
    return dict(_data()["sources"])


def confidence_levels() -> dict[str, str]:
    return dict(_data()["confidence_levels"])
