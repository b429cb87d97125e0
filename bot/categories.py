"""Ticket categories (the defaults from DESIGN.md) and the 关爱走访 tiers, optionally overridden
by CATEGORIES_FILE."""

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
class CategoryCatalog:
    """The categories in force, and the lookup from a tag word to its category."""

    categories: tuple[Category, ...]
    tiers: tuple[CareTier, ...] = DEFAULT_TIERS
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
        unknown = set(data) - {"replace_defaults", "categories", "care"}
        if unknown:
            raise CategoryError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}")
        return cls(tuple(merged.values()), _tiers_from(data.get("care", {}), source))


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


_DEFAULT_BY_KEY: dict[str, Category] = {c.key: c for c in DEFAULT_CATEGORIES}


def _is_tag_word(word: str) -> bool:
    return bool(word) and all(ch.isalnum() or ch == "_" for ch in word)
