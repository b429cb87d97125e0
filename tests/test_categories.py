from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.categories import DEFAULT_CATEGORIES, CategoryCatalog, CategoryError
from bot.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("2h", 7200),
        ("3d", 259200),
        ("1h30m", 5400),
        ("45", 45),
        (" 2 H ", 7200),
        ("0.5h", 1800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "2x", "-3m", "two hours", "3d-1h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("30s", "15m", "2h", "3d", "90s"):
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


def test_defaults_match_the_design_table() -> None:
    catalog = CategoryCatalog.default()
    assert len(catalog) == 12
    assert {c.key for c in catalog if c.urgent} == {"charging", "safety", "help"}
    charging = catalog["charging"]
    assert (charging.tag, charging.response, charging.resolution) == (
        "充电",
        timedelta(minutes=30),
        timedelta(days=1),
    )
    assert catalog["suggestion"].resolution == timedelta(days=15)


def test_override_replaces_and_extends(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text(
        '[categories.repair]\ntag = "报修"\naliases = ["坏了"]\n'
        'response = "10s"\nresolution = "1m"\n'
        '[categories.elevator]\ntag = "电梯"\nresponse = "15m"\n'
        'resolution = "4h"\nurgent = true\n',
        encoding="utf-8",
    )
    catalog = CategoryCatalog.load(file)
    assert len(catalog) == len(DEFAULT_CATEGORIES) + 1
    assert catalog["repair"].response == timedelta(seconds=10)
    assert catalog.by_word("坏了") is catalog["repair"]
    assert catalog.by_word("维修") is None  # the file's aliases replace the default ones
    assert catalog["elevator"].urgent


def test_replace_defaults(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text(
        'replace_defaults = true\n[categories.only]\ntag = "唯一"\n'
        'response = "1h"\nresolution = "1d"\n',
        encoding="utf-8",
    )
    assert [c.key for c in CategoryCatalog.load(file)] == ["only"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[categories.x]\ntag = '#x'\nresponse = '1h'\nresolution = '1d'\n", "tag must be"),
        ("[categories.x]\ntag = 'x'\nresolution = '1d'\n", "response is required"),
        ("[categories.x]\ntag = 'x'\nresponse = 'soon'\nresolution = '1d'\n", "not a duration"),
        ("[categories.x]\ntag = '报修'\nresponse = '1h'\nresolution = '1d'\n", "used by both"),
        ("[categories.x]\ntag = 'x'\nresponse = '1h'\nresolution = '1d'\ncolour = 1\n", "unknown"),
        ("replace_defaults = 'yes'\n", "replace_defaults"),
        ("this is not toml", "cannot read"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, toml: str, message: str) -> None:
    file = tmp_path / "c.toml"
    file.write_text(toml, encoding="utf-8")
    with pytest.raises(CategoryError, match=message):
        CategoryCatalog.load(file)


def test_missing_file_is_a_category_error(tmp_path: Path) -> None:
    with pytest.raises(CategoryError, match="cannot read"):
        CategoryCatalog.load(tmp_path / "absent.toml")
