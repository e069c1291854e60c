"""Volunteer sign-up by message: name, mobile number (encrypted at rest), skills, availability, consent."""

from __future__ import annotations

import re
import unicodedata

from handlers.base import UNHANDLED, Context, Outcome
from handlers.faq import FaqHandler
from handlers.flows import VOLUNTEER_SIGNUP, VolunteerSignup
from handlers.messages import Inbound, TextReply
from handlers.privacy import encrypt_phone
from handlers.residents import community_needed
from handlers.slots import SLOT_MAX_CHARS, asks_something, consent, is_cancel, name_in, pause
from intents import Classification, Intent
from storage import repositories as repo
from storage import volunteers as vrepo
from storage.models import DialogueState

# Commands a resident may type in the middle of the form; they leave the form rather than fill it.
_COMMANDS = frozenset({Intent.CHECKIN, Intent.POINTS, Intent.TICKET_STATUS, Intent.HUMAN, Intent.HELP})
_CANCEL = re.compile(r"^\s*(取消|算了|不报了|不填了|退出|不想当了)\s*[。.!！]*\s*$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# "社区乒乓球台可以预约吗" asks about a place, not to volunteer: a question without these words is a question.
_ABOUT_VOLUNTEERING = re.compile(r"志愿|义工|报名|帮忙|出力|出份力|服务|参加|加入|当")
_NONE = re.compile(r"^\s*(没有|无|没|都不会|没什么(特长|技能)?|不会|暂无)\s*[。.!！]*\s*$")

# In priority order: a pattern's words are removed before the next pattern looks, so a
# "心理医生" is a counsellor and not also a doctor, and "电脑维修" is computers, not appliances.
SKILL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("psychological", re.compile(r"心理(咨询师?|医生|老师|辅导|疏导|学)?")),
    ("legal", re.compile(r"律师|法律|法务|法官|法学|调解")),
    ("caregiving", re.compile(r"照护|护理老人|陪护|陪伴|照顾老人|养老|助老")),
    ("medical", re.compile(r"医生|医师|护士|大夫|医疗|医护|药师|护理|康复|急救")),
    ("electrical", re.compile(r"电工|水电|电路|电气")),
    ("computer", re.compile(r"电脑|手机|网络|程序|软件|IT", re.IGNORECASE)),
    ("teaching", re.compile(r"老师|教师|辅导|教学|家教|教书|讲课")),
    ("repair", re.compile(r"维修|修理|家电|水管|木工|修")),
)

ASK_NAME = "感谢您愿意为社区出份力！报名只要几步，随时发“取消”可以退出。\n请问您怎么称呼？（姓名）"
ASK_PHONE = "请留一个手机号，方便活动时联系您（只有社区工作人员能看到）："
ASK_SKILLS = (
    "您有什么专长吗？比如律师、医生、心理咨询、老师、电工、家电维修、电脑手机、照护老人……可以写几样，没有就回“没有”。"
)
ASK_AVAILABILITY = "您一般什么时候有空？比如“周末上午”“工作日晚上”："
ASK_CONSENT = "最后一步：您同意社区工作人员在有活动或需要帮忙时联系您吗？回复“同意”或“不同意”。"
# What each step waits for, said again when the form is paused.
_STEP_QUESTIONS = {
    "name": "请问您怎么称呼？",
    "phone": "还差一个手机号。",
    "skills": "还差您的专长（没有就回“没有”）。",
    "availability": "还差您一般什么时候有空。",
    "consent": "还差一步：同意社区工作人员联系您吗？",
}


def normalize_mobile(text: str) -> str | None:
    """A mainland mobile number from what a resident types ("138 0013 8000", "+86-13800138000"), or None."""
    digits = unicodedata.normalize("NFKC", text)
    digits = re.sub(r"[\s\-()（）]", "", digits)
    digits = re.sub(r"^(\+?86)(?=1\d{10}$)", "", digits)
    return digits if _MOBILE.match(digits) else None


def map_skills(text: str) -> dict[str, str]:
    """Free text to the skill vocabulary (storage.volunteers.SKILLS), each with what the resident wrote."""
    if _NONE.match(text):
        return {}
    detail = text.strip()[:200]
    remaining = text
    found: dict[str, str] = {}
    for skill, pattern in SKILL_PATTERNS:
        if pattern.search(remaining):
            found[skill] = detail
            remaining = pattern.sub(" ", remaining)
    if not found and detail:
        found["other"] = detail
    return found


def parse_yes_no(text: str) -> bool | None:
    return consent(text)


def _describe_skills(skills: list[str]) -> str:
    return "、".join(vrepo.SKILLS.get(s, s) for s in skills) or "暂无"


class VolunteerHandler:
    """Starts the sign-up form, and resumes it one answer at a time."""

    def handle(self, ctx: Context, msg: Inbound, cls: Classification) -> Outcome:
        existing = vrepo.volunteer_for_resident(ctx.session, resident_id=ctx.resident.id)
        if existing is not None:
            skills = vrepo.skills_of(ctx.session, volunteer_id=existing.id)
            return TextReply(
                f"{existing.name}，您已经是登记的志愿者了（专长：{_describe_skills(skills)}）。"
                "发“最近有什么活动”看看可以参加的活动，发“我这个月的时长”查服务时长。"
            )
        if cls.source != "rule" and asks_something(msg.text) and not _ABOUT_VOLUNTEERING.search(msg.text):
            return FaqHandler().handle(ctx, msg, cls)
        asked = community_needed(ctx, pending_text=msg.text, why="报名志愿者要先知道您住在哪个社区。")
        if asked is not None:
            return asked
        ctx.start_flow(VOLUNTEER_SIGNUP, "name", VolunteerSignup())
        return TextReply(ASK_NAME)

    def resume(self, ctx: Context, msg: Inbound, cls: Classification, state: DialogueState) -> Outcome:
        if msg.kind not in ("text", "voice") or not msg.text.strip():
            return TextReply("请直接打字回答，发“取消”可以退出报名。")
        data = VOLUNTEER_SIGNUP.read(state.data)
        if data is None:
            ctx.end_dialogue()
            return UNHANDLED
        text = msg.text.strip()
        if _CANCEL.match(text) or is_cancel(text):
            ctx.end_dialogue()
            return TextReply("好的，已取消报名。以后想参加，随时发“我想当志愿者”。")
        step = state.step
        answer = self._answer(ctx, step, text, data, cls)
        if answer is not None:
            return answer
        # Not an answer to what we asked (a question, a command, a story): handled as itself, and the form
        # waits with what is filled in.
        pause(
            ctx, VOLUNTEER_SIGNUP, step, data, f"志愿者报名还没填完，{_STEP_QUESTIONS.get(step, '')}想退出就回“取消”。"
        )
        return UNHANDLED

    def _answer(
        self, ctx: Context, step: str, text: str, data: VolunteerSignup, cls: Classification
    ) -> TextReply | None:
        """The next question once `text` fills the step's slot; None when it is not an answer."""
        if cls.source == "rule" and cls.intent in _COMMANDS:
            return None
        if step == "name":
            name = name_in(text)
            # "幸福里": the community they live in, not what to call them.
            if name is None or any(name in c.name for c in repo.list_communities(ctx.session)):
                return None
            data.name = name
            ctx.start_flow(VOLUNTEER_SIGNUP, "phone", data)
            return TextReply(f"好的，{name}。" + ASK_PHONE)
        if step == "phone":
            phone = normalize_mobile(text)
            if phone is None:
                if re.fullmatch(r"[\d\s\-+()（）]{5,20}", text):
                    return TextReply("这个号码好像不对，请发 11 位手机号，比如 13812345678：")
                return None
            # Only the ciphertext is kept, even in the half-finished form.
            data.phone_encrypted = encrypt_phone(ctx.settings.secret_key, phone)
            ctx.start_flow(VOLUNTEER_SIGNUP, "skills", data)
            return TextReply(ASK_SKILLS)
        if len(text) > SLOT_MAX_CHARS * 2 or asks_something(text):
            return None
        if step == "skills":
            data.skills = map_skills(text)
            ctx.start_flow(VOLUNTEER_SIGNUP, "availability", data)
            return TextReply(ASK_AVAILABILITY)
        if step == "availability":
            data.availability = text[:200]
            ctx.start_flow(VOLUNTEER_SIGNUP, "consent", data)
            return TextReply(ASK_CONSENT)
        if step == "consent":
            agreed = consent(text)
            if agreed is None:
                return None
            ctx.end_dialogue()
            if not agreed:
                return TextReply("好的，尊重您的选择，这次就不登记了，您的信息也没有保存。欢迎随时来参加社区活动！")
            return self._register(ctx, data)
        return None

    def _register(self, ctx: Context, data: VolunteerSignup) -> TextReply:
        if not data.name or not data.phone_encrypted:
            return TextReply("抱歉，报名信息不完整，请重新发“我想当志愿者”再填一次。")
        skills = data.skills
        volunteer, created = vrepo.register_volunteer(
            ctx.session,
            resident_id=ctx.resident.id,
            community_id=ctx.community_id,
            name=data.name,
            phone_encrypted=data.phone_encrypted,
            skills=dict(skills),
            availability=data.availability or "",
            now=ctx.now,
        )
        if not created:
            return TextReply(f"{volunteer.name}，您已经是登记的志愿者了。")
        return TextReply(
            f"登记好了，{volunteer.name}！专长：{_describe_skills(sorted(skills))}；有空时间：{volunteer.availability}。\n"
            "发“最近有什么活动”报名参加，活动现场发“签到 四位签到码”签到，结束时发“签退”。"
        )
