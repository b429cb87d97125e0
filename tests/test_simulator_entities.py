"""The simulator computes entities the way Telegram (tdlib) does."""

from __future__ import annotations

import pytest

from bot.simulator.entities import (
    EntityParseError,
    entity_text,
    find_entities,
    merge_entities,
    parse_html,
    strip_text,
    utf16_len,
)


def found(text: str) -> list[tuple[str, str]]:
    """``(type, covered text)`` of every detected entity."""
    return [(e["type"], entity_text(text, e)) for e in find_entities(text)]


def hashtags(text: str) -> list[str]:
    return [part for kind, part in found(text) if kind == "hashtag"]


# ------------------------------------------------------------------------------------ hashtags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#报修北瑞小区西巷路面破损，影响出行", ["#报修北瑞小区西巷路面破损"]),
        ("请处理#报修 路灯坏了", []),
        ("北瑞小区#报修", []),
        ("＃报修 全角井号", []),
        ("#报修#充电", []),
        ("#报修 #充电", ["#报修", "#充电"]),
        ("【#报修】楼道灯不亮", ["#报修"]),
        ("#123", []),
        ("#123abc", ["#123abc"]),
        ("#_", []),
        ("#a_b·c", ["#a_b·c"]),
        ("路面坑洼 #路面。", ["#路面"]),
        ("(#积水)", ["#积水"]),
        ("#", []),
        ("#报修\n#充电", ["#报修", "#充电"]),
        ("x#tag", []),
        ("1#tag", []),
        ("_#tag", []),
        ("-#tag", ["#tag"]),
    ],
)
def test_hashtag_rules(text: str, expected: list[str]) -> None:
    assert hashtags(text) == expected


def test_hashtag_is_cut_after_256_letters() -> None:
    text = "#" + "a" * 300
    (entity,) = find_entities(text)
    assert entity == {"type": "hashtag", "offset": 0, "length": 257}


def test_hashtag_needs_a_letter_within_its_first_256_characters() -> None:
    assert hashtags("#" + "1" * 255 + "a") == ["#" + "1" * 255 + "a"]
    assert hashtags("#" + "1" * 256 + "a") == []


def test_hashtag_followed_by_hash_after_the_cut_is_dropped() -> None:
    assert hashtags("#" + "a" * 300 + "#b") == []


def test_offsets_count_utf16_code_units() -> None:
    text = "😀#报修 🚧 #充电"
    entities = find_entities(text)
    assert entities == [
        {"type": "hashtag", "offset": 2, "length": 3},
        {"type": "hashtag", "offset": 9, "length": 3},
    ]
    assert [entity_text(text, e) for e in entities] == ["#报修", "#充电"]
    assert utf16_len("😀") == 2
    assert utf16_len(text) == 12


def test_emoji_inside_text_before_a_command() -> None:
    text = "👍🏻 /start@linlitong_bot"
    (entity,) = find_entities(text)
    assert entity == {"type": "bot_command", "offset": 5, "length": 20}


# ------------------------------------------------------------------------------------ commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ["/start"]),
        ("/start@linlitong_bot 你好", ["/start@linlitong_bot"]),
        ("/take 12", ["/take"]),
        ("请 /take", ["/take"]),
        ("（/take）", ["/take"]),
        ("报修/take", []),
        ("a/start", []),
        ("//start", []),
        ("/start/x", []),
        ("/start@ab", []),
        ("/start@", []),
        ("/" + "a" * 64, ["/" + "a" * 64]),
        ("/" + "a" * 65, []),
        ("<b>/x</b>", []),
        ("/受理", []),
        ("/done_1 ok", ["/done_1"]),
    ],
)
def test_bot_command_rules(text: str, expected: list[str]) -> None:
    assert [part for kind, part in found(text) if kind == "bot_command"] == expected


# ------------------------------------------------------------------------------------ others


def test_mentions() -> None:
    assert found("@linlitong_bot 帮我看看") == [("mention", "@linlitong_bot")]
    assert found("联系 @gif") == [("mention", "@gif")]
    assert found("@abc") == []
    assert found("wang@linlitong_bot") == []
    assert found("@wang_ayi中") == []


def test_urls_and_emails() -> None:
    assert found("详情 https://example.com/a?b=1。") == [("url", "https://example.com/a?b=1。")]
    assert found("see https://example.com/x. ok") == [("url", "https://example.com/x")]
    assert found("访问 example.com 查看") == [("url", "example.com")]
    assert found("本地 http://127.0.0.1:8081/bot") == [("url", "http://127.0.0.1:8081/bot")]
    assert found("写信 wang.ayi@example.com.") == [("email", "wang.ayi@example.com")]
    assert found("版本 v1.2.3") == []
    assert found("not a domain: example.invalidtld") == []


def test_hashtag_inside_a_url_is_not_a_hashtag() -> None:
    assert found("https://example.com/#报修") == [("url", "https://example.com/#报修")]


def test_cashtags() -> None:
    assert found("$USD 涨了") == [("cashtag", "$USD")]
    assert found("1$USD") == []
    assert found("$usd") == []


def test_all_kinds_together_sorted_by_offset() -> None:
    text = "/take@linlitong_bot #报修 @wang_ayi example.com"
    assert [kind for kind, _ in found(text)] == ["bot_command", "hashtag", "mention", "url"]


# ------------------------------------------------------------------------------------ HTML


def test_parse_html_formatting_and_escapes() -> None:
    text, entities = parse_html(
        "<b>工单</b> &lt;#12&gt; <i>已</i><u>受</u><s>理</s> &amp; &quot;ok&quot; &#128512;&#x4e2d;"
    )
    assert text == '工单 <#12> 已受理 & "ok" 😀中'
    assert [(e["type"], entity_text(text, e)) for e in entities] == [
        ("bold", "工单"),
        ("italic", "已"),
        ("underline", "受"),
        ("strikethrough", "理"),
    ]


def test_parse_html_tag_synonyms_links_code_and_quotes() -> None:
    text, entities = parse_html(
        "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><strike>e</strike>"
        '<a href="https://example.com">链接</a><code>x</code>'
        '<pre><code class="language-python">y=1</code></pre>'
        '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>'
        "<blockquote>q</blockquote><blockquote expandable>r</blockquote>"
        '<a href="tg://user?id=42">王</a>'
    )
    assert text == "abcde链接xy=1stqr王"
    kinds = [(e["type"], entity_text(text, e)) for e in entities]
    assert kinds == [
        ("bold", "a"),
        ("italic", "b"),
        ("underline", "c"),
        ("strikethrough", "d"),
        ("strikethrough", "e"),
        ("text_link", "链接"),
        ("code", "x"),
        ("pre", "y=1"),
        ("spoiler", "s"),
        ("spoiler", "t"),
        ("blockquote", "q"),
        ("expandable_blockquote", "r"),
        ("text_mention", "王"),
    ]
    link = next(e for e in entities if e["type"] == "text_link")
    assert link["url"] == "https://example.com/"
    pre = next(e for e in entities if e["type"] == "pre")
    assert pre["language"] == "python"
    mention = next(e for e in entities if e["type"] == "text_mention")
    assert mention["user"] == {"id": 42}


def test_parse_html_nested_and_emoji_offsets() -> None:
    text, entities = parse_html("😀<b>粗<i>斜</i></b>")
    assert text == "😀粗斜"
    assert entities == [
        {"type": "bold", "offset": 2, "length": 2},
        {"type": "italic", "offset": 3, "length": 1},
    ]


def test_parse_html_keeps_unknown_ampersands_and_lone_brackets() -> None:
    assert parse_html("a & b &foo; c > d") == ("a & b &foo; c > d", [])


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<p>段落</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("你好<div>", 'Unsupported start tag "div" at byte offset 6'),
        ("<b>粗", "Can't find end tag corresponding to start tag b"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("</b>", "Unexpected end tag at byte offset 0"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=x", "Unexpected end of name token at byte offset 8"),
        ('<a href="x">y</b', "Unclosed end tag at byte offset 13"),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
    ],
)
def test_parse_html_errors(html: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(html)
    assert str(caught.value) == reason


def test_merge_entities_skips_detected_entities_inside_code() -> None:
    text, entities = parse_html("<code>#报修</code> #充电")
    merged = merge_entities(text, entities)
    assert [(e["type"], entity_text(text, e)) for e in merged] == [
        ("code", "#报修"),
        ("hashtag", "#充电"),
    ]


def test_strip_text_shifts_and_clips_entities() -> None:
    text, entities = parse_html("\n  <b>工单</b> 已受理  \n")
    stripped, shifted = strip_text(text, entities)
    assert stripped == "工单 已受理"
    assert shifted == [{"type": "bold", "offset": 0, "length": 2}]
