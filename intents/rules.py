"""Rules that run before any model: crisis and emergency words, commands, addresses.

A crisis must never be missed, so these patterns are deliberately broad: a false alarm costs a worker a
phone call, a miss can cost a life.
"""

from __future__ import annotations

import re

from intents import Classification, Intent
from intents.numbers import NUMERAL_CHARS, to_int

_N = f"[{NUMERAL_CHARS}]+"

CRISIS_PATTERNS = [
    r"自杀|轻生|寻死|自尽|自残|自伤|割腕|上吊|跳楼|跳河|跳江|跳桥|卧轨|烧炭|喝农药|喝药",
    r"不想活|活不下去|活着没(意思|意义|劲)|活够了|不如死|想死|去死|死了算了|死了就好|一死了之|了结自己|结束(自己的?)?生命",
    r"(吃|吞|攒|囤)了?.{0,6}(安眠药|药片|一瓶药)|遗书|遗言|最后一次(跟|和)你",
    r"累赘.{0,12}(消失|不在|走了|轻松)|(消失|不在了|走了).{0,10}(大家|家人|他们).{0,6}(轻松|解脱|好过)",
    r"(从|往).{0,6}(楼|桥|窗|阳台|顶楼).{0,4}跳|跳下去|一跳了之|撞车死|割(手|脉)",
    r"怎么死|死了(就|才|算|倒)|一了百了|(站|坐|爬)(在|到|上)了?.{0,4}(天台|楼顶|窗台|桥上|桥边|江边|河边)|活腻|不活了",
    r"撑不下去|熬不下去|没有活路|不想醒来|永远睡过去|解脱了",
    r"家暴|家庭暴力|(他|她|老公|丈夫|老婆|妻子|儿子|女儿|爸|妈|男朋友|对象).{0,6}(又|天天|经常|总是|动手)?(打|踢|掐|揍)(我|了我)",
    r"被(打|揍|踢|掐)(得|了|伤)|打得(我)?(浑身|满身|全身|头破|鼻青)|威胁.{0,8}(杀|弄死|砍)|要(杀|弄死|砍死)(我|你|他|她|全家)",
    r"(虐待|打骂|体罚).{0,8}(孩子|小孩|老人)|(孩子|小孩|老人).{0,8}(被虐待|被打|身上.{0,4}伤)|性侵|猥亵|强奸",
]

EMERGENCY_PATTERNS = [
    r"着火|起火|失火|火灾|烧起来|冒(黑)?烟|浓烟|火苗|火警",
    r"煤气|燃气|天然气|液化气|瓦斯",
    r"困在电梯|电梯.{0,6}(困|关)(住|了)?.{0,4}人|被困|困住了|出不来了",
    r"(摔|跌|倒)(倒|在地).{0,8}(起不来|不动|没反应|昏)|倒地不起|起不来了|昏迷|晕倒|昏倒|没(有)?(反应|呼吸|意识)|不省人事|抽搐|心脏病(犯|发作)",
    r"(好几|几|多|[0-9两三四五六七八九十])天没(开门|出门|见人|动静|露面|下楼)|敲门.{0,6}没(人)?(应|开|反应)|一直没(人)?(应|开门)",
    r"(独居|老人|大爷|大妈|奶奶|爷爷).{0,12}(电话|手机).{0,4}(打不通|没人接)",
    r"胸口(疼|痛|闷)|心口(疼|痛)|说不出话|喘不上气|呼吸困难|嘴歪|中风|一动不动|叫不醒|大出血|血流不止",
    r"(淹|水).{0,10}有人.{0,6}(在里面|困|出不来)|有人.{0,6}(被淹|被水冲)",
    r"触电|漏电|电线.{0,6}(冒火|打火|火花|烧)|爆炸|煤气罐",
    r"(水|洪水).{0,6}(淹|漫).{0,6}(人|进屋|一楼)|(有人|孩子|小孩).{0,6}(落水|掉(进|到)?(水|河|井))",
]

_CRISIS_RE = [re.compile(p, re.IGNORECASE) for p in CRISIS_PATTERNS]
_EMERGENCY_RE = [re.compile(p, re.IGNORECASE) for p in EMERGENCY_PATTERNS]
# A gas or smoke word alone is an emergency only if something is wrong, not "燃气费怎么交".
_EMERGENCY_BENIGN = re.compile(r"(燃气|煤气|天然气)(费|卡|表|公司.{0,4}(电话|营业)|灶.{0,4}(买|换)|开户|过户|缴)")

_CHECKIN = re.compile(
    r"^\s*(签到|打卡)\s*[:：]?\s*(?P<code>\d{4,6})?\s*$|^\s*(?P<out>签退|签出)\s*[:：]?\s*(?P<code2>\d{4,6})?\s*$"
)
_QUERY = re.compile(r"^\s*(查询|查|进度)\s*[:：]?\s*(?P<code>[A-Za-z0-9]{4,10})\s*$")
_STATUS_WORDS = re.compile(
    r"我的报修|我的工单|修了(吗|没|没有)|修好了(吗|没)|(处理|办)(得)?怎么样了|有人管(吗|没)|进度"
)
_POINTS = re.compile(r"^\s*(积分|我的积分|查积分|积分查询|查.{0,2}积分)\s*$|^\s*兑换\s*(?P<item>.+)?$")
_HUMAN = re.compile(
    r"转人工|人工(客服|服务)|(找|要|联系|叫)(个)?(真人|人工|网格员|社工|工作人员|居委会的人|律师|心理(老师|咨询师|医生))|不想(跟|和)机器人"
)
_HELP = re.compile(
    r"^\s*(帮助|菜单|help|\?|？|功能|你能(干|做)(啥|什么)|怎么用|能帮我(干|做)?(啥|什么))\s*[?？!！。]*\s*$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(你好|您好|在吗|在不在|在么|hi|hello|哈喽|嗨|早上好|早|中午好|下午好|晚上好|谢谢|多谢|谢啦|谢谢你|好的|嗯|哦|ok)\s*[啊呀呢吗嘛～~!！。.?？]*\s*$",
    re.IGNORECASE,
)
_RATING = re.compile(r"^\s*(打|评|给)?\s*(?P<score>[1-5一二三四五])\s*(分|星)?\s*$")
_ADDRESS = re.compile(
    rf"(我(家)?(住|在)|住在|家住|地址是?)[^\d{NUMERAL_CHARS}]{{0,6}}(?P<building>{_N})\s*(号楼|栋|幢|号|座)"
    rf"(\s*(?P<unit>{_N})\s*(单元|门))?(\s*(?P<room>{_N})\s*(室|号)?)?"
)
_BUILDING_ONLY = re.compile(
    rf"^\s*(?P<building>{_N})\s*(号楼|栋|幢|座)(\s*(?P<unit>{_N})\s*(单元|门))?(\s*(?P<room>{_N})\s*(室|号)?)?\s*$"
)

# "用时间银行 2小时 陪我去医院": spending time-bank credits on help for oneself.
_TIME_BANK = re.compile(r"^\s*(用|花|申请|使用)?\s*时间(银行|币)\s*[:：]?\s*(?P<rest>.*)$")

# Scam patterns are legal questions (fraud) whatever else they mention (医保卡, 银行卡, 快递...).
_FRAUD = re.compile(
    r"(点|发|给).{0,4}链接|验证码|安全账户|刷单|冻结.{0,8}(解冻|链接|转账)|(冒充|自称).{0,6}(公安|警察|客服|领导)|中奖.{0,6}(手续费|转账)"
)

_SCORE = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5"}


def is_crisis(text: str) -> bool:
    return any(p.search(text) for p in _CRISIS_RE)


def is_emergency(text: str) -> bool:
    if _EMERGENCY_BENIGN.search(text) and not re.search(r"味|漏|泄|着火|爆", text):
        return False
    return any(p.search(text) for p in _EMERGENCY_RE)


_ADDRESS_FILLER = re.compile(r"[我家住在是的了啊呀哈呢嘛，,。.!！ ]|地址|那个")


def _only_an_address(text: str) -> bool:
    """ "我住3号楼2单元" tells an address; "我住3号楼，楼道灯坏了" reports a problem there."""
    match = _ADDRESS.search(text) or _BUILDING_ONLY.search(text)
    if match is None:
        return False
    rest = text[: match.start()] + text[match.end() :]
    return len(_ADDRESS_FILLER.sub("", rest)) <= 2


def parse_address(text: str) -> dict[str, str] | None:
    """Building, unit and room from "我住3号楼2单元" or a bare "5栋3单元502"."""
    match = _ADDRESS.search(text) or _BUILDING_ONLY.search(text)
    if match is None:
        return None
    found: dict[str, str] = {}
    for key in ("building", "unit", "room"):
        raw = match.group(key)
        value = to_int(raw) if raw else None
        if value is not None:
            found[key] = str(value)
    return found or None


def match_rules(text: str) -> Classification | None:
    """The intent when a rule decides it, else None (and the model decides)."""
    stripped = text.strip()
    if is_crisis(stripped):
        return Classification(Intent.CRISIS, 1.0, "rule")
    if is_emergency(stripped):
        return Classification(Intent.EMERGENCY, 1.0, "rule")
    if m := _CHECKIN.match(stripped):
        slots = {"action": "checkout" if m.group("out") else "checkin"}
        code = m.group("code") or m.group("code2")
        if code:
            slots["code"] = code
        return Classification(Intent.CHECKIN, 1.0, "rule", slots)
    if m := _QUERY.match(stripped):
        return Classification(Intent.TICKET_STATUS, 1.0, "rule", {"code": m.group("code").upper()})
    if m := _TIME_BANK.match(stripped):
        return Classification(Intent.POINTS, 1.0, "rule", {"time_bank": m.group("rest").strip()})
    if m := _POINTS.match(stripped):
        item = (m.group("item") or "").strip()
        return Classification(Intent.POINTS, 1.0, "rule", {"redeem": item} if item else {})
    if _HUMAN.search(stripped):
        return Classification(Intent.HUMAN, 1.0, "rule")
    if _HELP.match(stripped):
        return Classification(Intent.HELP, 1.0, "rule")
    if m := _RATING.match(stripped):
        score = m.group("score")
        return Classification(Intent.RATING, 1.0, "rule", {"score": _SCORE.get(score, score)})
    if (address := parse_address(stripped)) and _only_an_address(stripped):
        return Classification(Intent.SET_ADDRESS, 1.0, "rule", address)
    if _FRAUD.search(stripped):
        return Classification(Intent.LEGAL, 0.9, "rule", {"topic": "fraud"})
    if _STATUS_WORDS.search(stripped) and len(stripped) <= 20:
        return Classification(Intent.TICKET_STATUS, 0.9, "rule")
    if _GREETING.match(stripped):
        return Classification(Intent.GREETING, 1.0, "rule")
    return None
