"""bot.parsing.location: estates, buildings, units and rooms all over China; Chinese numerals."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.location import ADDRESSES, load_cases, score
from bot.parsing.location import Location, chinese_numeral_to_int, parse_location
from bot.parsing.report import parse_report
from tests.parsing_cases import (
    CATALOG,
    WITH_ELEVATOR,
    C,
    Case,
    any_text,
    as_case,
    case_ids,
    check_location,
)

LOCATION_CASES = [
    # --- full width, Chinese numerals, spacing ---
    C("#报修 ３号楼２单元５０１", "repair", "３号楼２单元５０１", None, "3", "2", "501"),
    C(
        "＃报修　８栋１单元３０２室　水管漏水",
        "repair",
        "８栋１单元３０２室 水管漏水",
        None,
        "8",
        "1",
        "302",
    ),
    C(
        "#报修   东风新村 5栋  2单元  楼顶漏水",
        "repair",
        "东风新村 5栋 2单元 楼顶漏水",
        "东风新村",
        "5",
        "2",
    ),
    C(
        "#报修 幸福家园 3 号楼 2 单元 501",
        "repair",
        "幸福家园 3 号楼 2 单元 501",
        "幸福家园",
        "3",
        "2",
        "501",
    ),
    C("#报修 三号楼二单元五零一", "repair", "三号楼二单元五零一", None, "3", "2", "501"),
    C("#报修 十二号楼三单元一零二", "repair", "十二号楼三单元一零二", None, "12", "3", "102"),
    C("#报修 二十一栋 一单元 1203", "repair", "二十一栋 一单元 1203", None, "21", "1", "1203"),
    C("#报修 8号楼2单元一百零五室", "repair", "8号楼2单元一百零五室", None, "8", "2", "105"),
    C("#报修 第三栋楼道灯坏了", "repair", "第三栋楼道灯坏了", building="3"),
    C("#报修 住8号楼，2单元，601", "repair", "住8号楼，2单元，601", None, "8", "2", "601"),
    C(
        "北瑞小区#报修 三号楼二单元五零一室 漏水",
        "repair",
        "北瑞小区 三号楼二单元五零一室 漏水",
        "北瑞小区",
        "3",
        "2",
        "501",
    ),
    # --- buildings, units, rooms: the ambiguous forms ---
    C("#报修 3#楼2单元", "repair", "3#楼2单元", None, "3", "2"),
    C("#报修 5#502 漏水", "repair", "5#502 漏水", None, "5", None, "502"),
    C("#报修 3号楼 2门 401", "repair", "3号楼 2门 401", None, "3", "2", "401"),
    C("#报修 5号楼3门502 下水堵了", "repair", "5号楼3门502 下水堵了", None, "5", "3", "502"),
    C("#报修 5楼2单元501 暖气不热", "repair", "5楼2单元501 暖气不热", None, "5", "2", "501"),
    C("#报修 我家在3楼 楼上漏水", "repair", "我家在3楼 楼上漏水"),
    C("#报修 3号楼三楼 301", "repair", "3号楼三楼 301", None, "3", None, "301"),
    C("#报修 7-1046 漏水", "repair", "7-1046 漏水", None, "7", None, "1046"),
    C("#报修 7－6－1046 漏水", "repair", "7－6－1046 漏水", None, "7", "6", "1046"),
    C("#报修 7—6—1046 漏水", "repair", "7—6—1046 漏水", None, "7", "6", "1046"),
    C("#报修 我家在2单元301", "repair", "我家在2单元301", None, None, "2", "301"),
    C("#报修 501室 漏水", "repair", "501室 漏水", room="501"),
    C("#报修 3号楼2单元1203A 漏水", "repair", "3号楼2单元1203A 漏水", None, "3", "2", "1203A"),
    C(
        "#报修 东风新村22栋 二单元 1号",
        "repair",
        "东风新村22栋 二单元 1号",
        "东风新村",
        "22",
        "2",
        "1",
    ),
    C("#报修 一栋楼都停电了", "repair", "一栋楼都停电了"),
    C("#报修 两栋楼之间的路灯", "repair", "两栋楼之间的路灯"),
    C("#报修 三室一厅的房子漏水", "repair", "三室一厅的房子漏水"),
    C("#报修 2026-11-26 3号楼停电", "repair", "2026-11-26 3号楼停电", building="3"),
    C("#报修 11-26 发现漏水", "repair", "11-26 发现漏水"),
    C("#报修 预计3-5天修好吗", "repair", "预计3-5天修好吗"),
    C("#报修 100-200元的维修费谁出", "repair", "100-200元的维修费谁出"),
    C("#报修 今天10:30-11:30停电", "repair", "今天10:30-11:30停电"),
    C("#报修 工单号20261126001 还没人处理", "repair", "工单号20261126001 还没人处理"),
    C("#报修 3号楼2单元 电话13812345678", "repair", "3号楼2单元 电话13812345678", None, "3", "2"),
    # --- estates all over China ---
    C(
        "#报修 万科城3期8栋1单元2201 卫生间天花板渗水",
        "repair",
        "万科城3期8栋1单元2201 卫生间天花板渗水",
        "万科城3期",
        "8",
        "1",
        "2201",
    ),
    C("#报修 碧桂园十二栋 路灯不亮", "repair", "碧桂园十二栋 路灯不亮", "碧桂园", "12"),
    C(
        "#报修 碧桂园3区5栋2单元1203 空调外机要掉了",
        "repair",
        "碧桂园3区5栋2单元1203 空调外机要掉了",
        "碧桂园3区",
        "5",
        "2",
        "1203",
    ),
    C(
        "#报修 保利花园5#楼2单元门禁坏了",
        "repair",
        "保利花园5#楼2单元门禁坏了",
        "保利花园",
        "5",
        "2",
    ),
    C(
        "#噪音 保利花园8#楼3单元 楼上装修",
        "noise",
        "保利花园8#楼3单元 楼上装修",
        "保利花园",
        "8",
        "3",
    ),
    C("#报修 幸福里5号楼楼道扶手松了", "repair", "幸福里5号楼楼道扶手松了", "幸福里", "5"),
    C("#咨询 幸福里3期的停车费怎么交", "consult", "幸福里3期的停车费怎么交", "幸福里3期"),
    C("#报修 天津和平区五福里3号楼", "repair", "天津和平区五福里3号楼", "五福里", "3"),
    C("#报修 朝阳区安贞里3区5号楼", "repair", "朝阳区安贞里3区5号楼", "安贞里3区", "5"),
    C("#报修 帽儿胡同3号院 下水道堵了", "repair", "帽儿胡同3号院 下水道堵了", "帽儿胡同3号院"),
    C("#报修 东城区帽儿胡同3号", "repair", "东城区帽儿胡同3号", "帽儿胡同3号"),
    C(
        "#隐患 东四十条胡同6号院3号楼一单元 电线老化",
        "safety",
        "东四十条胡同6号院3号楼一单元 电线老化",
        "东四十条胡同6号院",
        "3",
        "1",
    ),
    C(
        "#报修 北京市朝阳区望京西园三区312号楼5门801",
        "repair",
        "北京市朝阳区望京西园三区312号楼5门801",
        "望京西园三区",
        "312",
        "5",
        "801",
    ),
    C(
        "#报修 长乐路123弄5号501室 水管漏了",
        "repair",
        "长乐路123弄5号501室 水管漏了",
        "长乐路123弄",
        "5",
        None,
        "501",
    ),
    C(
        "#报修 长宁区愚园路1088弄12号 楼道灯坏了",
        "repair",
        "长宁区愚园路1088弄12号 楼道灯坏了",
        "愚园路1088弄",
        "12",
    ),
    C(
        "#报修 广州越秀区多宝街23号 水浸街了",
        "repair",
        "广州越秀区多宝街23号 水浸街了",
        "多宝街23号",
    ),
    C("#报修 荔湾区恩宁路 骑楼外墙脱落", "repair", "荔湾区恩宁路 骑楼外墙脱落", "恩宁路"),
    C("#报修 天河区猎德村复建房3栋", "repair", "天河区猎德村复建房3栋", "猎德村", "3"),
    C(
        "#报修 成都市武侯区玉林小区2栋1单元3楼",
        "repair",
        "成都市武侯区玉林小区2栋1单元3楼",
        "玉林小区",
        "2",
        "1",
    ),
    C(
        "#报修 深圳南山区桃源村12栋 电梯坏了",
        "repair",
        "深圳南山区桃源村12栋 电梯坏了",
        "桃源村",
        "12",
    ),
    C("#报修 杭州西湖区文一西路 井盖松动", "repair", "杭州西湖区文一西路 井盖松动", "文一西路"),
    C("#报修 西安碑林区建设巷15号", "repair", "西安碑林区建设巷15号", "建设巷15号"),
    C("#报修 哈尔滨道里区 中央大街 附近", "repair", "哈尔滨道里区 中央大街 附近", "中央大街"),
    C("#报修 万科城市花园", "repair", "万科城市花园", "万科城市花园"),
    C("#报修 金地名苑3栋", "repair", "金地名苑3栋", "金地名苑", "3"),
    C("#报修 华润悦府5栋", "repair", "华润悦府5栋", "华润悦府", "5"),
    C("#报修 纺织厂家属院3号楼", "repair", "纺织厂家属院3号楼", "纺织厂家属院", "3"),
    C("#报修 电厂宿舍2栋", "repair", "电厂宿舍2栋", "电厂宿舍", "2"),
    C("#报修 建设路23号院2号楼", "repair", "建设路23号院2号楼", "建设路23号院", "2"),
    C("请处理#报修 建设路23号 路灯不亮", "repair", "请处理 建设路23号 路灯不亮", "建设路23号"),
    C("#路灯 人民路口的路灯坏了", "road", "人民路口的路灯坏了", "人民路"),
    C("#报修 人民公园北门的路灯", "repair", "人民公园北门的路灯", "人民公园"),
    C(
        "#报修 我住在阳光花园十二栋，楼道灯坏了",
        "repair",
        "我住在阳光花园十二栋，楼道灯坏了",
        "阳光花园",
        "12",
    ),
    C(
        "#报修 鄂尔多斯东胜区通顺社区嘉盟小区3号楼",
        "repair",
        "鄂尔多斯东胜区通顺社区嘉盟小区3号楼",
        "嘉盟小区",
        "3",
    ),
    C("#报修 通顺社区宝东6号街坊路面积水", "repair", "通顺社区宝东6号街坊路面积水", "宝东6号街坊"),
    C(
        "东胜区公园街道通顺社区#咨询 疫苗在哪打",
        "consult",
        "东胜区公园街道通顺社区 疫苗在哪打",
        "通顺社区",
    ),
    C("#报修 幸福小区北区3号楼", "repair", "幸福小区北区3号楼", "幸福小区北区", "3"),
    C(
        "#停车 万科城二期5栋楼下有车占消防通道",
        "parking",
        "万科城二期5栋楼下有车占消防通道",
        "万科城二期",
        "5",
    ),
    C("#报修 中山路上的路灯", "repair", "中山路上的路灯", "中山路"),
    C("#报修 我住在中山路幸福小区", "repair", "我住在中山路幸福小区", "幸福小区"),
    C("#报修 建设路23号幸福家园3号楼", "repair", "建设路23号幸福家园3号楼", "幸福家园", "3"),
    C("#报修 科技一路 井盖", "repair", "科技一路 井盖", "科技一路"),
    C(
        "#报修 我们那栋楼的电梯 就是幸福家园七号楼 又坏了",
        "repair",
        "我们那栋楼的电梯 就是幸福家园七号楼 又坏了",
        "幸福家园",
        "7",
    ),
    C(
        "#求助 我是三号楼二单元的住户我家老头子摔了一跤起不来了",
        "help",
        "我是三号楼二单元的住户我家老头子摔了一跤起不来了",
        None,
        "3",
        "2",
    ),
    C("#报修 2号楼的3单元", "repair", "2号楼的3单元", None, "2", "3"),
    C("#报修 302室漏水 楼下401也遭殃了", "repair", "302室漏水 楼下401也遭殃了", room="302"),
    C("#报修 二单元三楼的灯", "repair", "二单元三楼的灯", unit="2"),
    # --- every form residents use (the issue "Hear residents as they really write") ---
    # a number right after N单元 is the room; floor-door is one room (7-4 = 704); dashes;
    # any unit size; letters and zones; 号 after a street is its number, after an estate the
    # building; an estate without a place word right before the address
    C("#报修 9单元1885 暖气片漏水", "repair", "9单元1885 暖气片漏水", None, None, "9", "1885"),
    C("#报修 3单元502 家里停水了", "repair", "3单元502 家里停水了", None, None, "3", "502"),
    C("#报修 3单元2户 暖气不热", "repair", "3单元2户 暖气不热", None, None, "3", "2"),
    C(
        "#报修 哈尔滨 学府小区 98-4单元 楼道灯不亮",
        "repair",
        "哈尔滨 学府小区 98-4单元 楼道灯不亮",
        "学府小区",
        "98",
        "4",
    ),
    C("#报修 173-11-3 厕所下水返水", "repair", "173-11-3 厕所下水返水", None, "173", "11", "3"),
    C("#报修 3-2-501室 暖气不热", "repair", "3-2-501室 暖气不热", None, "3", "2", "501"),
    C(
        "#报修 红旗小区23栋11单元7-4 暖气不热",
        "repair",
        "红旗小区23栋11单元7-4 暖气不热",
        "红旗小区",
        "23",
        "11",
        "704",
    ),
    C("#报修 181幢172单元442室", "repair", "181幢172单元442室", None, "181", "172", "442"),
    C("#报修 B座1203 空调漏水", "repair", "B座1203 空调漏水", None, "B", None, "1203"),
    C("#报修 T2栋 1508 空调漏水", "repair", "T2栋 1508 空调漏水", None, "T2", None, "1508"),
    C("#报修 东区3栋楼道灯坏了", "repair", "东区3栋楼道灯坏了", None, "3"),
    C("#报修 A区3栋2单元 楼道灯不亮", "repair", "A区3栋2单元 楼道灯不亮", None, "3", "2"),
    C("#报修 南区5号楼 电梯坏了", "repair", "南区5号楼 电梯坏了", None, "5"),
    C("#报修 一栋五单元 楼道灯坏了", "repair", "一栋五单元 楼道灯坏了", None, "1", "5"),
    C("#报修 二十三栋 楼顶漏水", "repair", "二十三栋 楼顶漏水", None, "23"),
    C("#报修 ３栋２单元５０１室", "repair", "３栋２单元５０１室", None, "3", "2", "501"),
    C(
        "#报修 李园路159号北城龙珠107栋11单元 楼道灯不亮",
        "repair",
        "李园路159号北城龙珠107栋11单元 楼道灯不亮",
        "北城龙珠",
        "107",
        "11",
    ),
    C(
        "电梯坏了 北城龙珠107栋11单元 #报修",
        "repair",
        "电梯坏了 北城龙珠107栋11单元",
        "北城龙珠",
        "107",
        "11",
    ),
    C(
        "#报修 邱山大街945号10栋 下水道堵了",
        "repair",
        "邱山大街945号10栋 下水道堵了",
        "邱山大街945号",
        "10",
    ),
    C(
        "#报修 建设路12号院3号楼 暖气不热",
        "repair",
        "建设路12号院3号楼 暖气不热",
        "建设路12号院",
        "3",
    ),
    C("#报修 幸福小区12号 楼道灯坏了", "repair", "幸福小区12号 楼道灯坏了", "幸福小区", "12"),
    C("#报修 中山路12号2单元501", "repair", "中山路12号2单元501", "中山路12号", None, "2", "501"),
    C(
        "#报修 长乐路123弄5号501室",
        "repair",
        "长乐路123弄5号501室",
        "长乐路123弄",
        "5",
        None,
        "501",
    ),
    C("#咨询 3月15号几点停水", "consult", "3月15号几点停水"),
    C("#报修 3号楼2门501 暖气不热", "repair", "3号楼2门501 暖气不热", None, "3", "2", "501"),
    C("#报修 2号楼3单元5楼 楼道灯坏了", "repair", "2号楼3单元5楼 楼道灯坏了", None, "2", "3"),
    C("#报修 5号楼东门 门禁坏了", "repair", "5号楼东门 门禁坏了", None, "5"),
    C("#报修 12栋102 停电了", "repair", "12栋102 停电了", None, "12", None, "102"),
    C("#报修 3期5栋 地下车库漏水", "repair", "3期5栋 地下车库漏水", None, "5"),
    C("#报修 1#楼2单元 电梯坏了", "repair", "1#楼2单元 电梯坏了", None, "1", "2"),
    C("#报修 3栋1单元1楼1号 漏水", "repair", "3栋1单元1楼1号 漏水", None, "3", "1", "101"),
    C(
        "#报修 融恒时代广场 1栋 23-5",
        "repair",
        "融恒时代广场 1栋 23-5",
        "融恒时代广场",
        "1",
        None,
        "2305",
    ),
    C("#报修 5栋3号电梯坏了", "repair", "5栋3号电梯坏了", None, "5"),
    C("#报修 楼上1702往下渗水", "repair", "楼上1702往下渗水", None, None, None, "1702"),
    C(
        "#报修 楼号：5号楼 单元：3 房号：602",
        "repair",
        "楼号：5号楼 单元：3 房号：602",
        None,
        "5",
        "3",
        "602",
    ),
    C("#报修 3栋2梯1502", "repair", "3栋2梯1502", None, "3", "2", "1502"),
    C(
        "#报修 华侨大厦 1203 空调漏水",
        "repair",
        "华侨大厦 1203 空调漏水",
        "华侨大厦",
        None,
        None,
        "1203",
    ),
    C("#报修 空调外机 5栋", "repair", "空调外机 5栋", None, "5"),
    C("#报修 1-3楼的灯都不亮", "repair", "1-3楼的灯都不亮"),
    C("#报修 劲松八区805楼3单元", "repair", "劲松八区805楼3单元", "劲松八区", "805", "3"),
    # --- words that look like places but are not ---
    C("#报修 我们小区里的路灯坏了", "repair", "我们小区里的路灯坏了"),
    C("#报修 家里的水管爆了", "repair", "家里的水管爆了"),
    C("#报修 这里的路面坏了", "repair", "这里的路面坏了"),
    C("#环境 群里说的那个垃圾站太臭了", "sanitation", "群里说的那个垃圾站太臭了"),
    C("#报修 马路上有个大坑", "repair", "马路上有个大坑"),
    C("#报修 小区门口马路边的路灯", "repair", "小区门口马路边的路灯"),
    C("#建议 城管来管管吧", "suggestion", "城管来管管吧"),
    C("#报修 园区里面路灯不亮", "repair", "园区里面路灯不亮"),
    C("#报修 公园里的椅子坏了", "repair", "公园里的椅子坏了"),
    C("#报修 3公里外的变电站", "repair", "3公里外的变电站"),
    C("#报修 楼下花园的喷头坏了", "repair", "楼下花园的喷头坏了"),
    C("#报修 老旧小区3号楼", "repair", "老旧小区3号楼", building="3"),
    C("#报修 小区里3号楼", "repair", "小区里3号楼", building="3"),
    C("#报修 幸福里的路灯", "repair", "幸福里的路灯"),
    C("#报修 市政府门口", "repair", "市政府门口"),
    C("#投诉 家庭纠纷", "complaint", "家庭纠纷"),
    C("#建议 城中村改造", "suggestion", "城中村改造"),
    C("#报修 邻里街坊都知道", "repair", "邻里街坊都知道"),
    C("#报修 弄坏了", "repair", "弄坏了"),
    C("#停车 小区门口有车堵路", "parking", "小区门口有车堵路"),
    C(
        "#投诉 隔壁小区的人把车停到我们小区门口堵着路了",
        "complaint",
        "隔壁小区的人把车停到我们小区门口堵着路了",
    ),
    C("#报修 这条马路", "repair", "这条马路"),
    C("#报修 大马路上", "repair", "大马路上"),
]


@pytest.mark.parametrize("case", LOCATION_CASES, ids=case_ids(LOCATION_CASES))
def test_locations_in_resident_messages(case: Case) -> None:
    report = parse_report(case.text, CATALOG)
    assert as_case(case.text, report) == case
    assert report.tag == (CATALOG[case.category].tag if case.category else None)


def test_the_annotated_address_set_is_read_exactly() -> None:
    """tests/data/addresses.tsv: resident messages in every address form of many cities'
    styles, annotated with the estate, building, unit and room an officer would write.
    Building, unit and room must all be exact in at least 97 % of them (the old reader: 83.3 %;
    ``python -m bench.location`` prints every field and every miss)."""
    cases = load_cases()
    assert len(cases) >= 300
    result = score(cases)
    misses = "\n".join(m.describe() for m in result.address_misses())
    assert result.share("address") >= 0.97, (
        f"building+unit+room exact in {result.share('address'):.1%} of {result.cases}:\n{misses}"
    )


def test_the_address_set_file_is_checked(tmp_path: Path) -> None:
    broken = tmp_path / "addresses.tsv"
    header = ADDRESSES.read_text(encoding="utf-8").splitlines()[0]
    broken.write_text(f"{header}\n// a group\n#报修 3号楼\t\t3\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":3: 3 columns"):
        load_cases(broken)
    broken.write_text("text\tbuilding\n", encoding="utf-8")
    with pytest.raises(ValueError, match="first line"):
        load_cases(broken)


def test_location_display_and_emptiness() -> None:
    full = Location("北瑞小区", "3", "2", "501")
    assert full.display() == "北瑞小区 3号楼 2单元 501室"
    assert Location(building="3").display() == "3号楼"
    assert Location().display() == ""
    assert Location().is_empty()
    assert not Location(room="501").is_empty()
    assert parse_location("3号楼2单元501", CATALOG) == Location(None, "3", "2", "501")


@pytest.mark.parametrize(
    ("text", "estate"),
    [
        ("电梯阳光花园5号楼停了", "阳光花园"),
        ("升降梯阳光花园5号楼停了", "阳光花园"),
        ("我住在阳光花园", "阳光花园"),
        ("北瑞小区3号楼电梯坏了", "北瑞小区"),
    ],
)
def test_an_estate_name_starts_after_a_loaded_tag_word(text: str, estate: str) -> None:
    """A tag word in front of an estate is not part of its name, for a category the
    CATEGORIES_FILE adds as for a default one (``维修阳光花园`` -> 阳光花园). The old list was
    built from the defaults: 电梯阳光花园 came out as the estate."""
    assert parse_location(text, WITH_ELEVATOR).estate == estate
    default_text = text.replace("升降梯", "维修").replace("电梯", "报修")
    assert parse_location(default_text, CATALOG).estate == estate


# --------------------------------------------------------------------------------------------
# Chinese numerals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("一百", 100),
        ("一百零五", 105), ("一百一十", 110), ("一百五", 150), ("两", 2), ("两百", 200),
        ("〇", 0), ("零", 0), ("一千零五十", 1050), ("三千零五", 3005), ("一万", 10000),
        ("一万二千", 12000), ("一万二", 12000), ("一万零五", 10005), ("五零一", 501),
        ("二〇二六", 2026), ("幺零幺", 101), ("壹佰", 100),
        ("", None), ("abc", None), ("3", None), ("十十", None), ("百", None), ("一二十", None),
        ("零十", None), ("一百零", None), ("三号", None), ("一" * 21, None),
    ],
)  # fmt: skip
def test_chinese_numerals(text: str, value: int | None) -> None:
    assert chinese_numeral_to_int(text) == value


def _to_chinese(n: int) -> str:
    """The standard written form, for the round trip below."""
    digits = "零一二三四五六七八九"

    def section(k: int, leading: bool) -> str:
        out, zero = "", False
        for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = k // unit % 10
            if d == 0:
                zero = zero or bool(out)
                continue
            if zero:
                out, zero = out + "零", False
            out += "十" if (unit == 10 and d == 1 and not out and leading) else digits[d] + name
        return out

    if n == 0:
        return "零"
    high, low = divmod(n, 10000)
    if not high:
        return section(low, leading=True)
    text = section(high, leading=True) + "万"
    if low:
        text += ("零" if low < 1000 else "") + section(low, leading=low >= 1000)
    return text


@given(st.integers(min_value=0, max_value=99_999_999))
def test_chinese_numeral_round_trip(n: int) -> None:
    assert chinese_numeral_to_int(_to_chinese(n)) == n


@settings(max_examples=300)
@given(any_text)
def test_location_and_numerals_never_raise(text: str) -> None:
    check_location(parse_location(text, CATALOG))
    value = chinese_numeral_to_int(text)
    assert value is None or value >= 0
