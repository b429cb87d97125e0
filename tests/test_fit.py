"""Everything that quotes residents fits Telegram's limits, cut at a token with a marker."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from bot.fit import cut, fit, plain, split, utf16_len, visible_length
from tests.harness import Harness

TAGS = ("b", "i", "u", "s", "code")


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


def balanced(markup: str) -> bool:
    parser = _Balance()
    parser.feed(markup)
    parser.close()
    return parser.ok and not parser.stack and not re.search(r"&[#0-9A-Za-z]*$", markup)


_pieces = st.one_of(
    st.text(
        alphabet=st.sampled_from("报修3号楼ab 😀\n&<>"),
        min_size=1,
        max_size=40,
    ).map(lambda t: html.escape(t, quote=False)),
    st.tuples(st.sampled_from(TAGS), st.text(alphabet="楼道灯😀&x", max_size=30)).map(
        lambda p: f"<{p[0]}>{html.escape(p[1], quote=False)}</{p[0]}>"
    ),
    st.text(alphabet="电梯坏了", max_size=20).map(
        lambda t: f'<a href="https://t.me/c/1/2">{t}</a>'
    ),
)
markups = st.lists(_pieces, max_size=60).map("".join)


@given(markups, st.integers(min_value=1, max_value=300))
def test_cut_never_breaks_a_tag_or_entity_and_loses_nothing(markup: str, limit: int) -> None:
    head, tail = cut(markup, limit)
    assert visible_length(head) <= limit
    assert balanced(head) and balanced(tail)
    assert plain(head) + plain(tail) == plain(markup)


@given(markups, st.integers(min_value=20, max_value=300))
def test_fit_is_within_the_limit_and_says_it_cut(markup: str, limit: int) -> None:
    fitted = fit(markup, limit, "（已截断）")
    assert visible_length(fitted) <= limit and balanced(fitted)
    if visible_length(markup) > limit:
        assert fitted.endswith("（已截断）")
    else:
        assert fitted == markup


@given(markups, st.integers(min_value=10, max_value=200))
def test_split_keeps_every_character_in_parts_within_the_limit(markup: str, limit: int) -> None:
    parts = split(markup, limit)
    assert all(visible_length(p) <= limit and balanced(p) for p in parts)
    assert "".join(plain(p) for p in parts).replace("\n", "") == plain(markup).replace("\n", "")


def test_emoji_count_two() -> None:
    assert utf16_len("😀") == 2
    assert visible_length("<b>😀&amp;</b>") == 3
    head, _ = cut("😀😀😀", 3)
    assert head == "😀"


async def test_show_of_a_report_at_telegrams_own_limit(bot: Harness) -> None:
    resident, officer = bot.sim.add_user("王阿姨"), bot.sim.add_user("刘网格员")
    chat = await bot.grid("北瑞小区一网格", resident)
    bot.sim.set_member(chat, officer, "administrator")
    body = "#报修 3号楼2单元楼道灯不亮，" + "晚上黑漆漆的老人摔倒了😀" * 400
    body = body[: 4096 - 2 * body.count("😀")]  # as long as Telegram lets a resident write
    while utf16_len(body) > 4096:
        body = body[:-1]
    report = await bot.say(chat, resident, body)
    receipts = bot.replies(chat, report)
    assert len(receipts) == 1 and "已登记" in receipts[0]["text"]
    private = bot.sim.private_chat(officer)
    asked = await bot.say(private, officer, "/show 1")
    shown = bot.replies(private, asked)
    assert len(shown) == 1
    assert utf16_len(shown[0]["text"]) <= 4096
    assert "工单" in shown[0]["text"] and "完整内容请看原消息" in shown[0]["text"]
