"""Does an untagged group message read like a problem for the grid, and of which categories?

Pure (no telegram, no I/O, no model): a weighted lexicon, read the way residents write.

* **Problem cues** (``PROBLEM``): what is wrong (坏了 不亮 漏水 堵了 没了 停了 臭 吵 飞线 …),
  what people ask for (谁管管 能不能 修一下 麻烦 尽快 …), how long it has lasted (好几天
  一直 又 …), who is at risk (老人 孩子 …) and policy questions to the community (怎么办理
  在哪办 补贴 …). Each cue counts once, with its weight.
* **Chatter cues** (``CHATTER``): thanks, greetings, 收到/好的, congratulations, meeting
  times, notices (通知 请大家 明天…停水), 接龙 lists, adverts (出售 转让 优惠 联系电话),
  lost and found, news and forwards (转发 扩散 某地), weather, neighbours asking
  neighbours (谁家有 借一下), and a problem already solved (修好了 来电了). They subtract.
* **Shape**: a parsed address (3号楼, 7-2-301) adds a little to a message that already has a
  problem cue; a numbered list (``1. 张三\\n2. 李四``) and a very long text subtract; a message
  of a few characters with no strong cue is chatter (好 / 嗯嗯 / 👍).

``score = problem + shape − chatter``; the message is a problem when ``score ≥ THRESHOLD``.

* **Bigrams** (``Ngrams``): a lexicon only hears the words it was given, and residents keep
  finding new ones. A small naive Bayes over the characters, their
  pairs and triples (digits folded), trained at first use from the labelled corpus shipped in
  ``bot/data/offers_*.tsv``, hears a message the lexicon missed when its log-odds reach
  ``NB_THRESHOLD`` and the lexicon found no chatter cue at all (``+ngrams``).

The categories are ranked by the words of the catalogue in force (tag, aliases and
``keywords``, ``bot.categories``), a longer word counting more; the likeliest one to three are
offered. Measured on bot/data/offers_*.tsv and tests/data/offers_blind2.tsv by
``python -m bench.offers``.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from bot.categories import CategoryCatalog
from bot.parsing import parse_location
from bot.parsing.text import PerCatalog

__all__ = ["NB_THRESHOLD", "THRESHOLD", "Ngrams", "Reading", "corpus_model", "read_message"]

THRESHOLD = 2.0
MAX_CANDIDATES = 3
# When no category word matches, these are offered (those the catalogue has), else its first.
FALLBACK = ("repair", "complaint", "help")
_READ_LIMIT = 1000  # characters read; a longer text is a notice or an article, not a report


@dataclass(frozen=True)
class Cue:
    name: str
    pattern: re.Pattern[str]
    weight: float

    @property
    def core(self) -> bool:
        """Says by itself that something is wrong; a weaker cue only adds to such a one."""
        return self.weight >= CORE


CORE = 2.0


def _cues(table: Sequence[tuple[float, str]]) -> tuple[Cue, ...]:
    return tuple(Cue(pattern, re.compile(pattern), weight) for weight, pattern in table)


# -- what is wrong, what is asked -------------------------------------------------------------
PROBLEM = _cues(
    [
        # broken, damaged, not working
        (
            3.0,
            r"坏了|坏掉|坏的|坏啦|坏死|又坏|老坏|总坏|经常坏|损坏|故障|失灵|怀了|出毛病|出问题|有问题|停运|停用|停摆|一闪一闪|闪烁|忽亮忽灭|时好时坏|漏风|透风|灌风|风呼呼|抽风|罢工|死机|不工作|不好使|不好用|不能用|用不了|没法用|不灵",
        ),
        (
            2.5,
            r"破损|破了|破洞|烂了|碎了|裂了|裂开|裂缝|开裂|断了|断裂|锈断|锈穿|锈蚀|脱落|塌了|塌陷|要塌|下沉|沉下去|撞(弯|坏|断|倒|歪|破|掉|飞)|弯了|变形|被撬|撬了|凹下去|凹陷|鼓起|起皮|掉漆|掉渣|墙皮|窟窿|大洞|大坑|(有|个|那个|大|一个|全是|好多)坑|坑(洼|里)|(个|道|大|条)口子|豁口|缺口|剪开|斜了|倾斜|(随时|快|要)要?(掉|倒|塌|断)|缺了(个|一)?(角|块)|缺角|少了(一)?块|坑坑洼洼|坑洼|有个坑|一个坑|全是坑",
        ),
        (
            2.5,
            r"不亮|不响|不通|不转|不动了|不出水|出不来水|没反应|充不上|充不进|不正常|异常|异响|怪声|太暗|很暗|看不清|看不见|磨没了",
        ),
        (
            2.5,
            r"打不开|关不上|关不严|锁不上|合不上|抬不起|打不着|进不去|出不去|上不来|下不了|刷不开|过不去|进不来|走不了|[拧关锁推开走过进出上下充刷打冲]不(紧|上|开|动|过去|进去|出去|下去|住|着|严|了)",
        ),
        (2.0, r"卡住|卡在|困人|困着|被困|困在|反锁"),
        (
            2.0,
            r"掀(了|翻|掉)|刮(倒|跑|掉|坏)|吹(倒|掉|坏)|压(坏|断|塌)|冲垮|泡坏|砸(坏|碎)|碰坏|挖(了|开|断)|刨了|拔(了|掉)|拆(了|走|掉)|偷走|翻墙|翻进|撒尿|拉屎|随地|吐痰|泼(水|脏水)|往下(倒|泼)|烧(东西|纸|垃圾|秸秆)|浓烟|黑烟|划伤|割伤|扎伤|刮伤|碰伤|撞到|打滑|结冰|青苔|发霉|霉斑|不灭|长明|常亮|不热|不凉|不制冷|不制热|十几度|信号(差|不好)|打不出去|没信号|响个不停|滋滋|咔咔|吱吱|种菜|种上|开荒|裂成|断成|(塌|陷|沉|凹)下去|(翘|冒|鼓|露|掉)出来",
        ),
        (
            2.0,
            r"松了|松动|歪了|歪着|倒了|快倒|要倒|翘起|鼓了|鼓包|老化|生锈|锈了|掉下来|没了|偷了|被偷|被盗|失窃|全是|到处(都)?是",
        ),
        (
            2.5,
            r"停电|没电|断电|跳闸|停水|没水|断水|停气|没(有)?(水|电|燃气|暖气|热水)(了|冲|用)?|没(燃)?气了|又停|(?<!噪音)(?<!声音)(?<!雨)停了|停(了)?[一二三两几\d]+天|黑了|全灭|一片漆黑|黑灯瞎火|忽明忽暗|一直在?闪",
        ),
        # water
        (
            3.0,
            r"漏(?!掉)|渗水|渗漏|滴水|滴(到|了|下来)|冒水|返水|溢水|溢出|往外溢|倒灌|积水|淹了|进水|泡了|爆了|喷水|往下淌|往下流|成河|汪洋|一片水|都是水|(往外|往下|直接)(流|排|冒)|污水|脏水|黑水|泥水|冒泥",
        ),
        (
            2.0,
            r"(水|雨).{0,8}(进|漫|淹|灌|流)(到|进|了|一楼|家|屋)|发黄|黄水|浑水|水浑|铁锈味|水质|能喝吗",
        ),
        (2.5, r"堵了|堵住|堵死|堵塞|堵着|堵(在)?里面|被堵|不通了|冒臭水|水印"),
        # smell, pests, mess
        (
            2.5,
            r"臭|腥|馊|[骚尿霉焦糊]味|异味|怪味|煤气味|燃气味|烟味|味(儿|道)?(很|太|特别|好)?(大|重|冲|难闻)|难闻|一股.{0,4}味|有味|呛|熏|捂鼻|烧焦",
        ),
        (
            2.0,
            r"蚊子|苍蝇|老鼠|蟑螂|狗屎|粪|猫屎|野狗|流浪(猫|狗)|野猫|发绿|满天飞|飞絮|杨絮|柳絮|马蜂|蜂窝|白蚁|虫子|蚊虫|蛇|脏|乱七八糟|一团糟|太(脏|乱|差|吵|臭|黑|滑|挤|暗)",
        ),
        (
            2.0,
            r"堆满|堆了|堆着|堆成|堆在|满出来|满了|乱[扔倒堆放贴搭停拉接建画涂晒丢跑窜]|(扔|堆|倒)了(好多|一堆|很多)|没(有)?人(清|收|扫|打扫|修|拉|管|理|应|冲|接|开)|没(有)?(修|填|清|扫|收|盖|冲|拉走|处理)|有人(在)?.{0,6}(烧|扔|倒|挖|砍|偷|占|堆|遛|摆摊|吸烟|抽烟)|(吸|抽)烟|烟头|摆摊|渣土",
        ),
        (
            2.0,
            r"违建|违章|加盖|违规|违法|合法吗|合规吗|被人?(拆|剪|撬|偷|砸|撞|堵|占|挖|拔|烧|弄坏|破坏|压坏|搬走|拿走)|私搭|乱搭|搭(了|建)(个|一个)?.{0,4}(棚|房|屋|笼)|公共.{0,6}(租|占|圈|卖|改|堆)|私拉|私接|私装|私自|圈起来|占用|占道|占了|占着|占车位|挡住|挡着|挡了|全挡|堵门|停在.{0,6}(通道|路中间|人行道|盲道|门口|车位)|车位.{0,6}(被占|停了)|外面的车|外来车|没地方停|没(有)?车位|进出都得|侧着身",
        ),
        # noise
        (
            2.5,
            r"吵|噪音|噪声|扰民|睡不着|吵醒|不让(人)?(睡|休息)|声(音)?(太|很|特别|好|开得)?(大|响)了?|太响|大喇叭|高音喇叭|喇叭.{0,4}(响|吵|放)|见人就(叫|咬)|乱叫|震得|嗡嗡|咚咚|哐|吱呀|轰油门|蹦迪|砸墙|打桩|闹腾|闹哄哄|闹事|(狗|猫).{0,6}叫|还在(施工|跳|放|叫|吆喝)",
        ),
        # danger
        (
            3.0,
            r"危险|隐患|不安全|着火|起火|冒烟|冒火|火星|火花|煤气|燃气泄漏|液化气|漏气|飞线|拉线|高空抛物|出人命|要命|差点|险些|醉汉|打架|斗殴|骚扰|小偷|可疑|鬼鬼祟祟|转悠|问东问西|醉酒|喝醉|叫不醒|昏睡|流浪汉|有人住|住进去",
        ),
        (
            2.0,
            r"摔了|摔倒|摔跤|滑倒|绊倒|崴脚|扭了脚|摔下来|砸到|砸下来|受伤|流血|咬了|咬人|不拴绳|没拴绳|吓哭|吓人|害怕|不敢|往下扔|往楼下扔|烧了|树.{0,4}(倒|断|歪|挡)|树枝.{0,6}(伸|挡|压|断)",
        ),
        (
            2.0,
            r"没(有)?(护栏|盖子|盖|围挡|栏杆|灯)|太黑|很黑|黑乎乎|黑漆漆|耷拉|露在外面|露出来|裸露|钉子",
        ),
        # charging where it must not be
        (
            2.5,
            r"(电动车|电瓶车|电瓶|电池|三轮车|代步车).{0,12}充|给.{0,8}充电|楼道.{0,6}充|充电.{0,6}楼道",
        ),
        (
            2.0,
            r"(推|拎|拿|搬)(进|到|上|回).{0,4}(电梯|楼|家)|窗户.{0,6}(线|插)|(拉|吊|顺|接).{0,3}(下来|出来|插排|插线板|电)",
        ),
        # people in need
        (
            2.5,
            r"救命|求助|急!|急！|急需|走失|走丢|晕倒|说不出话|犯病|突发|发高烧|没人照顾|照顾不过来|联系不上|不会弄|怎么办啊|不知道找谁|没回来|痴呆|没见(出门|人)|敲门.{0,3}没人",
        ),
        # asking whoever is responsible to act
        (
            2.0,
            r"还没(修|好|来|弄|处理|解决|人管|人来)|谁管管|管管|管一管|有人管|管不管|谁(来)?(管|修)|谁负责|归谁管|该找谁|找谁(处理|反映|修)|(物业|社区|保安|网格员?|没人)(也)?不管|求解决|求处理|望解决|请解决|给个(说法|答复)|(报|打|反映|说)了?(好几次|多次|很多次|十几遍|几遍)|强烈要求|说了(好几次|多少次|几次)?(也)?(没用|不听)|跟(他|她|他们)说.{0,4}没用|没(有)?下文|没(有)?回音|没(有)?人影|(没|不)见人影|找不到人|打不通|没人接|挂了",
        ),
        (2.5, r"投诉|举报"),
        (
            2.0,
            r"乱收费|不作为|走.{0,2}过场|推诿|敷衍|不负责|不管事|(啥|什么)也不干|不干活|恶劣|缺德|没素质|素质太差|没公德|侵犯|多收|不给开|睡岗|随便进",
        ),
        # suggestions
        (
            2.5,
            r"建议|提个意见|提个建议|希望.{0,8}(能|可以|加|装|设|多|改|给|把)|要是能.{0,20}就好|可以考虑|最好(能|都|是)?(装|加|改|设|搞|放)|能不能.{0,10}(装|加|设|划|改|挪|填|修|管|安排|派|开到|换|建)|(我)?觉得.{0,6}(应该|可以|最好).{0,12}(装|加|设|改|搞|建|弄|开|放)",
        ),
        # questions to the community about its services and rules
        (
            2.0,
            r"怎么办理|怎么申请|如何申请|怎么领|怎么激活|在哪(里)?办|去哪(里)?(办|换|开|打|交|领)|找谁开|在哪(里)?打|在哪能查|需要(带)?(什么|哪些|啥)(材料|条件|手续|证件)|要带什么|准备(些)?(什么|啥|哪些)|要(带|交|办)(些)?(什么|啥|哪些)|有什么条件|什么条件|标准是|能不能办|能办吗|还能补|能补吗|有没有补贴|有补贴吗|有优惠吗|(具体|什么)(要求|规定)|有没有规定",
        ),
        # weaker: they add to the above, never make a problem alone
        (
            1.5,
            r"掉了|怎么办(?!法)|(能)?放哪|扔哪|反映|态度|不公示|收了钱|被骂|骂人|玩手机|钱.{0,4}去哪|收支|不透明|涨了|陌生人|外来人员|民宿|群租|(又|总是|经常|老是)不在|不在岗|被人|过敏|养了.{0,6}(只|条)",
        ),
        (
            1.5,
            r"能不能(在|把|给|装|加|设|划|搞|开|改|放|多|挪|种|填|修)|(装|加|设|放|搞)(个|几个|一个|上)|增设|加装|多设|多装|多种|改成|应该(搞|装|设|加|有|弄|建)|我觉得.{0,12}(应该|可以|最好)",
        ),
        (
            1.5,
            r"能不能|能否|可不可以|可否|是不是|怎么回事|咋回事|啥情况|怎么搞的|怎么(又|没|不|还)|到底|啥时候|什么时候(能)?(来|修|好|开始|恢复|来水|来电|供|通|解决|填|清|换|弄|管|处理)|麻烦|请(尽快|帮|处理|来|派|安排|物业|网格)|尽快|赶紧|快来|快点|派人|来人|来看看|修一下|修修|来修|处理一下|看一下|看看|看一眼|帮忙|帮一下|帮帮|填一下|弄一下|清一下|管一下",
        ),
        (
            1.5,
            r"半夜|凌晨|深夜|夜里|整夜|通宵|十[一二]点|(中午|晚上|周末|半夜|早上|一大早)(也|还|都)",
        ),
        (1.5, r"骨折|困难|行动不便|腿脚不方便|不方便|担心|送(一下|医院|我)|冻得|哆嗦"),
        (
            1.5,
            r"补贴|低保|医保|社保|养老(金|保险)|居住证|证明|户口|落户|残疾证|老年卡|乘车卡|盖章|救助|政策|适老化|上门护理|体检|办卡|签字|手续|供暖|暖气|物业费|水费|公租房|廉租房|申请|登记|改造|拆迁|停车费|停车证|证件|补办|大件垃圾|旧家具|回收",
        ),
        (1.0, r"请问|想问|问一下|问下|咨询|吗[?？]?$|[?？]|怎么|如何|什么时候|哪里|哪儿|在哪|多少"),
        (
            1.0,
            r"好几天|几天了|多天|一个月|半个月|个月了|多月|一个星期|一个礼拜|半年|一年了|一直|总是|老是|总有|天天|每天|每次|又|还是|到现在|第[几三四五]次|年年|还在|这么(久|多天|长时间)|一[到下](晚上|雨|雪|夏天|冬天|周末)就|一上午|一下午|一晚上|一整晚|一整天|一夏天|一冬天|好久|很久",
        ),
        (1.5, r"装修|喇叭|音响|划拳|练琴|唢呐|不停|循环|广场舞|k歌|唱歌|喝酒"),
        (
            1.0,
            r"受不了|受够了|忍无可忍|忍不了|太过分|还让不让|有完没完|烦死|太差|不像话|凭什么|算谁的|这合理吗|没法|不行了|浪费|着急|急死|太多了|!!|！！|\?\?|？？|😡|😤|😭|😠|💢|哗哗|滴答",
        ),
        (
            1.0,
            r"老人|独居|孕妇|残疾|轮椅|瘫痪|孩子|小孩|老太太|大爷|奶奶|爷爷|老伴|整栋楼|整个楼|全楼|整个小区|大家都",
        ),
        (1.0, r"社区|物业|居委会|网格|保安|师傅|@"),
        (1.0, r"有人在|还有人|有户人家|那户|那家|隔壁|楼上"),
    ]
)
# Two weak cues that together ask the community something: a service named in a question.
_SERVICE = next(c for c in PROBLEM if c.name.startswith("补贴|"))
_QUESTION = next(c for c in PROBLEM if c.name.startswith("请问|"))
ASKED = 2.0
ASKING = 1.5  # weak cues this heavy ask for something or name a nuisance; lighter ones (1.0)
# only amplify: persistence (一直), people (老人), the office (物业), frustration (！！)
WEAK_CAP = 2.5  # beside a core cue, weak cues add at most this much
WEAK_ONLY_CAP = 4.0  # without one, they count up to this, less the discount
WEAK_ONLY_DISCOUNT = 1.5

# -- what chatter says ---------------------------------------------------------------------------
CHATTER = _cues(
    [
        (2.5, r"谢谢|感谢|多谢|谢啦|辛苦|感恩|点赞|点个赞|加油|好样的|厉害"),
        (
            3.0,
            r"修好了|已修好|刚修好|修复了|已经修|(好像|已经|现在|又|早就)好了|(昨天|刚才|刚刚|已经|早就).{0,2}(换|修|补|装|清|弄|处理|盖|填|挪|拉走)(了|好)|已经来了|现在(已经)?(来|好|通|有)了|原来是|没(什么)?事了|没什么事|已经散了|虚惊|(下午|晚上|明天|马上|一会儿?|很快)就(来|好|恢复|通|修)|我(刚)?去问了|问过了|已经(跟|和|给)?.{0,6}说了|已经反映|已经报(修|了)|已经(有人)?处理|解决了|处理好了|恢复了|来电了|来水了|(下水道|水管|路)通了|(?<!不)亮了|清走了|挪走了|盖上了|找到了|不用麻烦|反馈给物业了|明天就来修|(噪音|声音|雨|吵)停了",
        ),
        (
            3.0,
            r"早上好|早安|午安|中午好|下午好|晚上好|晚安|大家好|各位好|邻居好|大家早|各位早|早啊|新年|快乐|安康|拜年|如意|好梦|美好的一天|好心情|请多关照",
        ),
        (3.0, r"恭喜|祝贺|祝大家|生日|满月|大寿|乔迁|新婚|喜事|考上|评上|拿了第一"),
        (
            2.5,
            r"(?<![没不未])通知|温馨提示|提醒|公告|(?<![不没未])公示|请大家|请各位|各位(居民|业主|邻居)|相互转告|互相转告|请提前|提前(储水|做好|准备)|请勿|敬请|谅解|特此|开始收|可以到.{0,10}(交|办|领)|大家注意|请注意|注意防|注意(身体|保暖|防暑|安全|出行)|多喝水|地点[:：]|时间[:：]|请(带好|携带|准时|于|勿)|即日起|(下周|本周|这周|明天|后天|下个月|从.{0,6}起).{0,8}开始",
        ),
        (
            1.5,
            r"\d{1,2}\s*[-~到至]\s*\d{1,2}\s*点|\d{1,2}[:：]\d{2}|[上下]午\s*\d{1,2}\s*点|\d{1,2}点(半)?(开始|前|到|集合|截止)",
        ),
        (
            2.5,
            r"(明天|明日|明早|今晚|今天下午|今天上午|后天|下周|本周|这周|周[一二三四五六日末]|星期[一二三四五六日天]).{0,16}(停水|停电|开会|检修|维保|演练|安检|集合|报名|放电影|义诊|理发|打疫苗|疫苗|接种|投放|核酸|大扫除|上门)",
        ),
        (
            2.5,
            r"开会|会议|议事会|报名|参加|欢迎|集合|排练|截单|放映|准时|推迟到|改到|取消了|还开吗|借阅|领鸡蛋|例行",
        ),
        (4.0, r"接龙|我也接|接一个"),
        (
            3.0,
            r"出售|转让|出租|求租|高价回收|上门回收|回收(旧|二手|废)|促销|特价|优惠价|打折|八折|酬宾|团购|拼团|开业|大促|买二送一|满\d+减|了解一下|一对一|辅导|招生|价格(实惠|优惠)|上门服务|随叫随到|质保|不收费|不漏不收钱|免费上门|24小时|便宜出|低价|闲置|九成新|加我微信|私聊|有意者|联系我|办卡送",
        ),
        (
            3.0,
            r"捡到|丢了一|掉在|落在|拿错|丢失|遗失|谁丢的|失主|寻狗|寻猫|寻物|启事|失物|谁的(钥匙|快递|伞|雨伞|手机|钱包|卡)|是谁家的|飞到我家",
        ),
        (4.0, r"转发|【转|转：|转:|扩散|某地|某小区|外地一|外地的?小区|引以为戒"),
        (
            3.0,
            r"新闻|速看|专家|文章|千万别|养生|常识|冒充|骗子|诈骗|好消息|上调|据报道|据悉|重磅|央视|记住|这几步|几招|小知识|须知|科普|教你|学会|分享|窍门|妙招|技巧|偏方|看到群里说|听说|据说",
        ),
        (
            2.0,
            r"天气|雷声|闪电|下雨了|下雪|雪了|降温|升温|预报|雾霾|空气不错|太阳出来|凉快|好热|好冷|热得|风好大|冰雹|雨停|闷得慌|晒不干|带伞|收衣服|大雨|打雷|雷阵雨|\d+度",
        ),
        (
            2.5,
            r"谁家有|哪位(有空|能|会|懂)|谁有空|有空帮|有没有人(有|要|一起|知道|会)|有人(要|知道|一起)|借(一下|用|我)|谁知道|谁会|哪里有|哪家|哪个药店|哪里(可以|收)|推荐|拼车|教教我|一起去|一起(钓鱼|晨练|团购)|举手|顺路|有谁|谁是做|求推荐|哪里买|在哪买",
        ),
        (
            2.0,
            r"哈哈|笑死|搞笑|好看|好吃|好美|可爱|漂亮|真好|真香|好香|逗|呵呵|嘿嘿|😂|😄|😁|😊|🙂|😃|🤣|😆|🥰|😘|👍|👏|🌹|🎉|🎂|❤|💐|🤝|💪",
        ),
        (1.5, r"收到|好的|好嘞|明白|了解|知道了|已阅|没问题|同意|\bok\b|👌"),
        (2.0, r"还算|不错|挺好|挺方便|满意|合理(?!吗)"),
        (
            1.5,
            r"便宜|退休金|钓鱼|跳舞|下棋|太极|合唱|春晚|幼儿园了|会走路|土特产|月季|樱花|吃饭了吗|吃啥|饺子|包子|红烧肉|视频|价格|多少钱一|微信|包邮|下单",
        ),
    ]
)

# A numbered list of names or amounts: 接龙 (``1. 张三``, ``2、3-201 王``).
_LIST_ITEM = re.compile(r"(?:^|\n)\s*\d{1,3}\s*[.、,，)]\s*\S")
_LONG = 160  # characters: notices and articles are long, reports seldom are
_TOPIC = 2.0  # a category score this high (a tag word, or two or three of its keywords)
_TOPIC_WEIGHT = 1.0
_PLACEHOLDER = re.compile(r"^\s*(\[[^\]]{1,6}\]\s*)+$")  # [图片] [语音] [表情]


@dataclass(frozen=True)
class Reading:
    """What ``read_message`` made of a text: its score and the likeliest categories."""

    score: float
    categories: tuple[str, ...]
    cues: tuple[str, ...]
    """The cues that counted, ``+name`` or ``-name`` (for tests, the bench and the log)."""

    @property
    def is_problem(self) -> bool:
        return self.score >= THRESHOLD


def normalize(text: str) -> str:
    """The text as the cues read it: full-width folded (NFKC), lower case, ``#`` dropped (an
    unknown tag such as ``#电梯坏了`` is read as words), cut at ``_READ_LIMIT`` characters."""
    folded = unicodedata.normalize("NFKC", text[:_READ_LIMIT]).lower()
    return folded.replace("#", " ").replace("\r", "")


def read_message(text: str, catalog: CategoryCatalog, model: Ngrams | None = None) -> Reading:
    """How much ``text`` reads like a problem report, and its likeliest categories.

    The lexicon reads first; a message it does not hear, with no chatter cue either, is heard
    when the n-gram ``model`` (by default ``corpus_model()``) is sure enough of it."""
    reading = _lexicon(text, catalog)
    if reading.is_problem or any(cue.startswith("-") for cue in reading.cues):
        return reading
    odds = (model or corpus_model()).log_odds(text)
    if odds < NB_THRESHOLD:
        return reading
    categories = _ranked(category_scores(normalize(text), catalog), catalog)
    return Reading(THRESHOLD, categories, (*reading.cues, "+ngrams"))


def _lexicon(text: str, catalog: CategoryCatalog) -> Reading:
    """The weighted lexicon's reading.

    Without a core cue (something wrong, a request that names it, a question about a service)
    nothing else counts: 孩子 + 社区 is a family outing, not a report."""
    plain = normalize(text)
    cues: list[str] = []
    core, weak = _problem(plain, cues)
    chatter = _sum(CHATTER, plain, "-", cues)
    if core == 0 and weak.asking == 0:
        return Reading(round(-chatter, 2), (), tuple(cues))
    shape = _shape(text, plain, catalog, cues)
    scores = category_scores(plain, catalog)
    topic = _topic(scores, cues)
    if core > 0:
        problem = core + min(weak.total, WEAK_CAP)
    else:  # several weak cues, one of them asking: 麻烦物业来看看 3号楼2单元
        problem = min(weak.total, WEAK_ONLY_CAP) - WEAK_ONLY_DISCOUNT
    score = round(problem + shape + topic - chatter, 2)
    categories = _ranked(scores, catalog) if score >= THRESHOLD else ()
    return Reading(score, categories, tuple(cues))


def _topic(scores: dict[str, float], cues: list[str]) -> float:
    """A category's own words say what the message is about: a tag or alias written as a plain
    word (报修 投诉 求助 停车 …, those of a CATEGORIES_FILE too), or several of its keywords."""
    best = max(scores.values(), default=0.0)
    if best >= _TOPIC:
        cues.append("+topic")
        return _TOPIC_WEIGHT
    return 0.0


@dataclass
class _Weak:
    total: float = 0.0
    asking: float = 0.0  # the part from cues that ask or name a nuisance (weight 1.5)


def _problem(plain: str, cues: list[str]) -> tuple[float, _Weak]:
    """The core weight and the weak weights of a text."""
    core = 0.0
    weak = _Weak()
    matched: set[str] = set()
    for cue in PROBLEM:
        weight = _weight(cue, plain, "+", cues)
        if not weight:
            continue
        matched.add(cue.name)
        if cue.core:
            core += weight
        else:
            weak.total += weight
            weak.asking += weight if cue.weight >= ASKING else 0.0
    if _SERVICE.name in matched and _QUESTION.name in matched:
        core += ASKED
        cues.append("+asked")
    return core, weak


def _sum(table: tuple[Cue, ...], plain: str, sign: str, cues: list[str]) -> float:
    return sum(_weight(cue, plain, sign, cues) for cue in table)


def _weight(cue: Cue, plain: str, sign: str, cues: list[str]) -> float:
    """A cue counts once; a second different word of it adds half its weight again
    (态度很恶劣: two complaint words say more than one)."""
    found = list(dict.fromkeys(m.group(0) for m in cue.pattern.finditer(plain)))
    if not found:
        return 0.0
    cues += [sign + word for word in found[:2]]
    return cue.weight * (1.5 if len(found) > 1 else 1.0)


def _shape(text: str, plain: str, catalog: CategoryCatalog, cues: list[str]) -> float:
    shape = 0.0
    if _PLACEHOLDER.match(plain):
        shape -= 3.0
        cues.append("-placeholder")
    items = len(_LIST_ITEM.findall(plain))
    if items >= 2 or (items == 1 and plain.lstrip()[:1].isdigit()):
        shape -= 2.5 if items >= 2 else 1.5
        cues.append("-list")
    if len(text) > _LONG:
        shape -= 1.5
        cues.append("-long")
    if _has_address(text, catalog):
        shape += 1.0
        cues.append("+address")
    return shape


def _has_address(text: str, catalog: CategoryCatalog) -> bool:
    """A building, unit or room (the estate alone is read too generously to count)."""
    where = parse_location(text[:_READ_LIMIT], catalog)
    return bool(where.building or where.unit or where.room)


# -- n-grams -----------------------------------------------------------------------------------

NB_THRESHOLD = 12.0  # log-odds; chosen by 5-fold cross-validation on the shipped corpus
_NB_ALPHA = 0.5  # additive smoothing of the per-class document frequencies
_DATA = ("offers_problems.tsv", "offers_chatter.tsv", "offers_blind.tsv")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def ngrams(text: str) -> frozenset[str]:
    """The characters, pairs and triples of a text as the cues read it (digits folded to 0)."""
    plain = _SPACE.sub(" ", _DIGITS.sub("0", normalize(text)))
    found = set()
    for size in (1, 2, 3):
        for i in range(len(plain) - size + 1):
            gram = plain[i : i + size]
            if gram.strip():
                found.add(gram)
    return frozenset(found)


class Ngrams:
    """Bernoulli-style naive Bayes over ``ngrams``: each n-gram seen in training adds the log
    of how much likelier a problem is to contain it than chatter (unseen ones add nothing)."""

    def __init__(self, examples: Iterable[tuple[bool, str]]) -> None:
        counts: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
        docs: Counter[bool] = Counter()
        for problem, text in examples:
            docs[problem] += 1
            counts[problem].update(ngrams(text))
        problems, chatter = docs[True] + 2 * _NB_ALPHA, docs[False] + 2 * _NB_ALPHA
        self.prior = math.log(problems / chatter)
        self.ratios = {
            gram: math.log((counts[True][gram] + _NB_ALPHA) / problems)
            - math.log((counts[False][gram] + _NB_ALPHA) / chatter)
            for gram in counts[True].keys() | counts[False].keys()
        }

    def log_odds(self, text: str) -> float:
        """How much likelier ``text`` is a problem than chatter, as a natural log."""
        return self.prior + sum(self.ratios.get(gram, 0.0) for gram in ngrams(text))


def load_examples(name: str) -> list[tuple[bool, str]]:
    """``(problem, text)`` of a shipped corpus file (``label<TAB>text`` or
    ``batch<TAB>problem|chatter<TAB>text``; ``#`` comments; ``\\n`` a line break)."""
    raw = resources.files("bot").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    blind = "blind" in name
    examples = []
    for line in raw.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t", 2 if blind else 1)
        problem = fields[1] == "problem" if blind else "problems" in name
        examples.append((problem, fields[-1].replace("\\n", "\n")))
    return examples


@functools.cache
def corpus_model() -> Ngrams:
    """The model trained on every shipped corpus file (once, at first use)."""
    return Ngrams(example for name in _DATA for example in load_examples(name))


# -- categories ----------------------------------------------------------------------------------


def _category_words(
    catalog: CategoryCatalog,
) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """Each category's words, normalized, with their weights (made once per catalogue)."""
    table = []
    for category in catalog:
        weights: dict[str, float] = {}
        for word in category.keywords:
            plain = normalize(word).strip()
            if plain:
                weights[plain] = _word_weight(plain, is_tag=False)
        for word in category.words:  # a tag or alias outweighs the same word as a keyword
            plain = normalize(word).strip()
            if plain:
                weights[plain] = _word_weight(plain, is_tag=True)
        table.append((category.key, tuple(weights.items())))
    return tuple(table)


_WORDS = PerCatalog(_category_words)


def _word_weight(word: str, is_tag: bool) -> float:
    """A longer word is more specific: 水 0.5, 漏水 1, 消防通道 2; a tag or alias 2."""
    return 2.0 if is_tag else min(len(word), 4) / 2


def category_scores(plain: str, catalog: CategoryCatalog) -> dict[str, float]:
    """Each category's score for a normalized text (categories with no word found left out)."""
    scores: dict[str, float] = {}
    for key, words in _WORDS(catalog):
        score = sum(weight for word, weight in words if word in plain)
        if score > 0:
            scores[key] = score
    return scores


def rank_categories(plain: str, catalog: CategoryCatalog) -> tuple[str, ...]:
    """The likeliest one to three categories of a normalized text, best first."""
    return _ranked(category_scores(plain, catalog), catalog)


def _ranked(scores: dict[str, float], catalog: CategoryCatalog) -> tuple[str, ...]:
    """Those scoring at least half the best (ties in catalogue order); with no word found,
    ``FALLBACK`` (or the first category)."""
    if not scores:
        fallback = tuple(k for k in FALLBACK if catalog.get(k) is not None)
        return fallback[:MAX_CANDIDATES] or (catalog.categories[0].key,)
    order = {c.key: i for i, c in enumerate(catalog)}
    best = max(scores.values())
    ranked = sorted(scores, key=lambda k: (-scores[k], order[k]))
    return tuple(k for k in ranked if scores[k] >= best / 2)[:MAX_CANDIDATES]
