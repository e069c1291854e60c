"""知识库: search the entries, write or edit one with a preview of the bot's answer, and the questions
residents asked that the bot could not answer, each one click from a new entry.

Entries written here go into the workers' "console" collection through handlers.knowledge (each change
bumps the version every server watches, so every server answers with it within seconds). The team's
reviewed entries ("default") are shown, not edited: they follow the YAML files; a worker copies one into
a new entry instead.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import page
from handlers import knowledge
from handlers.faq import render_entry
from knowledge_base.entries import DEFAULT_COLLECTION, Entry
from storage import console_kb as store
from storage import knowledge as kb

router = APIRouter(prefix="/console")

COLLECTION = "console"
DOMAINS = {"legal": "法律", "psych": "心理", "service": "办事"}
HOW = {"handover": "转了人工", "choices": "没答准（给了选项）"}
UNANSWERED_DAYS = 90
MAX_PARAPHRASES = 20


def _values(entry: kb.KnowledgeEntry | None, **given: str) -> dict[str, str]:
    if entry is None:
        return {"domain": "service", "question": "", "paraphrases": "", "answer": "", "community": ""} | given
    return {
        "domain": entry.domain,
        "question": entry.question,
        "paraphrases": "\n".join(entry.paraphrases or []),
        "answer": entry.answer,
        "community": "",
    } | given


@router.get("/kb")
def kb_home(request: Request, viewer: ViewerDep, q: str = "", domain: str = "", notice: str = "") -> Response:
    services = services_of(request)
    audit(services, request, viewer, action="read")  # the unanswered questions are residents' words
    domain = domain if domain in DOMAINS else ""
    since = services.clock() - timedelta(days=UNANSWERED_DAYS)
    with services.sessions.begin() as session:
        entries = store.search_entries(session, text=q[:64], domain=domain) if q.strip() or domain else []
        missed = store.unanswered_questions(
            session, community_ids=sorted({r.community_id for r in viewer.reach}), since=since
        )
        context = {
            "viewer": viewer,
            "active": "kb",
            "q": q[:64],
            "domain": domain,
            "domains": DOMAINS,
            "entries": entries,
            "missed": [
                (m, "/console/kb/new?" + urlencode({"question": m.question[:200], "domain": m.domain})) for m in missed
            ],
            "how": HOW,
            "team": DEFAULT_COLLECTION,
            "notice": notice[:300],
        }
        return page(request, "kb.html", context)


@router.get("/kb/new")
def new_entry(request: Request, viewer: ViewerDep, question: str = "", domain: str = "") -> Response:
    values = _values(None, question=question[:200], domain=domain if domain in DOMAINS else "service")
    return _form(request, viewer, values, entry=None)


def _form(
    request: Request,
    viewer: Viewer,
    values: dict[str, str],
    *,
    entry: kb.KnowledgeEntry | None,
    warn: str = "",
    notice: str = "",
) -> Response:
    context: dict[str, Any] = {
        "viewer": viewer,
        "active": "kb",
        "values": values,
        "entry": entry,
        "editable": entry is None or entry.collection == COLLECTION,
        "domains": DOMAINS,
        "warn": warn,
        "notice": notice,
        "preview": _render(values),
    }
    return page(request, "kb_entry.html", context, status_code=400 if warn else 200)


@router.get("/kb/entry/{collection}/{entry_id}")
def edit_entry(request: Request, collection: str, entry_id: str, viewer: ViewerDep, notice: str = "") -> Response:
    with services_of(request).sessions.begin() as session:
        entry = kb.kb_entry(session, collection=collection[:64], entry_id=entry_id[:128])
        if entry is None:
            raise HTTPException(404, "没有这条知识")
        community = ""
        if entry.community_id is not None:
            info = viewer.community(entry.community_id)
            community = info.code if info else ""
        return _form(request, viewer, _values(entry, community=community), entry=entry, notice=notice[:300])


def _entry(values: dict[str, str], entry_id: str) -> Entry:
    paraphrases = tuple(line.strip()[:200] for line in values["paraphrases"].splitlines() if line.strip())
    return Entry(
        id=entry_id,
        domain=values["domain"],
        question=values["question"].strip(),
        answer=values["answer"].strip(),
        paraphrases=paraphrases[:MAX_PARAPHRASES],
        collection=COLLECTION,
        community=values["community"],
        source="console",
    )


def _render(values: dict[str, str]) -> str:
    if not values["answer"].strip():
        return ""
    return render_entry(_entry(values, "preview"))


def _problems(values: dict[str, str], viewer: Viewer) -> list[str]:
    problems = []
    if values["domain"] not in DOMAINS:
        problems.append("请选择类别。")
    if not 2 <= len(values["question"].strip()) <= 200:
        problems.append("问题请写 2 到 200 个字。")
    if not 2 <= len(values["answer"].strip()) <= 2000:
        problems.append("回答请写 2 到 2000 个字。")
    if values["community"] and values["community"] not in {c.code for c in viewer.communities}:
        problems.append("只能为您负责的社区写专门的条目。")
    if len([x for x in values["paraphrases"].splitlines() if x.strip()]) > MAX_PARAPHRASES:
        problems.append(f"其他问法最多 {MAX_PARAPHRASES} 条。")
    if "\x00" in "".join(values.values()):
        problems.append("内容里有无法保存的字符。")
    return problems


@router.post("/kb/preview")
def preview(
    request: Request,
    viewer: ChangeDep,
    domain: Annotated[str, Form(max_length=16)] = "service",
    question: Annotated[str, Form(max_length=400)] = "",
    answer: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    values = _values(None, domain=domain if domain in DOMAINS else "service", question=question, answer=answer)
    text = _render(values)
    return HTMLResponse(
        f"<pre class='bot-answer'>{escape(text)}</pre>"
        if text
        else "<p class='muted'>写好回答后这里显示居民会收到的内容。</p>"
    )


@router.post("/kb/save")
def save_entry(
    request: Request,
    viewer: ChangeDep,
    entry_id: Annotated[str, Form(max_length=128)] = "",
    domain: Annotated[str, Form(max_length=16)] = "",
    question: Annotated[str, Form(max_length=400)] = "",
    paraphrases: Annotated[str, Form(max_length=5000)] = "",
    answer: Annotated[str, Form(max_length=4000)] = "",
    community: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    services = services_of(request)
    values = {
        "domain": domain,
        "question": question,
        "paraphrases": paraphrases,
        "answer": answer,
        "community": community,
    }
    now = services.clock()
    with services.sessions.begin() as session:
        existing = kb.kb_entry(session, collection=COLLECTION, entry_id=entry_id) if entry_id else None
        if entry_id and existing is None:
            raise HTTPException(404, "没有这条知识，或它不是工作台里写的条目")
        problems = _problems(values, viewer)
        if problems:
            return _form(request, viewer, values, entry=existing, warn=" ".join(problems))
        new_id = entry_id or f"c-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        if existing is not None:
            # Replaced in one transaction: servers see either the old entry or the new one, never neither.
            knowledge.remove_entry(session, entry_id=new_id, collection=COLLECTION, now=now)
        knowledge.add_entry(session, _entry(values, new_id), now=now)
    verb = "已保存修改" if existing is not None else "已新建"
    notice = f"{verb}。几秒钟内机器人就会用它回答居民。"
    return RedirectResponse(f"/console/kb/entry/{COLLECTION}/{quote(new_id)}?notice={quote(notice)}", status_code=303)
