"""bot.parsing: real resident messages, the ambiguous cases decided, masking, and properties."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.categories import CategoryCatalog
from bot.parsing import (
    Location,
    ParsedReport,
    TagHit,
    chinese_numeral_to_int,
    find_id_numbers,
    find_phones,
    find_tags,
    mask_sensitive,
    parse_location,
    parse_report,
)

CATALOG = CategoryCatalog.default()


@dataclass(frozen=True)
class Case:
    text: str
    category: str | None
    body: str
    estate: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    labels: tuple[str, ...] = ()


def C(
    text: str,
    category: str | None,
    body: str,
    estate: str | None = None,
    building: str | None = None,
    unit: str | None = None,
    room: str | None = None,
    labels: tuple[str, ...] = (),
) -> Case:
    return Case(text, category, body, estate, building, unit, room, labels)


CASES = [
    # --- the examples from the issue and DESIGN.md ---
    C(
        "#报修 北瑞小区西巷路面破损严重，影响出行",
        "repair",
        "北瑞小区西巷路面破损严重，影响出行",
        "北瑞小区",
    ),
    C(
        "#报修北瑞小区西巷路面破损，影响出行",
        "repair",
        "北瑞小区西巷路面破损，影响出行",
        "北瑞小区",
    ),
    C("请处理＃积水 宝东6号街坊拐弯处", "water", "请处理 宝东6号街坊拐弯处", "宝东6号街坊"),
    C("#充电 5号楼有人从窗户拉线充电", "charging", "5号楼有人从窗户拉线充电", building="5"),
    C("#报修 3号楼2单元楼道灯不亮", "repair", "3号楼2单元楼道灯不亮", building="3", unit="2"),
    C(
        "【#报修】3号楼2单元501室水管爆了",
        "repair",
        "3号楼2单元501室水管爆了",
        None,
        "3",
        "2",
        "501",
    ),
    C("#报修#充电 5号楼下有人飞线", "repair", "5号楼下有人飞线", building="5", labels=("充电",)),
    C("#飞线充电5号楼2单元门口", "charging", "5号楼2单元门口", building="5", unit="2"),
    C("7-6-1046 卫生间漏水 #漏水", "water", "7-6-1046 卫生间漏水", None, "7", "6", "1046"),
    C("北瑞小区#报修 西巷路面坑洼", "repair", "北瑞小区 西巷路面坑洼", "北瑞小区"),
    C("请处理#报修 3号楼2单元楼道灯不亮", "repair", "请处理 3号楼2单元楼道灯不亮", None, "3", "2"),
    C("#积水 宝东6号街坊拐弯处积水严重", "water", "宝东6号街坊拐弯处积水严重", "宝东6号街坊"),
    C(
        "#路面 北瑞小区西巷路面破损严重影响出行",
        "road",
        "北瑞小区西巷路面破损严重影响出行",
        "北瑞小区",
    ),
    # --- every default category, by tag and by alias ---
    C(
        "#维修 阳光花园12栋3单元 电梯又坏了！！！",
        "repair",
        "阳光花园12栋3单元 电梯又坏了！！！",
        "阳光花园",
        "12",
        "3",
    ),
    C(
        "#修理 幸福家园二号楼一单元302 下水道堵了 急",
        "repair",
        "幸福家园二号楼一单元302 下水道堵了 急",
        "幸福家园",
        "2",
        "1",
        "302",
    ),
    C(
        "#飞线 宝东6号街坊7号楼 一楼窗户拉线充电",
        "charging",
        "宝东6号街坊7号楼 一楼窗户拉线充电",
        "宝东6号街坊",
        "7",
    ),
    C(
        "#飞线充电 北瑞小区西巷那边又有人飞线了",
        "charging",
        "北瑞小区西巷那边又有人飞线了",
        "北瑞小区",
    ),
    C(
        "#漏水 7-6-1046 卫生间漏水到楼下",
        "water",
        "7-6-1046 卫生间漏水到楼下",
        None,
        "7",
        "6",
        "1046",
    ),
    C("#停水 整个小区都停水了 什么时候来水", "water", "整个小区都停水了 什么时候来水"),
    C("#井盖 建设路与人民路交叉口井盖丢失", "road", "建设路与人民路交叉口井盖丢失", "建设路"),
    C("#路灯 幸福家园南门口路灯不亮", "road", "幸福家园南门口路灯不亮", "幸福家园"),
    C("#道路 东胜区天骄路中段有大坑", "road", "东胜区天骄路中段有大坑", "天骄路"),
    C(
        "#环境 3号楼下垃圾堆了好几天没人清",
        "sanitation",
        "3号楼下垃圾堆了好几天没人清",
        building="3",
    ),
    C("#卫生 宝东6号街坊垃圾桶满了", "sanitation", "宝东6号街坊垃圾桶满了", "宝东6号街坊"),
    C("#垃圾 小区东门垃圾站臭气熏天", "sanitation", "小区东门垃圾站臭气熏天"),
    C(
        "#噪音 11号楼3单元1102 每天晚上十二点还在剁肉",
        "noise",
        "11号楼3单元1102 每天晚上十二点还在剁肉",
        None,
        "11",
        "3",
        "1102",
    ),
    C(
        "#扰民 广场舞音响太大声了 每天晚上8点到10点",
        "noise",
        "广场舞音响太大声了 每天晚上8点到10点",
    ),
    C(
        "#隐患 嘉盟小区凉房年久失修 有孩子在里面玩",
        "safety",
        "嘉盟小区凉房年久失修 有孩子在里面玩",
        "嘉盟小区",
    ),
    C(
        "#安全 二中东楼小区凉房是危房 随时可能塌",
        "safety",
        "二中东楼小区凉房是危房 随时可能塌",
        "二中东楼小区",
    ),
    C(
        "#消防 5号楼楼道堆满纸箱 消防通道堵了",
        "safety",
        "5号楼楼道堆满纸箱 消防通道堵了",
        building="5",
    ),
    C(
        "#求助 独居老人曹大爷家里没人接电话 住8号楼1单元101",
        "help",
        "独居老人曹大爷家里没人接电话 住8号楼1单元101",
        None,
        "8",
        "1",
        "101",
    ),
    C(
        "#帮忙 我妈腿脚不便 能不能帮忙代买点菜 3栋2单元601",
        "help",
        "我妈腿脚不便 能不能帮忙代买点菜 3栋2单元601",
        None,
        "3",
        "2",
        "601",
    ),
    C("#咨询 老旧小区改造什么时候开始", "consult", "老旧小区改造什么时候开始"),
    C("#问询 管网改造要交钱吗", "consult", "管网改造要交钱吗"),
    C("#政策 疫苗接种在哪里登记", "consult", "疫苗接种在哪里登记"),
    C("#投诉 物业不作为 楼道三个月没打扫", "complaint", "物业不作为 楼道三个月没打扫"),
    C("#建议 小区门口能不能装个减速带", "suggestion", "小区门口能不能装个减速带"),
    C("#停车 消防通道被私家车占了 车牌蒙K12345", "parking", "消防通道被私家车占了 车牌蒙K12345"),
    C("#占道 幸福家园北门有人摆摊占道经营", "parking", "幸福家园北门有人摆摊占道经营", "幸福家园"),
    # --- where the tag stands and what surrounds it ---
    C(
        "麻烦处理一下＃积水 宝东6号街坊拐弯处",
        "water",
        "麻烦处理一下 宝东6号街坊拐弯处",
        "宝东6号街坊",
    ),
    C("[#报修]5号楼电梯困人", "repair", "5号楼电梯困人", building="5"),
    C("（#报修）8号楼2单元302 暖气不热", "repair", "8号楼2单元302 暖气不热", None, "8", "2", "302"),
    C("【报修】4号楼顶楼漏雨", "repair", "4号楼顶楼漏雨", building="4"),
    C("【报修】：4号楼顶楼漏雨", "repair", "4号楼顶楼漏雨", building="4"),
    C("(报修) 5号楼电梯坏了", "repair", "5号楼电梯坏了", building="5"),
    C("通知【报修】5号楼电梯坏了", None, "通知【报修】5号楼电梯坏了", building="5"),
    C(
        "#报修 #充电 7号楼有人飞线充电",
        "repair",
        "7号楼有人飞线充电",
        building="7",
        labels=("充电",),
    ),
    C(
        "#充电#报修 7号楼有人飞线充电",
        "charging",
        "7号楼有人飞线充电",
        building="7",
        labels=("报修",),
    ),
    C("#报修 #维修 7号楼灯坏了", "repair", "7号楼灯坏了", building="7"),
    C("#紧急 #报修 5号楼电梯困人了", "repair", "5号楼电梯困人了", building="5", labels=("紧急",)),
    C("#报修 #紧急 #3号楼 电梯困人", "repair", "#3号楼 电梯困人", building="3", labels=("紧急",)),
    C("#报修 #北瑞小区 路灯坏了", "repair", "路灯坏了", "北瑞小区", labels=("北瑞小区",)),
    C(
        "#报修 #紧急5号楼电梯困人了",
        "repair",
        "紧急5号楼电梯困人了",
        building="5",
        labels=("紧急5号楼电梯困人了",),
    ),
    C("#ABC #报修 测试", "repair", "测试", labels=("ABC",)),
    C("#通知 明天上午9点停水", None, "明天上午9点停水", labels=("通知",)),
    C("#abc 测试一下", None, "测试一下", labels=("abc",)),
    C("3号楼501#报修", "repair", "3号楼501", building="3", room="501"),
    C("abc#报修 漏水", "repair", "abc 漏水"),
    C("#报修😡3号楼漏水", "repair", "😡3号楼漏水", building="3"),
    C("😡#报修 3号楼漏水", "repair", "😡 3号楼漏水", building="3"),
    C("#报修\t3号楼\n2单元", "repair", "3号楼 2单元", building="3", unit="2"),
    C("#报修：北瑞小区3号楼", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("#报修: 北瑞小区3号楼", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("#报修，北瑞小区3号楼。", "repair", "北瑞小区3号楼。", "北瑞小区", "3"),
    C("#报修—北瑞小区3号楼", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("#报修 北瑞小区3号楼，", "repair", "北瑞小区3号楼", "北瑞小区", "3"),
    C("3号楼漏水，#报修", "repair", "3号楼漏水", building="3"),
    C("3号楼漏水 #报修。", "repair", "3号楼漏水。", building="3"),
    C("##报修 3号楼", "repair", "3号楼", building="3"),
    # --- not tags ---
    C("# 报修 3号楼", None, "# 报修 3号楼", building="3"),
    C("#3号楼 漏水", None, "#3号楼 漏水", building="3"),
    C("#3 漏水", None, "#3 漏水"),
    C("3#楼 漏水", None, "3#楼 漏水", building="3"),
    C("5#路灯坏了", None, "5#路灯坏了", building="5"),
    C("C#语言", None, "C#语言"),
    C("http://x.com/a#b 链接", None, "http://x.com/a#b 链接"),
    C("看这个http://x.com/a#报修", None, "看这个http://x.com/a#报修"),
    C("#报修 http://x.com/p?a=1#top 照片", "repair", "http://x.com/p?a=1#top 照片"),
    C("&#12345; 漏水", None, "&#12345; 漏水"),
    C("#報修 3號樓2單元", None, "3號樓2單元", building="3", unit="2", labels=("報修",)),
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
    # --- a tag and nothing useful ---
    C("#报修", "repair", ""),
    C("#报修 。。。", "repair", ""),
    C("#报修😭😭😭", "repair", "😭😭😭"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.text[:24] for c in CASES])
def test_resident_messages(case: Case) -> None:
    report = parse_report(case.text, CATALOG)
    assert report.category == case.category
    assert report.labels == case.labels
    assert report.body == case.body
    assert report.location == Location(case.estate, case.building, case.unit, case.room)
    if case.category is not None:
        assert report.tag == CATALOG[case.category].tag


def test_the_table_is_large() -> None:
    assert len(CASES) >= 80


def test_canonical_tag_and_hits() -> None:
    report = parse_report("#飞线充电5号楼…", CATALOG)
    assert (report.category, report.tag) == ("charging", "充电")
    assert report.tags == (TagHit("飞线充电", "charging", 0, 5),)
    assert report.body == "5号楼…"
    assert report.is_report


def test_hit_offsets_point_into_the_original_text() -> None:
    text = "请处理＃积水 宝东6号街坊【报修】"
    hits = find_tags(text, CATALOG)
    assert hits == (TagHit("积水", "water", 3, 6),)
    assert text[hits[0].start] == "＃"
    bare = find_tags("  【 报修 】3号楼", CATALOG)
    assert bare == (TagHit("报修", "repair", 4, 6),)


def test_latin_tags_match_whole_words_and_ignore_case() -> None:
    catalog = CategoryCatalog.from_mapping(
        {"categories": {"fix": {"tag": "fix", "aliases": ["SOS"], "response": "1h",
                                "resolution": "1d"}}}
    )  # fmt: skip
    assert parse_report("#FIX lamp", catalog).category == "fix"
    assert parse_report("#sos 3号楼", catalog).category == "fix"
    assert parse_report("#fixed lamp", catalog).category is None
    assert parse_report("#fixed lamp", catalog).labels == ("fixed",)
    assert parse_report("#fix修一下", catalog).tags[0].word == "fix"


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("#报修", True),
        ("#报修 报修", True),
        ("#报修 维修维修", True),
        ("#报修 #报修", True),
        ("#报修 ？？？", True),
        ("#报修 👍👍", True),
        ("#报修 请处理", True),
        ("#报修 请尽快处理，谢谢", True),
        ("#报修 快点来人啊！！！", False),
        ("#报修 3号楼", False),
        ("#报修 灯坏了", False),
        ("#通知", False),  # not a report, so no detail is asked for
        ("随便说说", False),
    ],
)
def test_needs_detail(text: str, needs: bool) -> None:
    assert parse_report(text, CATALOG).needs_detail is needs


def test_location_display_and_emptiness() -> None:
    full = Location("北瑞小区", "3", "2", "501")
    assert full.display() == "北瑞小区 3号楼 2单元 501室"
    assert Location(building="3").display() == "3号楼"
    assert Location().display() == ""
    assert Location().is_empty()
    assert not Location(room="501").is_empty()
    assert parse_location("3号楼2单元501") == Location(None, "3", "2", "501")


# --------------------------------------------------------------------------------------------
# Phones, ID numbers, masking
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("电话13812345678", ("13812345678",)),
        ("+86 138 1234 5678", ("13812345678",)),
        ("+86-138-1234-5678", ("13812345678",)),
        ("8613812345678", ("13812345678",)),
        ("(+86)13812345678", ("13812345678",)),
        ("１３８１２３４５６７８", ("13812345678",)),
        ("0477-8123456 或 010 62345678", ("0477-8123456", "010-62345678")),
        ("（0471）8123456", ("0471-8123456",)),
        ("13812345678 和 13812345678", ("13812345678",)),
        ("12345678901", ()),
        ("138123456789", ()),
        ("2026-11-26 7-6-1046 3号楼501", ()),
    ],
)
def test_find_phones(text: str, phones: tuple[str, ...]) -> None:
    assert find_phones(text) == phones


def test_find_id_numbers() -> None:
    assert find_id_numbers("身份证110101199003071234") == ("110101199003071234",)
    assert find_id_numbers("11010119900307123x") == ("11010119900307123X",)
    assert find_id_numbers("老证 110101900307123 ") == ("110101900307123",)
    assert find_id_numbers("110101199013071234") == ()  # month 13
    assert find_phones("110101199003071234") == ()  # no phone inside an ID number


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("+86 138 1234 5678 找王阿姨", "+86 138****5678 找王阿姨"),
        ("+86-138-1234-5678", "+86-138****5678"),
        ("8613812345678", "86138****5678"),
        ("138-1234-5678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("座机0477-8123456", "座机0477-***3456"),
        ("010 62345678", "010 ****5678"),
        ("身份证110101199003071234", "身份证110101********1234"),
        ("11010119900307123X", "110101********123X"),
        ("110101900307123", "110101*****7123"),
        ("3号楼2单元501室 1203房", "3号楼2单元501室 1203房"),
        ("2026-11-26 10:30-11:30", "2026-11-26 10:30-11:30"),
        ("7-6-1046 7－6－1046", "7-6-1046 7－6－1046"),
        ("工单 LT-20261126-0001 / 20261126001", "工单 LT-20261126-0001 / 20261126001"),
    ],
)
def test_mask_sensitive(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked


def test_report_collects_phones_and_ids() -> None:
    report = parse_report("#求助 3号楼 电话 139 1234 5678 身份证11010119900307123X", CATALOG)
    assert report.phones == ("13912345678",)
    assert report.id_numbers == ("11010119900307123X",)
    assert report.location.building == "3"


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


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_PIECES = [
    "#", "＃", "##", "报修", "充电", "飞线充电", "飞线", "漏水", "路灯", "通知", "abc", "ABC",
    "3", "501", "１２", "三", "十二", "两", "幺", "号楼", "栋", "#楼", "单元", "门", "室", "楼",
    "期", "区", "-", "－", "—", "7-6-1046", "2026-11-26", "【", "】", "[", "]", "（", "）",
    "(", ")", "：", "，", "。", " ", "　", "\n", "\t", "小区", "花园", "里", "路", "街", "巷",
    "弄", "院", "号院", "社区", "北瑞", "宝东6号街坊", "幸福", "138", "1381234", "5678",
    "+86 ", "0477-", "8123456", "110101199003071234", "X", "http://x.com/a", "www.", "😀",
    "👍🏻", "#️⃣", "\u200f", "\u202e", "\u200b", "\x00", "\x1f", "\ufeff", "ß", "İ", "\u0301",
]  # fmt: skip
messages = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=3)), max_size=40).map(
    "".join
)
any_text = st.one_of(st.text(), messages)
_DIGITS_ONLY = re.compile(r"[0-9]+")
_ROOM = re.compile(r"[A-Z0-9]+")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
@example("##报修报修")
@example("#【#报修】报修")
@example("#报修：【充电】x")
@example("【#报修】【报修】x")
def test_parse_report_never_raises_and_is_consistent(text: str) -> None:
    report = parse_report(text, CATALOG)
    assert isinstance(report, ParsedReport)
    # no tag survives in the body: removing tags never glues a new one together
    assert find_tags(report.body, CATALOG) == ()
    assert report.body == report.body.strip()
    hits = report.tags
    assert list(hits) == sorted(hits, key=lambda h: h.start)
    for before, after in itertools.pairwise(hits):
        assert before.end <= after.start
    for hit in hits:
        assert 0 <= hit.start < hit.end <= len(text)
        if text[hit.start] in "#＃":
            assert hit.end - hit.start == len(hit.word) + 1
    assert report.is_report == (report.category is not None)
    assert report.category is None or report.tag == CATALOG[report.category].tag
    if report.category is None:
        assert not report.needs_detail
    _check_location(report.location)


def _check_location(location: Location) -> None:
    for value in (location.building, location.unit):
        assert value is None or (_DIGITS_ONLY.fullmatch(value) and value[0] != "0")
    assert location.room is None or _ROOM.fullmatch(location.room)
    assert location.estate is None or 2 <= len(location.estate) <= 16
    assert location.is_empty() == (location.display() == "")


@settings(max_examples=300)
@given(any_text)
def test_other_functions_never_raise(text: str) -> None:
    _check_location(parse_location(text))
    find_tags(text, CATALOG)
    find_phones(text)
    find_id_numbers(text)
    value = chinese_numeral_to_int(text)
    assert value is None or value >= 0


@settings(max_examples=400)
@given(any_text)
@example("+86 138 1234 5678 1234 5678")
@example("13812345678-13812345678")
@example("110101199003071234 13812345678")
def test_masking_hides_everything_and_is_idempotent(text: str) -> None:
    masked = mask_sensitive(text)
    assert find_phones(masked) == ()
    assert find_id_numbers(masked) == ()
    assert mask_sensitive(masked) == masked
    if not find_phones(text) and not find_id_numbers(text):
        assert masked == text


@given(st.text(alphabet="0123456789-－ +()（）Xx号楼单元室", max_size=60))
def test_masking_digit_soup(text: str) -> None:
    masked = mask_sensitive(text)
    assert find_phones(masked) == ()
    assert find_id_numbers(masked) == ()
    assert mask_sensitive(masked) == masked


# --------------------------------------------------------------------------------------------
# Pathological input: these would hang a backtracking regex. Not timed; they must just finish.
# --------------------------------------------------------------------------------------------

_HUGE = 100_000


@pytest.mark.parametrize(
    "text",
    [
        "#报修" * (_HUGE // 3),
        "#" * _HUGE,
        "＃" * _HUGE,
        "1" * _HUGE,
        "1-" * (_HUGE // 2),
        "1 " * (_HUGE // 2),
        "3号楼2单元" * (_HUGE // 6),
        "一" * _HUGE,
        "马路" * (_HUGE // 2),
        "里" * _HUGE,
        "【#报修】" * (_HUGE // 5),
        "#【" * (_HUGE // 4) + "#报修" + "】报修" * (_HUGE // 6),
        "#报修" + " " * _HUGE + "x",
        "http://" + "a#" * (_HUGE // 2),
        "138 1234 5678 " * (_HUGE // 14),
        "#" + "a" * _HUGE,
        "幺" * _HUGE + "室",
        "小区" * (_HUGE // 2),
    ],
    ids=lambda t: f"{t[:8]!r}x{len(t)}",
)
def test_huge_messages_finish(text: str) -> None:
    report = parse_report(text, CATALOG)
    assert isinstance(report.body, str)
    parse_location(text)
    mask_sensitive(text)
