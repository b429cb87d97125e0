"""Ticket categories: the defaults from DESIGN.md, optionally overridden by CATEGORIES_FILE."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.durations import parse_duration


@dataclass(frozen=True)
class Category:
    key: str
    tag: str
    aliases: tuple[str, ...]
    response: timedelta
    resolution: timedelta
    urgent: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        """Every word that selects this category after a ``#``: the tag first, then aliases."""
        return (self.tag, *self.aliases)


def _c(
    key: str, tag: str, aliases: str, response: str, resolution: str, urgent: bool = False
) -> Category:
    return Category(
        key,
        tag,
        tuple(aliases.split()),
        parse_duration(response),
        parse_duration(resolution),
        urgent,
    )


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    _c("repair", "报修", "维修 修理", "2h", "3d"),
    _c("charging", "充电", "飞线充电 飞线", "30m", "1d", urgent=True),
    _c("water", "积水", "漏水 停水", "1h", "2d"),
    _c("road", "路面", "道路 井盖 路灯", "4h", "7d"),
    _c("sanitation", "环境", "卫生 垃圾", "4h", "2d"),
    _c("noise", "噪音", "扰民", "4h", "3d"),
    _c("safety", "隐患", "安全 消防", "30m", "1d", urgent=True),
    _c("help", "求助", "帮忙", "1h", "1d", urgent=True),
    _c("consult", "咨询", "问询 政策", "4h", "2d"),
    _c("complaint", "投诉", "", "2h", "7d"),
    _c("suggestion", "建议", "", "1d", "15d"),
    _c("parking", "停车", "占道", "4h", "3d"),
)


class CategoryError(ValueError):
    """The categories file is unreadable or describes an impossible catalogue."""


@dataclass(frozen=True)
class CategoryCatalog:
    """The categories in force, and the lookup from a tag word to its category."""

    categories: tuple[Category, ...]
    _by_word: Mapping[str, Category] = field(init=False, repr=False, compare=False)
    _by_key: Mapping[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_word: dict[str, Category] = {}
        for category in self.categories:
            for word in category.words:
                other = by_word.get(word.casefold())
                if other is not None and other.key != category.key:
                    raise CategoryError(
                        f"tag {word!r} is used by both {other.key} and {category.key}"
                    )
                by_word[word.casefold()] = category
        object.__setattr__(self, "_by_word", by_word)
        object.__setattr__(self, "_by_key", {c.key: c for c in self.categories})

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def get(self, key: str) -> Category | None:
        return self._by_key.get(key)

    def __getitem__(self, key: str) -> Category:
        return self._by_key[key]

    def by_word(self, word: str) -> Category | None:
        """The category whose tag or alias is exactly ``word`` (case-insensitive)."""
        return self._by_word.get(word.casefold())

    @classmethod
    def default(cls) -> CategoryCatalog:
        return cls(DEFAULT_CATEGORIES)

    @classmethod
    def load(cls, path: Path | None) -> CategoryCatalog:
        """The defaults, replaced or extended by the TOML file at ``path`` when one is given."""
        if path is None:
            return cls.default()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise CategoryError(f"cannot read categories file {path}: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "categories") -> CategoryCatalog:
        replace = data.get("replace_defaults", False)
        if not isinstance(replace, bool):
            raise CategoryError(f"{source}: replace_defaults must be true or false")
        table = data.get("categories", {})
        if not isinstance(table, Mapping):
            raise CategoryError(f"{source}: [categories] must be a table")
        merged: dict[str, Category] = {} if replace else {c.key: c for c in DEFAULT_CATEGORIES}
        for key, spec in table.items():
            merged[key] = _category_from_spec(key, spec, source)
        if not merged:
            raise CategoryError(f"{source}: no categories left")
        return cls(tuple(merged.values()))


def _category_from_spec(key: str, spec: Any, source: str) -> Category:
    where = f"{source}: [categories.{key}]"
    if not isinstance(spec, Mapping):
        raise CategoryError(f"{where} must be a table")
    unknown = set(spec) - {"tag", "aliases", "response", "resolution", "urgent"}
    if unknown:
        raise CategoryError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    tag = spec.get("tag")
    if not isinstance(tag, str) or not _is_tag_word(tag):
        raise CategoryError(f"{where}: tag must be one word of letters or digits, without '#'")
    aliases = spec.get("aliases", [])
    if not isinstance(aliases, list) or not all(
        isinstance(a, str) and _is_tag_word(a) for a in aliases
    ):
        raise CategoryError(f"{where}: aliases must be a list of words without '#'")
    try:
        response = parse_duration(spec["response"])
        resolution = parse_duration(spec["resolution"])
    except KeyError as exc:
        raise CategoryError(f"{where}: {exc.args[0]} is required") from exc
    except (TypeError, ValueError) as exc:
        raise CategoryError(f"{where}: {exc}") from exc
    if response <= timedelta(0) or resolution <= timedelta(0):
        raise CategoryError(f"{where}: deadlines must be longer than zero")
    urgent = spec.get("urgent", False)
    if not isinstance(urgent, bool):
        raise CategoryError(f"{where}: urgent must be true or false")
    return Category(key, tag, tuple(aliases), response, resolution, urgent)


def _is_tag_word(word: str) -> bool:
    return bool(word) and all(ch.isalnum() or ch == "_" for ch in word)
