"""A keyword classifier: the fallback when no trained model is loaded, and a cross-check for it."""

from __future__ import annotations

from intents import Classification, Intent

KEYWORDS: dict[Intent, tuple[str, ...]] = {
    Intent.GRIEVANCE: (
        "坏了", "不亮", "漏水", "渗水", "堵了", "堵塞", "积水", "停电", "停水", "电梯", "路灯", "垃圾",
        "占用", "消防通道", "乱停", "噪音太", "太吵", "臭", "流浪狗", "破了", "塌", "裂", "反映", "投诉",
        "报修", "维修", "一闪一闪", "没人管", "广场舞", "堆放", "种菜", "漏", "坑",
    ),
    Intent.LEGAL: (
        "法律", "律师", "起诉", "合同", "赔偿", "违法", "犯法", "离婚", "继承", "遗嘱", "房东", "押金",
        "工资", "辞退", "仲裁", "借钱", "欠钱", "诈骗", "骗", "退款", "维权", "告他", "权利", "判",
        "抚养", "赡养", "补偿", "责任", "物业费", "车位", "咬伤", "高空抛物",
    ),
    Intent.PSYCH: (
        "睡不着", "失眠", "焦虑", "抑郁", "难过", "心情", "压力", "烦", "孤独", "寂寞", "哭", "崩溃",
        "心慌", "害怕", "紧张", "吵架", "想不开", "没意思", "伤心", "去世", "走了", "郁闷", "叛逆", "游戏",
    ),
    Intent.SERVICE: (
        "低保", "补贴", "居住证", "残疾证", "医保", "社保", "养老金", "户口", "身份证", "证明", "怎么办理",
        "在哪办", "在哪里办", "办理", "申请", "高龄", "报销", "盖章", "开证明",
    ),
    Intent.VOLUNTEER_SIGNUP: ("志愿者", "志愿服务", "当志愿", "做志愿", "帮忙出份力", "义务"),
    Intent.ACTIVITY: ("活动", "报名", "讲座", "课程"),
    Intent.POINTS: ("积分", "兑换", "奖励"),
}


def classify_by_keywords(text: str) -> Classification:
    scores = {intent: sum(1 for word in words if word in text) for intent, words in KEYWORDS.items()}
    best = max(scores, key=lambda intent: scores[intent])
    if scores[best] == 0:
        return Classification(Intent.UNKNOWN, 0.3, "keywords")
    total = sum(scores.values())
    return Classification(best, round(scores[best] / total * 0.8, 3), "keywords")
