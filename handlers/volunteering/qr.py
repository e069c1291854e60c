"""The venue's QR code: a PNG carrying a WeChat scene code (scanning it checks in) or the check-in text.

The scene code is drawn after the activity is committed, so no transaction waits on WeChat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from storage import activities as arepo

log = logging.getLogger(__name__)

# A WeChat scene QR checks the scanner in; temporary scene codes live at most 30 days.
CHECKIN_SCENE_PREFIX = "checkin-"
MAX_SCENE_QR_SECONDS = 30 * 24 * 3600
# Draws a WeChat scene QR code: (scene string, seconds valid) -> the content to encode.
SceneQr = Callable[[str, int], str]


def write_qr(activity: arepo.Activity, data_dir: Path, content: str | None = None) -> Path:
    """A PNG for the venue: a WeChat scene code when `content` is one (scanning checks in), else the
    check-in text residents would otherwise type."""
    import segno

    folder = data_dir / "activities"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"activity-{activity.id}-{activity.checkin_code}.png"
    segno.make(content or f"签到 {activity.checkin_code}", error="m").save(str(path), scale=8, border=2)
    return path


def _scene_qr_content(activity: arepo.Activity, now: datetime, scene_qr: SceneQr | None) -> str | None:
    if scene_qr is None:
        return None
    seconds = int((activity.ends_at - now).total_seconds()) + 3600
    if seconds > MAX_SCENE_QR_SECONDS:
        log.info("activity %s ends more than 30 days away; its QR carries the check-in text", activity.id)
        return None
    try:
        return scene_qr(f"{CHECKIN_SCENE_PREFIX}{activity.id}", max(seconds, 60))
    except Exception:
        # The activity matters more than the kind of QR code: fall back to the text one.
        log.warning("could not create a WeChat scene QR for activity %s", activity.id, exc_info=True)
        return None


def use_scene_qr(
    sessions: sessionmaker[Session], *, data_dir: Path, scene_qr: SceneQr | None, activity_id: int, now: datetime
) -> str | None:
    """Redraw a new activity's QR as a WeChat scene code, so scanning it checks in; the new path, or None
    when the text QR stays (no official account configured, or WeChat failed). Called after the activity
    is committed: no transaction waits on WeChat."""
    with sessions.begin() as session:
        activity = session.get(arepo.Activity, activity_id)
        if activity is None:
            return None
        session.expunge(activity)
    content = _scene_qr_content(activity, now, scene_qr)
    if content is None:
        return None
    path = str(write_qr(activity, data_dir, content))
    with sessions.begin() as session:
        stored = session.get(arepo.Activity, activity_id)
        if stored is not None:
            stored.qr_path = path
    return path


def activity_for_scene(session: Session, scene: str) -> arepo.Activity | None:
    """The activity a check-in scene code ("checkin-12") stands for, if the scene is one."""
    number = scene.removeprefix(CHECKIN_SCENE_PREFIX)
    if not scene.startswith(CHECKIN_SCENE_PREFIX) or not number.isdigit():
        return None
    return session.get(arepo.Activity, int(number))
