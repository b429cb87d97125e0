"""The catalogue (bot/texts.py) and the code agree.

Every key the code names exists, in every language, with the same placeholders in each; every
key in the catalogue is named somewhere; and the code holds no Chinese words of its own for
people to read. Keys are found in the source itself: a string literal such as
``"receipt.title"`` (whatever calls it), and a key built in an f-string such as
``f"rating.{rating}"``, whose possible endings each family below lists from the code that
decides them.
"""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import pytest

from bot import commands, views
from bot.config import Settings
from bot.texts import _TEXTS, STATUS_NAMES, Language, Texts, keys
from bot.tickets import Action
from handlers import common, officer
from handlers import views as list_views

ROOT = Path(__file__).parent.parent
SOURCES = sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")])
LANGUAGES = frozenset(get_args(Language))

KEY = re.compile(r"[a-z_]+(?:\.[a-z0-9_]+)+")
PREFIX = re.compile(r"[a-z_]+(?:\.[a-z0-9_]+)*\.")

# commands refused without their words, answered with what to write and an example
_NEED_WORDS = frozenset(c.name for c in officer.COMMANDS if c.words is officer.Words.REQUIRED)

# f"prefix.{x}" keys: what x can be, read from the code that decides it.
FAMILIES: dict[str, frozenset[str]] = {
    "event.": frozenset(str(kind) for kind in views.EVENT_KINDS),  # bot/views.py: /show
    "rating.": frozenset(str(name) for name in views.RATING_NAMES),  # handlers/followup.py
    "escalation.level.": views.ESCALATION_LEVELS,  # handlers/followup.py, bot/views.py
    "stats.name.": frozenset({"response", "resolution", "satisfaction"}),  # bot/metrics, charts
    "list.scope.": frozenset(list_views.SCOPES),  # handlers/views.py
    "menu.": commands.commands(),  # bot/commands.py
    "cli.column.": frozenset({"chat_id", "kind", "street", "community", "name"}),  # bot/cli.py
    "cli.kind.": frozenset({"grid", "supervisor"}),  # bot/cli.py: chats.kind
    "officer.action.": frozenset(str(action) for action in Action),  # handlers/common.py
    "officer.hint.": frozenset(str(status) for status in common.HINTED),  # handlers/common.py
    "officer.what.": _NEED_WORDS,  # handlers/officer.py
    "officer.example.": _NEED_WORDS,
}
# f"prefix.{x}" keys looked up only when the catalogue has them (bot/config.py: a setting
# without its own line is explained by the generic one).
GUARDED: dict[str, frozenset[str]] = {"settings.": frozenset(Settings.model_fields)}

# Chinese words the code may hold: what people write (tags, parsing, input patterns), the
# ledger's columns (Chinese by design), the demo's script, the simulated Telegram.
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")
WORDS_ALLOWED_IN: tuple[str, ...] = (
    "bot/texts.py",
    "bot/parsing/",
    "bot/categories.py",
    "bot/classify.py",  # the lexicon of untagged problems: words residents write
    "bot/export.py",
    "bot/demo.py",
    "bot/simulator/",
)


@dataclass
class Usage:
    """What a set of sources says about keys."""

    literals: dict[str, list[str]] = field(default_factory=dict)  # key-like strings -> where
    called: dict[str, list[str]] = field(default_factory=dict)  # texts("…") literal -> where
    prefixes: dict[str, list[str]] = field(default_factory=dict)  # f"prefix.{…}" -> where
    words: list[str] = field(default_factory=list)  # Chinese literals outside the catalogue


def _catalogue_keys(tree: ast.Module) -> set[int]:
    """The nodes of the catalogue's own keys (bot/texts.py), which are not uses."""
    found: set[int] = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Assign):
            targets = node.targets
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        value = getattr(node, "value", None)
        if names & {"_TEXTS", "STATUS_NAMES"} and isinstance(value, ast.Dict):
            found |= {id(k) for k in value.keys if k is not None}
            for inner in value.values:  # {"zh": …, "en": …}
                if isinstance(inner, ast.Dict):
                    found |= {id(n) for n in ast.walk(inner)}
    return found


# Calls that read what people write: their string arguments are patterns, not words to show.
_READING = frozenset(
    {"compile", "Regex", "strip", "lstrip", "rstrip", "startswith", "endswith", "split"}
)


def _not_read(tree: ast.Module) -> set[int]:
    """Docstrings, and what reads people's input: patterns, comparisons, stripped marks."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            found.add(id(node.value))
        if isinstance(node, ast.Compare):
            found |= {id(n) for n in ast.walk(node)}
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name in _READING:
                found |= {id(n) for arg in node.args for n in ast.walk(arg)}
    return found


def _is_texts_call(node: ast.Call) -> bool:
    """``texts("…")``, ``runtime.texts("…")``, ``texts_for(…)("…")``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "texts" or isinstance(func, ast.Call)


def scan(sources: dict[str, str], sections: set[str]) -> Usage:
    usage = Usage()
    for where, source in sources.items():
        tree = ast.parse(source)
        own, unread = _catalogue_keys(tree), _not_read(tree)
        for node in ast.walk(tree):
            at = f"{where}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and _is_texts_call(node) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    usage.called.setdefault(first.value, []).append(at)
            if isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                text = head.value if isinstance(head, ast.Constant) else None
                if (
                    isinstance(text, str)
                    and PREFIX.fullmatch(text)
                    and text.split(".")[0] in sections
                ):
                    usage.prefixes.setdefault(text, []).append(at)
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in own:
                continue
            if KEY.fullmatch(node.value) and node.value.split(".")[0] in sections:
                usage.literals.setdefault(node.value, []).append(at)
            if id(node) not in unread and CJK.search(node.value):
                usage.words.append(f"{at}: {node.value!r}")
    return usage


def _sections() -> set[str]:
    return {key.split(".")[0] for key in keys()}


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text("utf-8") for p in SOURCES}


# The staff web page's templates name their words as t("key") (bot/web/app.py: templates_for).
TEMPLATES = sorted(ROOT.glob("bot/web/templates/*.html"))
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")


def scan_templates(usage: Usage) -> None:
    """Keys the templates call, and any Chinese written into a template instead of the catalogue."""
    for path in TEMPLATES:
        where = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for key in TEMPLATE_KEY.findall(line):
                usage.called.setdefault(key, []).append(f"{where}:{number}")
            if CJK.search(line):
                usage.words.append(f"{where}:{number}: {line.strip()!r}")


@pytest.fixture(scope="module")
def usage() -> Usage:
    found = scan(_sources(), _sections())
    scan_templates(found)
    return found


def _expansions() -> set[str]:
    return {prefix + end for prefix, ends in FAMILIES.items() for end in ends}


def test_every_key_has_every_language() -> None:
    lacking = {key: sorted(LANGUAGES - set(v)) for key, v in _TEXTS.items() if set(v) != LANGUAGES}
    assert not lacking, lacking
    empty = [key for key, v in _TEXTS.items() for text in v.values() if not text]
    assert not empty, empty
    assert all(set(names) == LANGUAGES for names in STATUS_NAMES.values())


def _placeholders(template: str) -> set[str]:
    """The values a template takes: ``{date.month}`` and ``{date:%b}`` both take ``date``."""
    fields = (name for _, name, _, _ in string.Formatter().parse(template) if name is not None)
    return {re.split(r"[.\[]", name)[0] for name in fields}


def test_languages_have_the_same_placeholders() -> None:
    differing = {
        key: {language: sorted(_placeholders(text)) for language, text in v.items()}
        for key, v in _TEXTS.items()
        if len({frozenset(_placeholders(text)) for text in v.values()}) > 1
    }
    assert not differing, differing


def test_every_key_the_code_names_exists(usage: Usage) -> None:
    named = {**usage.literals, **usage.called}
    missing = {key: where for key, where in named.items() if key not in keys()}
    assert not missing, f"keys used in the code but not in bot/texts.py: {missing}"
    built = sorted(_expansions() - keys())
    assert not built, f"keys built in f-strings but not in bot/texts.py: {built}"


def test_every_built_key_has_its_family_listed(usage: Usage) -> None:
    listed = set(FAMILIES) | set(GUARDED)
    unlisted = {p: where for p, where in usage.prefixes.items() if p not in listed}
    assert not unlisted, f"list the possible endings of these keys in FAMILIES: {unlisted}"
    stale = sorted(listed - set(usage.prefixes))
    assert not stale, f"no code builds these keys any more: {stale}"


def test_no_key_is_dead(usage: Usage) -> None:
    guarded = {prefix + end for prefix, ends in GUARDED.items() for end in ends}
    used = set(usage.literals) | set(usage.called) | _expansions() | guarded
    dead = sorted(keys() - used)
    assert not dead, f"keys nobody uses (remove them from bot/texts.py): {dead}"


def test_people_read_only_catalogue_words(usage: Usage) -> None:
    words = [w for w in usage.words if not w.startswith(WORDS_ALLOWED_IN)]
    assert not words, "move these words to bot/texts.py:\n" + "\n".join(words)


def test_the_scan_finds_what_is_wrong() -> None:
    """The checks above can fail: a missing key, a built key, a Chinese word are all seen."""
    source = (
        "def f(runtime, texts, kind):\n"
        '    """文档 is not read by anyone but developers."""\n'
        '    texts("nope.missing")\n'
        '    runtime.texts_for("zh", True)("receipt.title", ticket_id=1)\n'
        '    key = "popup.no_such_popup"\n'
        '    word = f"rating.{kind}"\n'
        '    return "号楼"\n'
    )
    found = scan({"x.py": source}, _sections())
    assert set(found.called) == {"nope.missing", "receipt.title"}
    assert "popup.no_such_popup" in found.literals and "popup.no_such_popup" not in keys()
    assert set(found.prefixes) == {"rating."}
    assert found.words == ["x.py:7: '号楼'"]


class _Value:
    """Stands for any value a template takes: ``{x}``, ``{x.month}``, ``{x:%b}``."""

    def __format__(self, spec: str) -> str:
        return "x"

    def __getattr__(self, name: str) -> _Value:
        return self


def test_texts_format_every_key_in_every_language() -> None:
    """Each template formats with its own placeholders: no stray brace, no unknown field."""
    for key, v in _TEXTS.items():
        for language in v:
            values = {name: _Value() for name in _placeholders(v[language])}
            assert Texts(language)(key, **values), key
