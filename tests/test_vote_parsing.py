"""bot.parsing.vote: the /vote line (flags as phones write them, dates, lengths, rules), room
labels in the forms people write them, subcommand and choice words (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.parsing.vote import (
    DEFAULT_OPTIONS,
    WITHDRAW,
    Label,
    Rule,
    VoteLineError,
    choice_of,
    parse_deadline,
    parse_label,
    parse_labels,
    parse_rule,
    parse_scope,
    parse_share,
    parse_vote_line,
    read_vote_command,
    room_subcommand,
    vote_number,
    vote_subcommand,
)
from bot.texts import Texts, keys

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)  # a Thursday


def local(month: int, day: int, hour: int = 23, minute: int = 59, second: int = 59) -> datetime:
    year = 2026 if month >= 11 else 2027
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


# -- the /vote line -------------------------------------------------------------------------


def test_the_issue_s_example() -> None:
    line = parse_vote_line(
        "/vote 3号楼2单元凉房改造 同意|不同意|弃权 --where 3号楼2单元 --until 12月10日"
        " --pass 2/3 --quorum 1/2",
        NOW,
        TZ,
    )
    assert line.question == "3号楼2单元凉房改造"
    assert line.options == ("同意", "不同意", "弃权")
    assert line.scope == "3-2"
    assert line.deadline == local(12, 10)
    assert line.rule == Rule(2, 3, False)
    assert line.quorum == (1, 2)


def test_defaults() -> None:
    line = parse_vote_line("凉房改造要不要做", NOW, TZ)
    assert line.options == DEFAULT_OPTIONS and line.scope == ""
    assert line.deadline == NOW + timedelta(days=7)
    assert line.rule == Rule(1, 2, True) and line.quorum is None
    assert parse_vote_line("/vote@LinliBot 议题", NOW, TZ).question == "议题"


@pytest.mark.parametrize(
    "dash",
    ["--", "—", "——", "–", "－－", "—-"],
    ids=["ascii", "em", "double-em", "en", "full-width", "mixed"],
)
def test_flags_as_phones_write_them(dash: str) -> None:
    line = parse_vote_line(f"凉房改造 {dash}where 3-2 {dash}until 3d {dash}pass 过半", NOW, TZ)
    assert (line.scope, line.deadline, line.rule) == (
        "3-2",
        NOW + timedelta(days=3),
        Rule(1, 2, True),
    )


def test_flags_with_equals_chinese_names_and_full_width() -> None:
    line = parse_vote_line(
        "加装电梯　赞成｜反对　—截止=１２月１０日　——通过 三分之二　--范围 ３号楼", NOW, TZ
    )
    assert line.question == "加装电梯"
    assert line.options == ("赞成", "反对")
    assert line.deadline == local(12, 10) and line.scope == "3"
    assert line.rule == Rule(2, 3, False)
    assert line.flags == {"until": "１２月１０日", "pass": "三分之二", "where": "３号楼"}


def test_options_with_spaces_around_the_bar() -> None:
    for written in ("同意 | 不同意", "同意 ｜不同意", "同意|  不同意"):
        line = parse_vote_line(f"凉房改造 {written} --until 3d", NOW, TZ)
        assert (line.question, line.options) == ("凉房改造", ("同意", "不同意"))
    line = parse_vote_line("凉房改造 A | B | C | D | E | F | G | H | I | J", NOW, TZ)
    assert len(line.options) == 10
    # Telegram's limits are in UTF-16 units: 150 emoji (300 units) fit, as do 50 (100)
    assert parse_vote_line("🏠" * 150, NOW, TZ).question == "🏠" * 150
    assert parse_vote_line("议题 同意|" + "🏠" * 50, NOW, TZ).options[1] == "🏠" * 50


def test_the_question_is_kept_as_written() -> None:
    line = parse_vote_line("是否同意，在３号楼前装充电桩？ 同意|不同意", NOW, TZ)
    assert line.question == "是否同意，在３号楼前装充电桩？"


@pytest.mark.parametrize(
    ("words", "deadline"),
    [
        ("12月10日", local(12, 10)),
        ("12月10号", local(12, 10)),
        ("12月10日18:00", local(12, 10, 18, 0, 0)),
        ("12月10日 18:00", local(12, 10, 18, 0, 0)),
        ("12月10日18点", local(12, 10, 18, 0, 0)),
        ("12-10", local(12, 10)),
        ("12/10", local(12, 10)),
        ("12-10 18:30", local(12, 10, 18, 30, 0)),
        ("2026-12-10", local(12, 10)),
        ("2026年12月10日", local(12, 10)),
        ("1月5日", local(1, 5)),  # gone by this year: next year's
        ("11月26日", local(11, 26)),  # today: until its end
        ("3d", NOW + timedelta(days=3)),
        ("3天", NOW + timedelta(days=3)),
        ("48h", NOW + timedelta(hours=48)),
        ("48小时", NOW + timedelta(hours=48)),
        ("2周", NOW + timedelta(days=14)),
        ("周五", local(11, 27)),
        ("星期四", local(11, 26)),  # today (a Thursday): until its end
        ("周一", local(11, 30)),
        # a date, a space, a time: the space stays (3-1 18:00 is March 1st, not 3-11 8:00)
        ("2-1 18:00", local(2, 1, 18, 0, 0)),
        ("1-5 18:00", local(1, 5, 18, 0, 0)),
        ("12月1日 18:00", local(12, 1, 18, 0, 0)),
        ("12月1日18:00", local(12, 1, 18, 0, 0)),
        ("12月1 18:00", local(12, 1, 18, 0, 0)),
        ("12-01 18:00", local(12, 1, 18, 0, 0)),
        ("2026-12-01 18:00", local(12, 1, 18, 0, 0)),
        ("2026-12-01T18:00", local(12, 1, 18, 0, 0)),
        ("12-01 18：00", local(12, 1, 18, 0, 0)),
        ("12月1日18点半", local(12, 1, 18, 30, 0)),
        ("12月1日 18点30分", local(12, 1, 18, 30, 0)),
        ("18:00", local(11, 26, 18, 0, 0)),  # a time alone: today
        ("周五 18:00", local(11, 27, 18, 0, 0)),
        ("周五18点", local(11, 27, 18, 0, 0)),
    ],
)
def test_deadlines(words: str, deadline: datetime) -> None:
    assert parse_deadline(words, NOW, TZ) == deadline
    assert parse_vote_line(f"议题 --until {words}", NOW, TZ).deadline == deadline


def test_a_date_and_its_time_stay_apart() -> None:
    """The reviewer's case: "3-1 18:00" was read with its space removed, as 3-11 08:00."""
    assert parse_deadline("3-1 18:00", NOW, TZ) == local(3, 1, 18, 0, 0)
    line = parse_vote_line("议题 --until 12-1 18:00 --pass 2/3", NOW, TZ)
    assert line.deadline == local(12, 1, 18, 0, 0) and line.flags["until"] == "12-1 18:00"


@pytest.mark.parametrize(
    "words",
    ["明年", "13月1日", "2月30日", "12-10 25:00", "abc", "3x", "3-118:00", "12月118:00", "25:00"],
)
def test_no_deadline(words: str) -> None:
    assert parse_deadline(words, NOW, TZ) is None


@pytest.mark.parametrize(
    ("words", "rule"),
    [
        ("过半", Rule(1, 2, True)),
        ("半数以上", Rule(1, 2, True)),
        ("超过半数", Rule(1, 2, True)),
        (">1/2", Rule(1, 2, True)),
        ("1/2", Rule(1, 2, False)),
        ("2/3", Rule(2, 3, False)),
        ("2/3以上", Rule(2, 3, False)),
        ("超过2/3", Rule(2, 3, True)),
        ("三分之二", Rule(2, 3, False)),
        ("四分之三", Rule(3, 4, False)),
        ("67%", Rule(67, 100, False)),
        ("２／３", Rule(2, 3, False)),
    ],
)
def test_rules(words: str, rule: Rule) -> None:
    assert parse_rule(words) == rule


@pytest.mark.parametrize("words", ["3/2", "0/3", "2/0", "大多数人", "", "150%"])
def test_no_rule(words: str) -> None:
    assert parse_rule(words) is None


def test_shares() -> None:
    assert parse_share("1/2") == (1, 2) and parse_share("三分之一") == (1, 3)
    assert parse_share("过半") is None


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("", "vote.error_question"),
        ("/vote", "vote.error_question"),
        ("同意|不同意", "vote.error_question"),
        ("x" * 301, "vote.error_question_long"),
        ("议题 同意", "ok"),  # one word: part of the question
        ("议题 同意|", "vote.error_options"),
        ("议题 A|B|C|D|E|F|G|H|I|J|K", "vote.error_options"),
        ("议题 同意|" + "长" * 101, "vote.error_option_long"),
        ("议题 同意|同意", "vote.error_options_alike"),
        ("议题 --where 小区门口", "vote.error_where"),
        ("议题 --until 明天吧", "vote.error_until"),
        ("议题 --until 2026-11-01", "vote.error_until_past"),
        ("议题 --until 2026-11-26 09:00", "vote.error_until_past"),
        ("议题 --until 91d", "vote.error_until_far"),
        ("议题 --until 11月1日", "vote.error_until_past"),  # next year's is too far: past
        ("议题 --until 2027-11-01", "vote.error_until_far"),
        ("议题 --until 11月26日 09:00", "vote.error_until_past"),  # today, an hour ago
        ("议题 --until 9:30", "vote.error_until_past"),
        ("议题 --until 10:05", "votes.error_until_soon"),
        ("议题 --until 5m", "votes.error_until_soon"),
        ("议题 " + "🏠" * 151, "vote.error_question_long"),  # 302 UTF-16 units
        ("议题 同意|" + "🏠" * 51, "vote.error_option_long"),
        ("议题 --pass 大多数", "vote.error_pass"),
        ("议题 --quorum 过半", "vote.error_quorum"),
        ("议题 --colour red", "vote.error_flag"),
        ("议题 --until", "vote.error_flag_value"),
        ("议题 --until --pass 2/3", "vote.error_flag_value"),
    ],
)
def test_bad_lines_name_what_is_wrong(line: str, key: str) -> None:
    if key == "ok":
        assert parse_vote_line(line, NOW, TZ).question == "议题 同意"
        return
    with pytest.raises(VoteLineError) as caught:
        parse_vote_line(line, NOW, TZ)
    assert caught.value.key == key
    assert key in keys()
    for language in ("zh", "en"):  # the text fills with the values the error carries
        assert Texts(language)(key, **caught.value.values)


# -- room labels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "label"),
    [
        ("3-2-501", "3-2-501"),
        ("3号楼2单元501", "3-2-501"),
        ("3号楼2单元501室", "3-2-501"),
        ("3栋2单元501室", "3-2-501"),
        ("3幢2单元501", "3-2-501"),
        ("3座2单元501", "3-2-501"),
        ("3号2单元501", "3-2-501"),
        ("3号楼2-501", "3-2-501"),
        ("3-2-501室", "3-2-501"),
        ("3 - 2 - 501", "3-2-501"),
        ("3—2—501", "3-2-501"),
        ("３－２－５０１", "3-2-501"),
        ("３号楼２单元５０１", "3-2-501"),
        ("三号楼二单元五零一", "3-2-501"),
        ("三号楼2单元501室", "3-2-501"),
        ("十二号楼三单元一零二", "12-3-102"),
        ("03-2-0501", "3-2-501"),
        ("3-501", "3-501"),
        ("3号楼501", "3-501"),
        ("3栋501室", "3-501"),
        ("A座1203", "A-1203"),
        ("B2-3-501", "B2-3-501"),
        ("12-3-1201", "12-3-1201"),
    ],
)
def test_labels(written: str, label: str) -> None:
    found = parse_label(written)
    assert found is not None and found.text == label


@pytest.mark.parametrize("written", ["", "3号楼", "3号楼2单元", "hello", "hello-world", "501"])
def test_no_label(written: str) -> None:
    assert parse_label(written) is None


def test_label_parts_and_scope_membership() -> None:
    label = Label("3", "2", "501")
    assert str(label) == "3-2-501" and Label("3", None, "501").text == "3-501"
    assert label.within("") and label.within("3") and label.within("3-2")
    assert label.within("3-2-501") and not label.within("3-20") and not label.within("3-1")


def test_several_labels() -> None:
    assert [x.text for x in parse_labels(["3-2-502", "3号楼2单元503", "3-2-502"])] == [
        "3-2-502",
        "3-2-503",
    ]
    with pytest.raises(VoteLineError) as caught:
        parse_labels(["3-2-502", "门口"])
    assert caught.value.key == "vote.error_label" and caught.value.values == {"word": "门口"}


@pytest.mark.parametrize(
    ("written", "scope"),
    [
        ("3号楼2单元", "3-2"),
        ("3栋2单元", "3-2"),
        ("3-2", "3-2"),
        ("３－２", "3-2"),
        ("3号楼", "3"),
        ("3栋", "3"),
        ("三号楼", "3"),
        ("3", "3"),
        ("3-2-501", "3-2-501"),
        ("小区门口", None),
        ("xx", None),
    ],
)
def test_scopes(written: str, scope: str | None) -> None:
    assert parse_scope(written) == scope


# -- subcommands and choices ----------------------------------------------------------------


def test_subcommands_numbers_and_choices() -> None:
    assert [vote_subcommand(w) for w in ("list", "列表", "查看", "结束", "代投", "PROXY", "x")] == [
        "list",
        "list",
        "show",
        "close",
        "proxy",
        "proxy",
        None,
    ]
    assert [room_subcommand(w) for w in ("add", "添加", "列表", "del", "删除", "3-2-501")] == [
        "add",
        "add",
        "list",
        "del",
        "del",
        None,
    ]
    assert [vote_number(w) for w in ("7", "#7", "议事7", "７", "x")] == [7, 7, 7, 7, None]
    assert choice_of("同意", DEFAULT_OPTIONS) == 0
    assert choice_of("不同意", DEFAULT_OPTIONS) == 1
    assert choice_of("3", DEFAULT_OPTIONS) == 2
    assert choice_of("４", DEFAULT_OPTIONS) is None
    assert choice_of("撤回", DEFAULT_OPTIONS) == WITHDRAW
    assert choice_of("也许", DEFAULT_OPTIONS) is None


@pytest.mark.parametrize(
    ("line", "sub"),
    [
        ("列表", "list"),
        ("list", "list"),
        ("查看 3", "show"),
        ("show", "show"),  # alone: its usage
        ("关闭 #3", "close"),
        ("结束", "close"),
        ("代投 3 3-2-502 同意 电话", "proxy"),
        ("proxy 3", "proxy"),
        # the word opens a question: the rest is no subcommand's shape
        ("关闭 东门", None),
        ("结束 3 号楼的争议", None),
        ("列表 要不要更新", None),
        ("查看 监控 同意|不同意", None),
        ("代投 是否允许", None),
        ("凉房改造", None),
        ("", None),
        # an English subcommand word is the subcommand: the rest that does not fit gets its usage
        ("show x", "show"),
        ("close 最后", "close"),
        ("list all", "list"),
        ("proxy 东门", "proxy"),
    ],
)
def test_subcommand_words_do_not_shadow_questions(line: str, sub: str | None) -> None:
    assert read_vote_command(line.split()) == sub


def test_a_length_in_minutes_at_least_ten() -> None:
    for words in ("30m", "30min", "30分钟", "30分"):
        line = parse_vote_line(f"/vote 凉房 --until {words}", NOW, TZ)
        assert line.deadline == NOW + timedelta(minutes=30), words
    with pytest.raises(VoteLineError) as refused:
        parse_vote_line("/vote 凉房 --until 9m", NOW, TZ)
    assert refused.value.key == "votes.error_until_soon"
