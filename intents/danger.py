"""Danger in a resident's words, told by what is happening rather than by one noun.

"电梯坏了" names a lift, "累死了" names death, "燃气费怎么交" names gas: none of them is an emergency. A
danger is an event (someone is trapped, something is burning, a person is missing, someone hits or
threatens), a wish to die or to be gone, a plan or a means, or a goodbye. The classes of expression that
look like danger and are not are handled as classes: figurative "X死了", negation and hypotheticals ("怕着火",
"万一有人掉下去"), reported speech (news, TV, games), a danger noun without an event, and danger that is
already over ("已经关火了 没事").

Self-harm stays on the safe side: any wish to die however put, any plan or means, any goodbye is red at
once; distress without such words is `distress`, answered with care and a direct question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What the danger is; the crisis handler picks its script by this.
SELF_HARM = "self_harm"
DISTRESS = "distress"
VIOLENCE = "violence"
CHILD = "child"
THREAT = "threat"
MISSING = "missing"
HEIGHT = "height"  # someone else at the edge of a roof or a bridge
FIRE = "fire"
GAS = "gas"
FUMES = "fumes"  # coal stove, charcoal: carbon monoxide
SHOCK = "shock"
WATER = "water"  # fallen into water, a pit, a well or a septic tank
TRAPPED = "trapped"
LIFT = "lift"  # someone shut in a lift
UNRESPONSIVE = "unresponsive"  # behind a locked door, not answering
COLLAPSE = "collapse"

# Dangers to people from people (CRISIS), and physical ones (EMERGENCY).
PERSONAL = frozenset({SELF_HARM, DISTRESS, VIOLENCE, CHILD, THREAT, MISSING, HEIGHT})


@dataclass(frozen=True)
class Danger:
    kind: str
    # Another danger in the same message that the answer must not contradict (self-harm under violence).
    also: str | None = None

    @property
    def red(self) -> bool:
        return self.kind != DISTRESS


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# --- framing: reported speech, hypotheticals, danger already over -------------------------------------

# News, screens, games, rumours: the danger happened to someone in a story, not here.
_REPORTED = _any(
    r"新闻|电视(上|里|剧)|视频|抖音|快手|朋友圈|群里|网上|报纸|电影|剧里|剧中|电视剧|小说|演的|特效",
    r"游戏|王者|吃鸡|斗地主|消消乐|打牌|麻将|梦见|梦到|做梦",
    r"外地|别的小区|隔壁小区|那个小区|以前|去年|小时候|听说[^。！？!?\n]{0,6}(有个|有人|外面)",
)
# A worry or a rule, not an event: "怕着火", "万一有人掉下去", "消防演练".
_HYPOTHETICAL = r"(怕|万一|会不会|容易|以防|防止|小心|担心|如果|要是|假如|预防|避免|防)"
_DRILL = _any(r"演习|演练|培训|讲座|测试|检查|宣传|通知|知识")
_OVER = _any(
    r"已经(灭|扑灭|关|关掉|关火|关了|端下来|没事|好了|找到|回来|出来)",
    r"关火了|灭了|没事了|没事\s*$|虚惊|开窗就好|找到了|(?<![没不])回来了|到家了|(?<![没不])出来了",
)
_STILL = _any(r"还在|越来越|盖不住|灭不了|止不住|还没|一直|不停")

# "我没想过自杀", "不会想不开的", "别跳": the words are there, the wish is not.
_NEGATED_WISH = _any(
    r"(没|没有|从没|从来没|不会|不要|别|才不|并没有|不是)(有)?(想过|想要|要)?[^。！？!?\n]{0,2}(自杀|轻生|寻死|想不开|想死|跳楼|去死)",
)

# --- self-harm: a wish to die or be gone, a plan or means, a goodbye --------------------------------

_I = r"(我|俺|咱|偶|人家)"
# "想死你了", "可想死我了": missing someone, not a wish.
_MISSING_YOU = re.compile(
    r"想死(你|您|你们|他|她|他们|她们|我|咱|咱们|大家|宝贝|奶奶|爷爷|姥姥|外婆|妈|爸)(了|啦|呀|啊|喽|咯|哦|!|！|\s*$)"
)

_WISH = _any(
    r"不(想|像|要|愿意?)(再)?活|活不(下去|成了|了了)|活够了?|活腻|不活了|不想再活",
    r"不如死|死了(算了|拉倒|好了|就好|就不用|就完|就解脱|一了百了)|(我|俺)死了(大家|他们|你们|家里|就|才|也|倒)",
    r"bu\s*xiang\s*huo|xiang\s*si\b|怎么(死|去死|自杀)|(想|要|准备|打算)(去)?(跳楼|跳河|跳江|自杀|喝药|上吊|割腕)",
    r"想死|去死|寻死|寻短见|轻生|自杀|自尽|了结(自己|这条命|了?我)|结束(自己|这一切|生命|这条命|我的命)",
    r"一死了之|一了百了|死了之|不想撑了|不想再撑|到这儿吧|就到这(里|儿)(吧|了)",
    r"(不想|不要|别|不愿意?)(再)?(醒|睁开)|永远睡过去|再也不(要|想)?醒|一觉不醒|睡过去(就)?(别|不)",
    rf"{_I}(要是|如果|哪天|明天|有一天|万一|走了|\s)*[^。！？!?\n]{{0,3}}不在了",
    rf"{_I}[^。！？!?\n]{{0,8}}消失(了|掉)?[^。！？!?\n]{{0,12}}(没人|没有人|不会有人|谁也|都|轻松|解脱)",
    r"(早点|早些|早早)?(走了|死了|去了)(就|也|才)?(解脱|轻松|好了)|解脱了",
    r"(想|要|也想)(去)?(陪|找|跟)(我)?(老伴儿?|老头子?|老婆子?|老太婆|孩子他爸|他|她)(一块儿?|一起)?(去|走)?了?",
    r"(跟|随)(着)?(他|她|老伴儿?|老头子?)(一块儿?|一起)?(去|走)了",
    r"(?<![他她它伴爸妈])(消失|不在了|走了|死了|没了)[^。！？!?\n]{0,10}(大家|家人|家里|他们|你们|孩子|儿女|都)[^。！？!?\n]{0,6}(轻松|解脱|好过|省心|省事|清净)",
    r"(老天爷?|阎王)[^。！？!?\n]{0,6}(收走|带走|收了)|怎么不(把我|让我)(死|收|带走)",
    r"活着[^。！？!?\n]{0,4}(没意思|没意义|没劲|没盼头|有什么意思|有啥意思)[^。！？!?\n]{0,6}(不想|死|走)",
)
# Somewhere to stay with a spouse who is alive: "我要去陪老伴了 他住院".
_ALIVE_COMPANY = _any(r"住院|医院|陪床|病房|看病|手术|出差|旅游|北京|上海|下周|几天|过年|照顾|带孙|接送")
_MEANS = _any(
    r"(攒|囤|存|备|准备|买)(了|好|够|着|下)?[^。！？!?\n]{0,8}(药|农药|敌敌畏|百草枯|老鼠药)",
    r"药[^。！？!?\n]{0,6}(攒|囤|存|准备|备)(好|够|齐|下)?了?",
    r"药[^。！？!?\n]{0,8}(吞|喝|吃)下去|(吞|喝|吃)(了|下|光)?[^。！？!?\n]{0,3}(一整?瓶|整瓶|一把|一板|全部)",
    r"(一把|一整?瓶|剩下的)[^。！？!?\n]{0,6}药[^。！？!?\n]{0,4}(吞|喝|吃)|药[^。！？!?\n]{0,4}(都|全)?(吞|喝|吃)了算了",
    r"(喝|吃)(农药|敌敌畏|百草枯|老鼠药|安眠药)|今晚就(吃|喝|走)|今晚就不等了",
    r"绳子[^。！？!?\n]{0,10}(买好|准备好|挂|系|拴|套)|上吊|割腕|割(手|脉)|(刀|刀片)[^。！？!?\n]{0,6}(手腕|割自己|划自己)",
    r"烧炭|炭[^。！？!?\n]{0,8}(买好|准备|烧|点)|卧轨|撞车死",
    r"跳(楼|河|江|桥|湖|海|下去)|往下跳|从[^。！？!?\n]{0,8}(楼|窗|阳台|桥|顶)[^。！？!?\n]{0,4}跳",
    rf"{_I}(现在|正|已经|一个人)?(就)?(在|站在|坐在|爬到|爬上|上了|到了|去)(了)?[^。！？!?\n]{{0,4}}(楼顶|天台|顶楼|窗台|桥上|桥边|江边|河边|湖边|海边|楼边)",
    rf"{_I}(现在|正|已经|一个人)?(在|站在|坐在)阳台[^。！？!?\n]{{0,8}}(往下|跳|边上)",
)
_GOODBYE = _any(
    r"遗书|遗言|绝笔|后事[^。！？!?\n]{0,4}(交代|安排|准备|都)|寿衣",
    r"留(了|下)?(一)?(封|几句|几行)(信|话)|信[^。！？!?\n]{0,3}写好了|写了[^。！？!?\n]{0,6}(信|话)[^。！？!?\n]{0,4}留给",
    r"(以后|往后)?(别|不用|不要)(再)?(惦记|挂念|记挂|找)我了?|以后就靠你们了|(帮|替)我(照顾|照看)",
    r"存折[^。！？!?\n]{0,10}密码|密码是你|房(本|子|产证)[^。！？!?\n]{0,6}(留给|在抽屉|在柜)|(妈|爸|我)[^。！？!?\n]{0,2}对不起你",
    r"先走一步|最后(跟|和)(你|您|你们)?(说|讲)|最后一次(跟|和)?|永别|下辈子",
    r"(要是|如果|哪天|万一)(我|俺)?(走了|不在了|没了)",
    r"不(再)?拖累[^。！？!?\n]{0,6}了|省得拖累|(以后|往后)[^。！？!?\n]{0,4}用不着了|(这回|这次|真的)(是)?(真的)?要走了",
)

# --- distress without words of death: caring reply, direct question, yellow notice ---------------------

_DISTRESS_STRONG = _any(
    r"(撑|熬|扛|挺)不(下去|住)了?|(撑|熬|扛|挺)不(下去|住)|过不下去|活不下去",
    r"活着[^。！？!?\n]{0,3}(好|太|真|真的|挺)?累|活得[^。！？!?\n]{0,3}(好|太|真)?累|活着[^。！？!?\n]{0,4}(没意思|没意义|没劲|多余|遭罪|受罪)",
    r"绝望|没(有)?(一点|一丝)?(希望|盼头|活路|奔头)|看不到(一点)?(希望|头)|崩溃|(希望|盼头|奔头|活路)[^。！？!?\n]{0,4}(都)?没(有)?",
    r"(我|自己)(就)?是(个)?(废物|累赘|没用的人|多余的)|(废物|累赘)一个|活着(都)?多余|想不开",
    r"心里[^。！？!?\n]{0,3}苦|苦(得很|啊|死了)|活受罪[^。！？!?\n]{0,4}(不如|还不如)",
)
_DISTRESS_WEAK = (
    _any(r"(天天|每天|整天|一直|老是|总是|晚上)[^。！？!?\n]{0,6}哭|好想哭|哭(肿|了一晚|了一夜)|以泪洗面"),
    _any(
        r"没(有)?人(管|理|在乎|关心|说话)我?|不(晓得|知道)(跟|和|找)(谁|哪个)说|没人能说|一个人[^。！？!?\n]{0,6}(对着墙|没人)"
    ),
    _any(r"(好|太|真|很)?难受(得很|好难受)|憋得(难受|慌)|心里[^。！？!?\n]{0,3}(空落落|堵得慌|憋|慌)|喘不过气来"),
    _any(r"不(知道|晓得)(该|要)?(怎么|咋|咋个)(办|活)了"),
)

# --- people in danger from people ------------------------------------------------------------------

_FAMILY = (
    r"(老公|丈夫|男人|爱人|老婆|媳妇|妻子|儿子|女儿|闺女|儿媳妇?|女婿|前夫|前妻|前男友|男朋友|男友|对象|那口子|孩子他爸|"
    r"我爸|我妈|公公|婆婆|老头子?|他|她)"
)
_HIT = r"(打|揍|踢|踹|掐|抽|扇|砸|推|勒|拽|咬|烫)"
_ANIMAL = r"(狗|猫|蚊子|虫|蜂|蛇|老鼠|鹅|鸡|猴)"
_VIOLENCE = _any(
    r"家暴|家庭暴力|施暴",
    rf"{_FAMILY}[^。！？!?\n]{{0,12}}(动手|打人|{_HIT}(我|俺|人|她|他|我闺女|我妈|我爸)(?!电话|手机|微信|视频)|掐[^。！？!?\n]{{0,2}}脖子|{_HIT}得)",
    # An animal's bite or scratch ("被狗咬了谁来赔") is a question, not violence.
    rf"被(?![^。！？!?\n]{{0,3}}{_ANIMAL}){_FAMILY}?[^。！？!?\n]{{0,3}}{_HIT}(了|得|伤|肿|青|出血)",
    r"(打|揍|掐|抽|砸)得[^。！？!?\n]{0,8}(肿|青|紫|流血|出血|听不见|头破|鼻青|伤|站不起)|(打|揍|抽|扇)(肿|伤|青|紫|出血|流血)",
    r"(打|扇|抽)(了)?[^。！？!?\n]{0,6}(耳光|巴掌|嘴巴子)|打完[^。！？!?\n]{0,8}(说|保证|发誓)[^。！？!?\n]{0,6}(下次|再也)不",
    rf"{_FAMILY}[^。！？!?\n]{{0,16}}(弄死|杀了|打死|砍死|整死|宰了|捅死|打断[^。！？!?\n]{{0,3}}腿|泼[^。！？!?\n]{{0,3}}硫酸|卸[^。！？!?\n]{{0,3}}(腿|胳膊))",
    r"(拿|提|举|抄)(着|起)?(刀|菜刀|砍刀|酒瓶子?|板凳|凳子|棍子|斧头|皮带)[^。！？!?\n]{0,6}(砸|打|抽|砍|追|捅|骂)",
    rf"{_HIT}的(印子|伤|痕|疤)|(脖子|身上|胳膊|脸|腿)[^。！？!?\n]{{0,6}}(都是)?[^。！？!?\n]{{0,4}}{_FAMILY}?[^。！？!?\n]{{0,2}}{_HIT}(的|出来的)",
    r"(锁|关)在(屋|家|房)里?[^。！？!?\n]{0,10}不让(我)?(出门|出去)|手机[^。！？!?\n]{0,4}(被他|被她)?(抢|摔|砸)了?[^。！？!?\n]{0,8}(打|不让|敢)",
    r"(躲在|躲到|躲进|跑到)[^。！？!?\n]{0,10}(他|她|老公|男人)[^。！？!?\n]{0,8}(砸门|踹门|打|追)|(砸门|踹门)[^。！？!?\n]{0,12}躲|躲[^。！？!?\n]{0,12}(砸门|踹门)",
    r"(两口子|夫妻|男的|女的)[^。！？!?\n]{0,6}打起来[^。！？!?\n]{0,12}救命|打起来了[^。！？!?\n]{0,10}(喊救命|见血)",
)
_KID = r"(孩子|小孩|娃娃|娃儿|娃|崽崽?|孙子|孙女|小女孩|小男孩|小姑娘|儿童|学生|宝宝)"
# A child shut in or out is in danger when it is cold, hungry, alone for long or crying.
_NEGLECT = r"(光着?脚|冻|哭|大冬天|零下|饿|好几个?(小时|钟头)|一晚上|大人[^。！？!?\n]{0,6}(几天|好几天|没|不))"
_CHILD = _any(
    rf"(打|揍|抽|踹|踢|扇|掐|虐待|打骂|体罚|绑|拿[^。！？!?\n]{{0,4}}(抽|打))(了)?(他家|她家|自己家?|一个)?的?{_KID}",
    rf"{_KID}[^。！？!?\n]{{0,12}}(被[^。！？!?\n]{{0,4}}(打|揍|抽|踹|虐待|绑|关|锁|烫)|身上[^。！？!?\n]{{0,6}}(伤|青|紫|血印|烫)|(喊|叫|哭)[^。！？!?\n]{{0,6}}(别打|救命|我错了))",
    r"(喊|哭喊|哭着喊|叫)[^。！？!?\n]{0,6}(别打了|别打我|妈妈别打|我错了|不要打)",
    rf"{_KID}[^。！？!?\n]{{0,20}}(不给[^。！？!?\n]{{0,3}}(饭|吃)|饿得|(锁|关)在(屋|家|阳台|门外|屋头)[^。！？!?\n]{{0,16}}{_NEGLECT}|光着?脚)",
    rf"不给[^。！？!?\n]{{0,3}}{_KID}[^。！？!?\n]{{0,3}}(饭|吃)",
    rf"{_KID}[^。！？!?\n]{{0,12}}(胳膊|腿|脸|身上|背上|手上)[^。！？!?\n]{{0,8}}(伤|青|紫|血印|烫|印子)",
    rf"性侵|猥亵|强奸|摸[^。！？!?\n]{{0,2}}{_KID}|拉[^。！？!?\n]{{0,2}}{_KID}[^。！？!?\n]{{0,8}}没人",
    rf"{_KID}[^。！？!?\n]{{0,16}}(吼|喊)[^。！？!?\n]{{0,4}}(打死你|弄死你)",
)
_THREAT = _any(
    r"跟踪|根踪|尾随|盯梢|被人跟|(有人|有个人|男的|女的|陌生人|车)[^。！？!?\n]{0,8}跟(着|了)我|跟(了|着)我(一路|好几天|回家|到)|一路跟着|跟到(小区|家|楼下|门口)",
    r"(蹲|堵)(我|在我)|跟上来",
    r"撬(门|锁|我家)|(门锁|锁)[^。！？!?\n]{0,3}被(人)?撬|拧[^。！？!?\n]{0,6}门把|翻(进来|窗|墙进)|爬进来",
    r"(有人|有个人|陌生人|男的)[^。！？!?\n]{0,10}(窗户?外|门外|门口|楼道)[^。！？!?\n]{0,12}(晃|转悠|徘徊|站|敲门|瞅|看|不说话)",
    r"(门外|门口|窗外|楼道)[^。！？!?\n]{0,6}(有人|有个人|陌生人|男的)[^。！？!?\n]{0,12}(敲门|转悠|徘徊|不说话|不走|站了|瞅|猫眼)",
    r"弄死|杀了我|砍死|捅死|打死我|整死|宰了我|卸[^。！？!?\n]{0,3}(腿|胳膊)|泼[^。！？!?\n]{0,3}(硫酸|汽油)|要(我|你)的命|让我小心点|知道我(住|家|孩子|在哪)",
    r"(拿|提|举)(着)?(刀|菜刀|砍刀|斧头|棍子)[^。！？!?\n]{0,12}(砍|捅|杀|人|挥|喊|追)|持刀|写[^。！？!?\n]{0,3}杀字|泼[^。！？!?\n]{0,2}油漆",
)
_PERSON_GONE = r"(老人|老头|老太|老爷子|老太太|奶奶|爷爷|外公|外婆|姥姥|姥爷|爸|妈|娘|爹|老伴|孩子|小孩|娃|崽|孙子|孙女|儿子|女儿|闺女)"
_MISSING = _any(
    rf"{_PERSON_GONE}[^。！？!?\n]{{0,24}}(走丢|走失|丢了|不见了|找不(到|着|见)|失踪|跑丢|离家出走|联系不上)",
    r"(跑|溜)出(来|去)了?[^。！？!?\n]{0,10}(找不|到现在)",
    r"走丢了|走失了|离家出走",
    rf"{_PERSON_GONE}[^。！？!?\n]{{0,30}}(到现在|还没|一直没|都没|没)(回|到家)",
    r"找遍了?[^。！？!?\n]{0,4}(都)?(没|不)",
    rf"一转眼[^。！？!?\n]{{0,6}}{_PERSON_GONE}?[^。！？!?\n]{{0,4}}(不见|没了)",
)
# "没回来" alone is a worry only with a sign that it is late or the person is vulnerable.
_MISSING_WORRY = _any(
    r"到现在|天黑|一夜|一晚上|半天|找遍|找了|找不|到处|都(几|[0-9一二三四五六七八九十两]+)(点|个钟头|小时)|钟头了|小时了",
    r"电话[^。！？!?\n]{0,4}(不接|打不通|关机|没人接)|痴呆|糊涂|阿尔(兹|茨)海默|不认路|学校说|不见了|走丢|走失|离家出走|丢了|失踪",
)
_HEIGHT = _any(
    r"(有人|有个人|一个人|个人|女的|男的|小伙子?|姑娘|老人)[^。！？!?\n]{0,8}(站|坐|爬|蹲)(在)?[^。！？!?\n]{0,6}(楼顶|天台|顶楼|窗台|桥上|护栏外|楼边|边上)",
    r"(楼顶|天台|顶楼|窗台|桥上)[^。！？!?\n]{0,6}(站|坐|蹲)着[^。！？!?\n]{0,4}(个)?人",
    r"(像|好像|看着像)要跳|要跳楼",
)

# --- physical dangers ---------------------------------------------------------------------------

_COOKING = _any(r"锅|炒|炖|煮|烙|蒸|烤|煎|饭|菜|肉|饼|汤|辣椒|烤箱|做饭|油烟")
_HABITUAL = _any(r"天天|每天|经常|总是|老是|又在|常年|每次")
_SMOKE_SOURCES = _any(r"烧纸|烧烤|烧垃圾|烧秸秆|油烟|抽烟|吸烟|烟头|香烟|烟味")
_FLAME = _any(
    r"(?<![不打点])着火|起火|失火|火灾|烧起来|烧着了|着起来",
    r"(屋|房|家|阳台|楼|车|厨房|锅|屋里|里面|窗户|窗口|那边|楼上|楼下|仓库|库房)(里|子)?着了",
    r"冒(黑|白|浓)?烟|浓烟|好多烟|全是烟|一屋子烟|好大的烟|烟[^。！？!?\n]{0,3}(往上|往外|窜|呛人|越来越|看不清)",
    r"火苗|火星|火光|冒火|蹿火|明火|火好大|火很大|火太大|电线[^。！？!?\n]{0,6}(冒火|打火|火花|烧)|火花|爆炸",
)
_SCORCH = _any(r"烧焦|焦糊|焦味|糊味|烧糊|胶皮味|塑料[^。！？!?\n]{0,6}(烧|糊|焦)|焦臭")
_STOVE_FLAME = _any(r"(灶|炉|热水器|壁挂炉|打火)[^。！？!?\n]{0,8}(火苗|火小|火大|打火|点火|熄火)|火苗是(黄|红)的")

_GAS_WORD = r"(燃气|煤气|天然气|液化气|然气|瓦斯|沼气)"
_GAS = _any(
    rf"{_GAS_WORD}[^。！？!?\n]{{0,6}}(味|漏|泄|嘶|冒气|呲)|(漏|泄)[^。！？!?\n]{{0,2}}{_GAS_WORD}",
    r"臭鸡蛋",
    r"(罐|管|阀|灶|表|软管|厨房|嘶嘶)[^。！？!?\n]{0,10}漏气|漏气[^。！？!?\n]{0,6}(嘶|声)|(阀门?)[^。！？!?\n]{0,4}关不上[^。！？!?\n]{0,8}(冒气|漏)",
)
_FUMES = _any(
    r"一氧化碳|煤气中毒",
    r"(煤炉|炉子|炭火|蜂窝煤|烧煤|烤火|火盆|煤球)[^。！？!?\n]{0,20}(头(疼|痛|晕)|恶心|想吐|吐了|晕|没力气|迷糊|昏)",
)
_SHOCK = _any(r"触电|被电(着|到|打)|电(着|到)了")
_PLACE_WET = r"(河|湖|江|海|水|塘|池|沟|井|坑|化粪池|粪池|窨井|下水道|污水井|检查井|冰窟窿?|水库)"
_SOMEONE = r"((修|掏|清|干活|施工)[^，。\s]{0,4}的|人|孩子|小孩|娃|老人|老头|老太|老太太|工人|孙子|孙女|婆婆|我妈|我爸|他|她|儿子|女儿|一个)"
_WATER = _any(
    rf"{_SOMEONE}[^。！？!?\n]{{0,10}}掉(进|到|下|入)?(了)?[^。！？!?\n]{{0,10}}{_PLACE_WET}",
    rf"{_PLACE_WET}[^。！？!?\n]{{0,14}}{_SOMEONE}[^。！？!?\n]{{0,6}}掉(下去|进去|了)",
    rf"{_PLACE_WET}[^。！？!?\n]{{0,14}}掉(下去|进去)(了)?(一个|个)?{_SOMEONE}",
    r"(淹|漫|进水|发大水)[^。！？!?\n]{0,12}(有人|人还在|还有人|老人|孩子)|(有人|人)[^。！？!?\n]{0,6}(被淹|被水冲|困在水)",
    r"落水|溺水|淹(着|了|死)?(人|孩子|小孩)|(在)?水里[^。！？!?\n]{0,6}(扑腾|漂|沉|挣扎)|沉下去|在[^。！？!?\n]{0,4}(扑腾)",
    r"(下|进)(了)?(化粪池|污水井|窨井|检查井|下水道|井|池)[^。！？!?\n]{0,10}(没上来|没出来|晕|不动)|没上来",
)
_LIFT_STUCK = _any(
    r"电梯[^。！？!?\n]{0,12}(困|卡|停|掉|不动|关|坏|打不开)|(困|关|卡)在电梯|电梯困人|电梯门[^。！？!?\n]{0,4}(夹|卡)"
)
_LIFT_PERSON = _any(
    r"里面有人|里头有人|在里面|在里头|我在(电梯)?里|被(困|关)|困(人|住|在)|出不来|出不去|在喊|有人在",
    r"(我|我妈|我爸|老人|孩子|小孩|孙女|孙子|老太太|几个人)(在)?(里面|里头)|卡在[^。！？!?\n]{0,6}缝|手指|夹(住|到)",
    r"我(跟|和)[^。！？!?\n]{0,6}(在)?里(头|面)",
)
_LIFT_EMPTY = _any(r"没人|没有人|刚出来|已经出来|出来了|还好我")
_TRAPPED = _any(
    r"(困|锁|关|卡|压|埋)(在|住|到)[^。！？!?\n]{0,14}(出不来|出不去|打不开|开不了|拔不出|救命|下面|底下|零下|晒着|没电)",
    r"(压住|埋住|压在|埋在)(了)?[^。！？!?\n]{0,8}(一个)?人|(墙|房子?|棚|顶)(子)?[^。！？!?\n]{0,4}塌[^。！？!?\n]{0,8}(人|压|埋)",
    r"卡(在|住)(了)?[^。！？!?\n]{0,8}(缝|防盗窗|栏杆|护栏)|反锁在[^。！？!?\n]{0,6}(卫生间|厕所|屋|房)",
    r"被困|困住了|(关|锁)在(冷库|地下室|车里|车内)[^。！？!?\n]{0,8}",
)
_LOCKED_OUT = _any(r"(锁|关)在(门|屋)外|进不去|钥匙")
_UNRESPONSIVE = _any(
    r"(好几|几|多|[0-9两三四五六七八九十])天没(开门|出门|见人|动静|露面|下楼)",
    r"敲(门|了)[^。！？!?\n]{0,8}没(人)?(应|开|反应|动静)|敲了半天[^。！？!?\n]{0,4}(没|不)|门[^。！？!?\n]{0,6}反锁[^。！？!?\n]{0,14}(没动静|不应|不接)",
    r"(独居|一个人住|老人|大爷|大妈|奶奶|爷爷)[^。！？!?\n]{0,14}(电话|手机)[^。！？!?\n]{0,4}(打不通|没人接|不接)",
)
_COLLAPSE = _any(
    r"(倒|摔|跌|晕|昏|栽)(倒|了|在|地|过去|下)[^。！？!?\n]{0,10}(起不来|不动|没反应|叫不醒|不应|不答应|没气|没呼吸|不省人事|动不了|昏)",
    r"倒地|晕倒|昏倒|晕过去|昏过去|昏迷|晕了过去|叫不醒|叫(他|她)?(也)?不(应|答应|醒)|叫[^。！？!?\n]{0,3}没(有)?反应",
    r"没(有)?(呼吸|意识|气了)|不喘气|不省人事|抽搐|抽(起来|风)|口吐白沫",
    r"嘴(巴)?(也)?歪|口(眼)?歪|说话[^。！？!?\n]{0,2}(不清|含糊|不利索)|说不(清|出话)|半边(身子|身体|脸)|一边(身子)?没力气|(手|脚)[^。！？!?\n]{0,6}不听使唤|拿不住(筷子|东西|碗)",
    r"胸口[^。！？!?\n]{0,6}(疼|痛|闷|压)|心口[^。！？!?\n]{0,4}(疼|痛)|喘不上(来)?气|呼吸困难|冒冷汗|一身冷汗|噎住|卡住喉咙|脸(都|憋)?(憋)?紫",
    r"血[^。！？!?\n]{0,3}(止不住|流不止|流了一地|喷)|大出血|起不来了?|动不了|躺(在)?地上|一动不动|躺[^。！？!?\n]{0,10}(不动|没反应)",
)
_NOT_COLLAPSE = _any(r"赖床|起不来床|早上起不来|电梯|车子?动不了|手机|按钮|刷卡|表没反应|打火")


_WORRY = re.compile(r"(?<![害可])怕|万一|会不会|容易|以防|防止|担心|如果|要是|假如|预防|避免|危险")
# Laughter: "笑死我了 …被锁在门外了 哈哈哈" tells a funny story.
_LAUGHTER = _any(r"哈哈|呵呵|嘻嘻|😂|🤣|笑死")


def _hypothetical(text: str, match: re.Match[str], *, inside: bool = False) -> bool:
    """The danger word sits in a worry ("怕着火", "井盖松了 怕有人掉下去") rather than an event."""
    span = text[max(0, match.start() - 8) : match.end() if inside else match.start()]
    return _WORRY.search(span) is not None


def _real(pattern: re.Pattern[str], text: str, *, inside: bool = False) -> bool:
    """A match that is an event here, not a worry."""
    return any(not _hypothetical(text, m, inside=inside) for m in pattern.finditer(text))


def _self_harm(text: str, *, reported: bool) -> bool:
    if _NEGATED_WISH.search(text) and not _MEANS.search(text) and not _GOODBYE.search(text):
        return False
    for match in _WISH.finditer(text):
        word = match.group(0)
        if word.startswith("想死") and _MISSING_YOU.match(text, match.start()):
            continue
        if ("陪" in word or "跟" in word or "随" in word) and _ALIVE_COMPANY.search(text):
            continue
        if reported and re.match(r"(自杀|轻生|自尽|寻死)", word):
            continue
        return True
    if reported:
        # Someone in the news jumped; only the resident's own goodbye still counts.
        return _GOODBYE.search(text) is not None
    return bool(_MEANS.search(text) or _GOODBYE.search(text))


def _distress(text: str) -> bool:
    text = _NEGATED_WISH.sub("", text)
    if _DISTRESS_STRONG.search(text):
        return True
    return sum(1 for p in _DISTRESS_WEAK if p.search(text)) >= 2


def _fire(text: str) -> bool:
    if _DRILL.search(text) and not _STILL.search(text):
        return False
    if _STOVE_FLAME.search(text) and not re.search(r"着火|起火|烧起来|冒烟", text):
        return False
    habitual_smoke = _HABITUAL.search(text) and _SMOKE_SOURCES.search(text)
    over = _OVER.search(text) and not _STILL.search(text)
    if _real(_FLAME, text, inside=True):
        return not (habitual_smoke or (over and _COOKING.search(text)) or re.search(r"抽烟|吸烟|烟头", text))
    if _SCORCH.search(text):
        return not (_COOKING.search(text) or habitual_smoke or over)
    return False


def _gas(text: str) -> bool:
    return _real(_GAS, text) and not (_OVER.search(text) and not _STILL.search(text))


def _lift(text: str) -> bool:
    return bool(_LIFT_STUCK.search(text) and _LIFT_PERSON.search(text) and not _LIFT_EMPTY.search(text))


def _trapped(text: str) -> bool:
    if _LOCKED_OUT.search(text) or (_OVER.search(text) and not _STILL.search(text)):
        return False
    return _real(_TRAPPED, text) and not re.search(r"追剧|看电视|玩手机|自己关", text)


def _missing(text: str) -> bool:
    if re.search(r"找到了|回来了|到家了|虚惊|(一般|平时|说好|说)[^。！？!?\n]{0,8}(点|才)回", text):
        return False
    if re.search(
        r"(猫|狗|鸟|鹦鹉|宠物|钥匙|卡|手机|钱包|快递|车)(咪|子|儿)?[^。！？!?\n]{0,3}(走丢|丢了|不见|找不)", text
    ):
        return False
    return bool(_MISSING.search(text) and _MISSING_WORRY.search(text))


def _collapse(text: str) -> bool:
    if not _COLLAPSE.search(text):
        return False
    if _NOT_COLLAPSE.search(text) and not re.search(r"倒|摔|跌|晕|昏|叫不醒|不应|呼吸|抽|胸口|嘴歪", text):
        return False
    return not re.search(r"(以前|上次|去年|那年)[^。！？!?\n]{0,4}(摔|跌|倒)", text)


def find_danger(text: str) -> Danger | None:
    """What danger the message describes, if any; None for everything else (however alarming its nouns)."""
    text = text.strip()
    if not text:
        return None
    reported = bool(_REPORTED.search(text))
    violence = not reported and (_VIOLENCE.search(text) is not None)
    if _self_harm(text, reported=reported):
        return Danger(SELF_HARM, also=VIOLENCE if violence else None)
    if reported or _LAUGHTER.search(text):
        return Danger(DISTRESS) if _distress(text) else None
    checks = (
        (HEIGHT, lambda t: _HEIGHT.search(t) is not None),
        # Shut in a car or a cold store is a rescue first, whoever did it.
        (TRAPPED, lambda t: re.search(r"(关|锁|困)在(车里|车内|冷库|地下室)", t) is not None),
        (CHILD, lambda t: _CHILD.search(t) is not None),
        (VIOLENCE, lambda t: violence),
        (THREAT, lambda t: _real(_THREAT, t)),
        (MISSING, _missing),
        (FIRE, _fire),
        (GAS, _gas),
        (FUMES, lambda t: _FUMES.search(t) is not None),
        (SHOCK, lambda t: _SHOCK.search(t) is not None),
        (WATER, lambda t: _real(_WATER, t, inside=True)),
        (LIFT, _lift),
        (TRAPPED, _trapped),
        (UNRESPONSIVE, lambda t: _UNRESPONSIVE.search(t) is not None),
        (COLLAPSE, _collapse),
    )
    for kind, check in checks:
        if check(text):
            return Danger(kind)
    return Danger(DISTRESS) if _distress(text) else None
