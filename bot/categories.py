"""Ticket categories (the defaults from DESIGN.md), the 关爱走访 tiers and the ready answers'
templates (``[answers]``), optionally overridden by CATEGORIES_FILE."""

from __future__ import annotations

import hashlib
import re
import string
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
    keywords: tuple[str, ...] = ()
    """Words that make an untagged message likely to be of this category (bot.classify), besides
    the tag and aliases; never a tag. Defaults below; CATEGORIES_FILE may set ``keywords``."""

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
        tuple(DEFAULT_KEYWORDS.get(key, "").split()),
    )


# What residents name when they write about each default category without its tag: the things
# (电梯, 井盖), the trouble (漏水, 乱停) and the people (独居老人). bot.classify ranks the
# categories of an untagged problem by these, the tag and the aliases; a longer word counts more.
DEFAULT_KEYWORDS: dict[str, str] = {
    "repair": (
        "电梯 电悌 灯 声控灯 楼道灯 楼梯灯 感应灯 门禁 单元门 防盗门 对讲 门锁 闭门器 扶手 "
        "窗户 玻璃 合页 把手 水龙头 空调 道闸 伸缩门 信报箱 健身器材 晾衣架 停电 没电 跳闸 "
        "电闸 电表 插座 开关 坏了 坏掉 损坏 故障 失灵 不亮 卡住 困人 人脸识别 刷卡 门铃 "
        "暖气 修一下 来修 没反应 关不上 打不开 锁不上 关不严"
    ),
    "charging": (
        "充电 电动车 电瓶车 电瓶 电池 飞线 拉线 插线板 插排 充电桩 充电口 充电棚 推进电梯 "
        "推上楼 推进楼道 代步车 三轮车 私接 私拉"
    ),
    "water": (
        "漏水 渗水 滴水 积水 进水 淹了 下水道 下水 地漏 返水 冒水 溢水 水管 水箱 水泵 水压 "
        "停水 没水 来水 自来水 雨水 排水 窨井 暖气片 防水 泡了 漏雨 水印 爆管 管子 堵了"
    ),
    "road": (
        "路面 马路 路灯 井盖 坑 塌陷 地砖 台阶 人行道 盲道 减速带 路沿 坡道 结冰 甬道 "
        "水泥地 裂缝 下沉 小路 主路 路口 坑洼 挖开"
    ),
    "sanitation": (
        "垃圾 卫生 臭 异味 怪味 脏 苍蝇 蚊子 老鼠 蟑螂 狗屎 粪 化粪池 清理 打扫 保洁 消杀 "
        "杂草 公厕 厕所 油污 霉味 废品 纸壳 装修垃圾 建筑垃圾 发臭 烧垃圾 排水沟 污水 "
        "乱扔 乱倒 堆放"
    ),
    "noise": (
        "吵 噪音 噪声 扰民 睡不着 吵醒 装修 电钻 砸墙 打桩 施工 广场舞 音响 喇叭 狗叫 "
        "半夜 凌晨 深夜 嗡嗡 咚咚 鞭炮 麻将 唱歌 K歌 吆喝 大声 声音"
    ),
    "safety": (
        "危险 煤气 燃气 天然气 液化气 着火 起火 冒烟 冒火 火星 火花 焦味 焦糊 电线 漏电 "
        "灭火器 消防栓 消防通道 安全出口 防火门 高空抛物 掉下来 砸到 护栏 外墙 瓷砖 广告牌 "
        "配电 老化 围墙 挡土墙 要塌 要倒 吓人 出人命 往下扔"
    ),
    "help": (
        "帮帮 救命 急 摔倒 晕倒 走失 走丢 独居 孕妇 残疾 轮椅 瘫痪 病了 发烧 救护车 120 "
        "被困 困在 出不来 锁门外 没人照顾 志愿者 送医院 联系不上 老人 孩子 找不到"
    ),
    "consult": (
        "请问 想问 问一下 问下 怎么办理 怎么申请 怎么办 办理 申请 补贴 低保 医保 社保 养老 "
        "居住证 证明 户口 落户 残疾证 老年卡 盖章 材料 条件 标准 疫苗 体检 登记 截止 "
        "去哪 在哪办 能办 怎么领 激活 补交 补缴"
    ),
    "complaint": (
        "态度 乱收费 收费 物业费 不作为 打不通 找不到人 没下文 没回音 没人影 推诿 违建 "
        "侵犯 收据 保安 物业 反映 到底管不管 没人管 不管 走过场 多收"
    ),
    "suggestion": (
        "希望 意见 能不能装 能不能加 增设 加装 最好 要是能 可以考虑 应该 改成 多设 多装 "
        "多种 搞个 装个 加个 放个 划一个"
    ),
    "parking": (
        "车位 乱停 挪车 挡住 堵住 地锁 僵尸车 停在 停满 轿车 货车 SUV 面包车 共享单车 "
        "车牌 停车位 堵在 车库出口 人行道上 房车"
    ),
}


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


# -- ready answers (bot.answers): the words of a template, and the shipped ones ---------------

ANSWER_ACTIONS: tuple[str, ...] = ("open", "progress", "done", "reject")
ANSWER_ACTION_WORDS: dict[str, str] = {  # what people write for an action (file, /template)
    "受理": "open",
    "接单": "open",
    "进展": "progress",
    "办结": "done",
    "退回": "reject",
    **{action: action for action in ANSWER_ACTIONS},
}
ANSWER_VARIABLES: tuple[str, ...] = ("工单号", "类别", "位置", "网格员", "办结时限")
EVERY_CATEGORY = "*"  # a template for every category, as the file and /template write it
ANSWER_TEXT_MAX = 1000  # characters (a message of 4,096 with the automatic answer's wrapper)
ANSWER_KEYWORD_MAX = 20


class AnswerError(ValueError):
    """A template's text that cannot be saved or loaded: why, in one line."""


def answer_action(word: str) -> str | None:
    """The action a word means (受理 / open, 进展 / progress, 办结 / done, 退回 / reject)."""
    return ANSWER_ACTION_WORDS.get(word.strip().casefold())


def unbalanced_brace(text: str) -> str | None:
    """The first brace of a template's text without its partner (``{`` or ``}``), or None.
    ``{{`` and ``}}`` are literal braces."""
    try:
        list(string.Formatter().parse(text))
    except ValueError:
        pass
    else:
        return None
    opened = False
    at = 0
    while at < len(text):
        ch = text[at]
        if ch in "{}" and not opened and text.startswith(ch * 2, at):
            at += 2  # a literal brace
            continue
        if ch == "{":
            if opened:
                return "{"
            opened = True
        elif ch == "}":
            if not opened:
                return "}"
            opened = False
        at += 1
    return "{"  # one left open at the end (or what Formatter refused otherwise)


def unknown_variables(text: str) -> list[str]:
    """The unknown variables of a template's text, in order, each once ([] when the text is
    good): a name not in :data:`ANSWER_VARIABLES`, or one with a format spec or conversion.
    ``{{`` and ``}}`` are literal braces; a brace without its partner counts as ``{`` / ``}``
    (:func:`unbalanced_brace` says which)."""
    lone = unbalanced_brace(text)
    if lone is not None:
        return [lone]
    parsed = list(string.Formatter().parse(text))
    unknown: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        whole = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        if (name not in ANSWER_VARIABLES or spec or conversion) and whole not in unknown:
            unknown.append(whole)
    return unknown


def checked_answer(text: str) -> str:
    """A template's text as it is kept (stripped), or AnswerError saying what is wrong."""
    text = text.strip()
    if not text:
        raise AnswerError("text is empty")
    if len(text) > ANSWER_TEXT_MAX:
        raise AnswerError(f"text is longer than {ANSWER_TEXT_MAX} characters")
    lone = unbalanced_brace(text)
    if lone is not None:
        raise AnswerError(
            f"unbalanced brace {lone!r}: a variable is written {{工单号}};"
            " write {{ or }} for a brace itself"
        )
    unknown = unknown_variables(text)
    if unknown:
        raise AnswerError(
            f"unknown variable(s) {', '.join('{' + u + '}' for u in unknown)};"
            f" allowed: {' '.join('{' + v + '}' for v in ANSWER_VARIABLES)}"
        )
    return text


# The shipped templates: generic, polite and true anywhere (no office hours, phone numbers or
# addresses a deployment would have to correct). "*": for every category. Per category key:
# (action, text) pairs; bot.answers.defaults numbers them per action for their file_key, so
# append new ones at the end of their action to keep the use counts of the others.
# Written for the post they go into (handlers.answers): that post already gives the ticket's
# number, the officer's name (进展, 受理) or 网格员 (退回), and a full stop after the words of
# 办结 and 退回 — so no {工单号}, no signature, no closing 。 there. A reply to the bot's post
# reaches nobody: a resident still unhappy says so in the 回访 (不满意 reopens the ticket) or
# reports again.
DEFAULT_ANSWERS: dict[str, tuple[tuple[str, str], ...]] = {
    "*": (
        ("open", "您好，已收到您反映的{类别}问题，我们会尽快跟进。"),
        ("progress", "您好，您反映的{类别}问题正在处理中，有进展会在这里告诉您。"),
        ("progress", "您好，您反映的问题已转交相关部门处理，我们会继续跟进，请耐心等待。"),
        (
            "done",
            "{位置}的{类别}问题已处理。如果还有问题，评价时请选「不满意」，我们会重新处理",
        ),
        ("reject", "信息还不够处理，请补充具体位置和情况后重新反映，谢谢"),
    ),
    "repair": (
        ("progress", "您好，{位置}的报修已登记，会尽快安排人员查看。"),
        ("done", "{位置}的报修已修好。如果还有问题，评价时请选「不满意」，我们会重新安排"),
        ("reject", "所报的设施属于您家中自用部分，不在公共维修范围内"),
    ),
    "charging": (
        (
            "progress",
            "您好，{位置}的充电问题已安排人员劝导处理。电动车请勿在楼道、室内充电。",
        ),
        ("done", "{位置}的充电问题已处理。为了大家安全，电动车请到规定地点充电"),
        ("reject", "到场查看时未发现违规充电；如再看到，请拍照重新反映"),
    ),
    "water": (
        ("progress", "您好，{位置}的用水问题已联系相关单位查看，请留意后续消息。"),
        ("done", "{位置}的用水问题已处理。如果还有渗漏或积水，评价时请选「不满意」"),
        ("reject", "渗漏发生在住户之间，需要相关住户协商处理，我们可以帮忙联系协调"),
    ),
    "road": (
        ("progress", "您好，{位置}的道路问题已报相关部门，修复前请注意通行安全。"),
        ("done", "{位置}的道路问题已处理，谢谢您的反映"),
        ("reject", "所在路段不归本网格管理，请向道路的管理部门反映"),
    ),
    "sanitation": (
        ("progress", "您好，{位置}的环境卫生问题已通知保洁处理。"),
        ("done", "{位置}已清理干净，谢谢您的反映，也请大家一起维护"),
        ("reject", "到场查看时已经清理；如再出现，请拍照重新反映"),
    ),
    "noise": (
        ("progress", "您好，{位置}的噪音问题已记录，我们会去了解情况并协调。"),
        ("done", "{位置}的噪音问题已协调处理。如再有扰民，请重新反映"),
        ("reject", "反映的施工在允许的时间内进行；超出时间仍有噪音，请重新反映"),
    ),
    "safety": (
        (
            "progress",
            "您好，{位置}的安全隐患已安排人员查看，请先远离危险区域；遇到紧急险情请立即报警。",
        ),
        ("done", "{位置}的安全隐患已排除，谢谢您及时反映"),
        ("reject", "到场查看未发现隐患；如有新的情况，请拍照重新反映"),
    ),
    "help": (
        (
            "progress",
            "您好，您的求助已收到，正在联系处理；情况紧急请立即拨打急救电话或报警。",
        ),
        ("done", "您的求助已处理。如还需要帮助，请重新反映"),
        ("reject", "这项求助需要由专门机构办理"),
    ),
    "consult": (
        ("progress", "您好，您的咨询我们正在核实，确认后会在这里答复您。"),
        ("done", "您的咨询已答复。如还有疑问，请重新发一条咨询"),
        ("reject", "咨询的事项由其他部门负责"),
    ),
    "complaint": (
        ("progress", "您好，您的投诉已受理，我们正在调查核实，会尽快答复您。"),
        ("done", "您的投诉已处理。如对结果不满意，评价时请选「不满意」，我们会重新处理"),
        ("reject", "投诉经核实与情况不符"),
    ),
    "suggestion": (
        ("progress", "您好，谢谢您的建议，我们已记录并转给相关负责人研究。"),
        ("done", "您的建议已反馈给相关负责人，谢谢您对社区的关心"),
        ("reject", "谢谢您的建议，经研究暂时无法采纳"),
    ),
    "parking": (
        ("progress", "您好，{位置}的停车问题已记录，我们正在联系车主或物业处理。"),
        ("done", "{位置}的停车问题已处理，谢谢您的反映"),
        ("reject", "到场查看时车辆已经移走；如再出现，请拍照重新反映"),
    ),
}

# 咨询 on opening: answered at once (bot.answers wraps it as an automatic answer), saying where
# the answer is without specifics that differ from place to place; the officer still follows.
# Keywords are whole phrases of the question (a keyword found anywhere in the report picks its
# answer): 缴费, 报销, 几点开门 or 准备什么 alone would answer 物业费, 快递柜 or 上学 questions
# wrongly, in public — tests/test_answers.py holds what must and must not be answered.
DEFAULT_CONSULT_ANSWERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "关于开具证明：不同证明的材料和办理地点不同，网格员会确认后在这里告诉您；"
        "办理时一般需要带上本人身份证件。",
        (
            "开证明",
            "开个证明",
            "开一个证明",
            "开具证明",
            "证明怎么开",
            "证明去哪开",
            "证明在哪开",
            "居住证明",
            "无犯罪证明",
        ),
    ),
    (
        "关于办事材料：不同事项要求不同，请以政务服务平台或办事窗口公布的清单为准；"
        "网格员会确认后在这里告诉您需要准备什么。",
        (
            "需要什么材料",
            "需要哪些材料",
            "要带什么材料",
            "带哪些材料",
            "准备什么材料",
            "准备哪些材料",
            "办理材料",
            "材料清单",
        ),
    ),
    (
        "关于办公时间：请以社区或办事窗口公布的时间为准，节假日可能调整；"
        "网格员会确认后在这里回复您。",
        (
            "办公时间",
            "居委会几点",
            "社区几点上班",
            "社区几点下班",
            "社区几点开门",
            "社区周末上班",
            "周末办公",
            "你们几点上班",
            "你们几点下班",
            "你们周末上班",
            "窗口几点",
            "服务中心几点",
        ),
    ),
    (
        "关于医保社保：参保、缴费、报销等可在当地医保、社保部门的官方平台或窗口查询办理，"
        "具体要求网格员会确认后告诉您。",
        ("医保", "社保", "养老保险", "医疗保险", "新农合", "居民保险"),
    ),
    (
        "关于居住证：办理条件和材料以当地公安部门公布的要求为准，"
        "网格员会确认后在这里告诉您具体怎么办。",
        ("居住证", "暂住证", "居住登记"),
    ),
)


@dataclass(frozen=True)
class CareTier:
    """A 关爱走访 tier: a visit at least ``every`` period, on time until ``grace`` after it fell
    due; ``aliases`` are other words for the tier in commands (高危 for 高风险)."""

    name: str
    every: timedelta
    grace: timedelta
    aliases: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


# Chinese practice: at least weekly for 高风险 (80+ living alone, serious illness), monthly for
# 重点, quarterly for 一般; the grace window is how late a visit may be and still count on time.
DEFAULT_TIERS: tuple[CareTier, ...] = (
    CareTier("高风险", parse_duration("7d"), parse_duration("2d"), ("高危", "高风险户")),
    CareTier("重点", parse_duration("30d"), parse_duration("5d"), ("重点户", "重点关注")),
    CareTier("一般", parse_duration("90d"), parse_duration("10d"), ("一般户", "普通")),
)


class CategoryError(ValueError):
    """The categories file is unreadable or describes an impossible catalogue."""


@dataclass(frozen=True)
class AnswerEntry:
    """One ``[[answers.templates]]`` table of the categories file (checked when loaded)."""

    category: str  # a category key, or "" for every category ("*" in the file)
    action: str  # open | progress | done | reject
    text: str
    keywords: tuple[str, ...] = ()
    name: str | None = None  # the file's optional ``key``: the template's identity, kept

    @property
    def key(self) -> str:
        """Who this template is from one start to the next (its id and use counts follow it):
        the file's ``key`` when given (the text may then change), else its category, action
        and text — so reordering the file or removing another one changes no template."""
        if self.name is not None:
            return f"key:{self.name}"
        content = "\x1f".join((self.category, self.action, self.text)).encode("utf-8")
        return f"text:{hashlib.sha256(content).hexdigest()[:16]}"


@dataclass(frozen=True)
class CategoryCatalog:
    """The categories in force, and the lookup from a tag word to its category."""

    categories: tuple[Category, ...]
    tiers: tuple[CareTier, ...] = DEFAULT_TIERS
    answers: tuple[AnswerEntry, ...] = ()  # the file's ready answers (bot.answers)
    answers_replace_defaults: bool = False  # true: the shipped ready answers are dropped
    _by_word: Mapping[str, Category] = field(init=False, repr=False, compare=False)
    _by_key: Mapping[str, Category] = field(init=False, repr=False, compare=False)
    _tier_by_word: Mapping[str, CareTier] = field(init=False, repr=False, compare=False)

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
        tier_words: dict[str, CareTier] = {}
        for tier in self.tiers:
            for word in tier.words:
                taken = tier_words.get(word.casefold())
                if taken is not None and taken.name != tier.name:
                    raise CategoryError(
                        f"care tier word {word!r} is used by both {taken.name} and {tier.name}"
                    )
                tier_words[word.casefold()] = tier
        if not self.tiers:
            raise CategoryError("no care tiers left")
        object.__setattr__(self, "_tier_by_word", tier_words)

    def tier(self, word: str) -> CareTier | None:
        """The 关爱走访 tier named ``word`` (its name or an alias), or None."""
        return self._tier_by_word.get(word.strip().casefold())

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
            merged[key] = _category_from_spec(key, spec, source, _DEFAULT_BY_KEY.get(key))
        if not merged:
            raise CategoryError(f"{source}: no categories left")
        unknown = set(data) - {"replace_defaults", "categories", "care", "answers"}
        if unknown:
            raise CategoryError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}")
        replace_answers, entries = _answers_from(data.get("answers", {}), merged, source)
        return cls(
            tuple(merged.values()),
            _tiers_from(data.get("care", {}), source),
            entries,
            replace_answers,
        )


_FIELDS = frozenset({"tag", "aliases", "response", "resolution", "urgent", "keywords"})


def _category_from_spec(
    key: str, spec: Any, source: str, default: Category | None = None
) -> Category:
    """One ``[categories.<key>]`` table. Without ``keywords``, a table replacing a default
    category keeps that category's keywords (changing a deadline should not make it deaf)."""
    where = f"{source}: [categories.{key}]"
    if not isinstance(spec, Mapping):
        raise CategoryError(f"{where} must be a table")
    unknown = set(spec) - _FIELDS
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
    keywords = spec.get("keywords")
    if keywords is None:
        kept = default.keywords if default is not None else ()
        return Category(key, tag, tuple(aliases), response, resolution, urgent, kept)
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) and k.strip() and len(k) <= _KEYWORD_MAX for k in keywords
    ):
        raise CategoryError(
            f"{where}: keywords must be a list of words (at most {_KEYWORD_MAX} characters)"
        )
    words = tuple(dict.fromkeys(k.strip() for k in keywords))
    return Category(key, tag, tuple(aliases), response, resolution, urgent, words)


_KEYWORD_MAX = 20

_TIER_FIELDS = frozenset({"every", "grace", "aliases"})


def _tiers_from(care: Any, source: str) -> tuple[CareTier, ...]:
    """``[care]``: ``replace_defaults`` (drop the three default tiers) and ``[care.tiers.<name>]``
    tables (every, grace, aliases); a name present replaces that default tier (keeping its
    aliases unless the table gives some), a new one adds."""
    if not isinstance(care, Mapping):
        raise CategoryError(f"{source}: [care] must be a table")
    unknown = set(care) - {"replace_defaults", "tiers"}
    if unknown:
        raise CategoryError(f"{source}: [care]: unknown field(s) {', '.join(sorted(unknown))}")
    replace = care.get("replace_defaults", False)
    if not isinstance(replace, bool):
        raise CategoryError(f"{source}: [care] replace_defaults must be true or false")
    table = care.get("tiers", {})
    if not isinstance(table, Mapping):
        raise CategoryError(f"{source}: [care.tiers] must be a table")
    merged: dict[str, CareTier] = {} if replace else {t.name: t for t in DEFAULT_TIERS}
    for name, spec in table.items():
        where = f"{source}: [care.tiers.{name}]"
        if not _is_tag_word(name):
            raise CategoryError(f"{where}: a tier's name must be one word of letters or digits")
        if not isinstance(spec, Mapping):
            raise CategoryError(f"{where} must be a table")
        extra = set(spec) - _TIER_FIELDS
        if extra:
            raise CategoryError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        try:
            every = parse_duration(spec["every"])
            grace = parse_duration(spec.get("grace", "0s"))
        except KeyError as exc:
            raise CategoryError(f"{where}: {exc.args[0]} is required") from exc
        except (TypeError, ValueError) as exc:
            raise CategoryError(f"{where}: {exc}") from exc
        if every <= timedelta(0) or grace < timedelta(0):
            raise CategoryError(f"{where}: every must be longer than zero, grace not negative")
        default = next((t for t in DEFAULT_TIERS if t.name == name), None)
        aliases = spec.get("aliases", list(default.aliases) if default else [])
        if not isinstance(aliases, list) or not all(
            isinstance(a, str) and _is_tag_word(a) for a in aliases
        ):
            raise CategoryError(f"{where}: aliases must be a list of words")
        merged[name] = CareTier(name, every, grace, tuple(aliases))
    if not merged:
        raise CategoryError(f"{source}: no care tiers left")
    return tuple(merged.values())


_ANSWER_FIELDS = frozenset({"key", "category", "action", "text", "keywords"})
_ANSWER_KEY = re.compile(r"^[\w.-]{1,40}$")


def _answers_from(
    section: Any, categories: Mapping[str, Category], source: str
) -> tuple[bool, tuple[AnswerEntry, ...]]:
    """``[answers]``: ``replace_defaults`` (drop the shipped templates) and
    ``[[answers.templates]]`` (category or "*", action, text, keywords for ``open`` ones). An
    error names the template's number (from 1) and the field, in one line."""
    if not isinstance(section, Mapping):
        raise CategoryError(f"{source}: [answers] must be a table")
    unknown = set(section) - {"replace_defaults", "templates"}
    if unknown:
        raise CategoryError(f"{source}: [answers]: unknown field(s) {', '.join(sorted(unknown))}")
    replace = section.get("replace_defaults", False)
    if not isinstance(replace, bool):
        raise CategoryError(f"{source}: [answers] replace_defaults must be true or false")
    table = section.get("templates", [])
    if not isinstance(table, list):
        raise CategoryError(f"{source}: [[answers.templates]] must be an array of tables")
    entries: list[AnswerEntry] = []
    seen: dict[str, int] = {}
    for number, spec in enumerate(table, start=1):
        entry = _answer_from(spec, number, categories, source)
        first = seen.setdefault(entry.key, number)
        if first != number:
            what = f"key {entry.name!r} is" if entry.name is not None else "the same template is"
            raise CategoryError(f"{source}: [[answers.templates]] #{number}: {what} #{first}")
        entries.append(entry)
    return replace, tuple(entries)


def _answer_from(
    spec: Any, number: int, categories: Mapping[str, Category], source: str
) -> AnswerEntry:
    where = f"{source}: [[answers.templates]] #{number}"
    if not isinstance(spec, Mapping):
        raise CategoryError(f"{where} must be a table")
    extra = set(spec) - _ANSWER_FIELDS
    if extra:
        raise CategoryError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
    name = spec.get("key")
    if name is not None and (not isinstance(name, str) or not _ANSWER_KEY.match(name)):
        raise CategoryError(
            f"{where}: key must be a word of at most 40 letters, digits, '_', '.' or '-'"
        )
    category = _answer_category(spec.get("category"), categories)
    if category is None:
        known = ", ".join([EVERY_CATEGORY, *categories])
        raise CategoryError(
            f"{where}: category must be one of {known} (or a tag), not {spec.get('category')!r}"
        )
    action = answer_action(spec["action"]) if isinstance(spec.get("action"), str) else None
    if action is None:
        raise CategoryError(
            f"{where}: action must be one of {', '.join(ANSWER_ACTIONS)},"
            f" not {spec.get('action')!r}"
        )
    text = spec.get("text")
    if not isinstance(text, str):
        raise CategoryError(f"{where}: text is required (a string)")
    try:
        text = checked_answer(text)
    except AnswerError as exc:
        raise CategoryError(f"{where}: text: {exc}") from exc
    keywords = spec.get("keywords", [])
    if not isinstance(keywords, list) or not all(
        isinstance(k, str) and k.strip() and len(k) <= ANSWER_KEYWORD_MAX for k in keywords
    ):
        raise CategoryError(
            f"{where}: keywords must be a list of words (at most {ANSWER_KEYWORD_MAX} characters)"
        )
    if keywords and action != "open":
        raise CategoryError(f'{where}: keywords are for action = "open" only')
    words = tuple(dict.fromkeys(k.strip() for k in keywords))
    every = category == EVERY_CATEGORY
    return AnswerEntry("" if every else category, action, text, words, name)


def _answer_category(given: Any, categories: Mapping[str, Category]) -> str | None:
    """A template's category as the file writes it: a key, ``*``, or a tag or alias (``#``
    allowed), as /template add takes it; None when it is none of these."""
    if not isinstance(given, str):
        return None
    word: str = given.strip()
    if word == EVERY_CATEGORY or word in categories:
        return word
    bare = word.lstrip("#＃").casefold()
    for category in categories.values():
        if any(w.casefold() == bare for w in category.words):
            return category.key
    return None


_DEFAULT_BY_KEY: dict[str, Category] = {c.key: c for c in DEFAULT_CATEGORIES}


def _is_tag_word(word: str) -> bool:
    return bool(word) and all(ch.isalnum() or ch == "_" for ch in word)
