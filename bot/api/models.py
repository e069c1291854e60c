"""What the office API accepts and answers: pydantic models, with bounds taken from the database columns.

Every string the API takes is `Text`: no NUL characters (PostgreSQL refuses them in text) and no lone
surrogates (they cannot be encoded); every number has the bounds of the column it lands in, and floats
refuse NaN and infinity. Bodies take JSON's own types: `"5"` is not a capacity and `1` is not a date.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    WithJsonSchema,
)

from handlers.volunteering.rules import ActivityKind
from storage.tickets import STATUSES

# PostgreSQL INTEGER and BIGINT; SQLite stores both in 64 bits.
INT_MAX = 2_147_483_647
BIGINT_MAX = 9_223_372_036_854_775_807

# Column lengths (storage/*.py).
CODE_LENGTH = 64  # community.code
WORKER_LENGTH = 64  # WeCom userids: ticket.assignee, ledger_entry.worker, voucher.used_by
TICKET_CODE_LENGTH = 8
VOUCHER_CODE_LENGTH = 16
BUILDING_LENGTH = 32
TITLE_LENGTH = 200
PLACE_LENGTH = 200
REASON_LENGTH = 500
NOTE_LENGTH = 1000

# Told to clients in the schema, so a generated example never holds what the validator refuses.
_NO_NUL = "^[^\\x00]*$"


def _plain_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    return value


def _words(value: str) -> str:
    if not _plain_text(value).strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, AfterValidator(_plain_text), Field(json_schema_extra={"pattern": _NO_NUL})]
# Text that says something: not only spaces.
Words = Annotated[
    str, AfterValidator(_words), Field(min_length=1, json_schema_extra={"pattern": "^[^\\x00]*[^\\x00\\s][^\\x00]*$"})
]

_MONTH = re.compile(r"20[0-9]{2}-(0[1-9]|1[0-2])")


def _month(value: str) -> str:
    if _MONTH.fullmatch(value) is None:
        raise ValueError("month must look like 2026-11 (a year from 2000 to 2099)")
    return value


Month = Annotated[
    str,
    AfterValidator(_month),
    WithJsonSchema(
        {"type": "string", "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])$", "minLength": 7, "maxLength": 7},
        mode="validation",
    ),
]

CommunityCode = Annotated[Text, Field(min_length=1, max_length=CODE_LENGTH, description="community code")]
WorkerId = Annotated[
    Text,
    Field(
        max_length=WORKER_LENGTH,
        description="the WeCom userid acting; required with the admin token, a worker's own key acts as its owner",
    ),
]
TicketStatus = Literal[STATUSES]  # type: ignore[valid-type]
Colour = Literal["red", "yellow", "blue"]


def _whole_number(value: object) -> object:
    # JSON has one kind of number: 260.0 is an integer to a JSON schema, "260" and true are not.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


Capacity = Annotated[int, Field(ge=1, le=INT_MAX), BeforeValidator(_whole_number)]
Radius = Annotated[int, Field(ge=10, le=INT_MAX), BeforeValidator(_whole_number)]


class Body(BaseModel):
    """A request body: numbers and booleans are JSON numbers and booleans (no "5"), never NaN or infinity."""

    model_config = ConfigDict(allow_inf_nan=False)


# --- errors ----------------------------------------------------------------------------------------


class Problem(BaseModel):
    """Every refusal but malformed input (422): what was refused and why, for the worker reading it."""

    detail: str


class ActionRefused(Problem):
    """A ticket action that was refused and changed nothing; `message` is what WeCom would have said."""

    ok: Literal[False] = False
    message: str


# --- tickets ---------------------------------------------------------------------------------------


class TicketOut(BaseModel):
    code: str
    community_id: int
    category: str
    colour: str
    status: str
    place: str
    building: str | None
    unit: str | None
    description: str
    assignee: str | None
    escalation_level: int
    latest_note: str | None
    rating: int | None
    due_at: datetime
    overdue: bool
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


class EventOut(BaseModel):
    actor: str
    action: str
    note: str | None
    data: dict[str, Any]
    at: datetime


class TicketDetail(TicketOut):
    events: list[EventOut]


class TicketList(BaseModel):
    tickets: list[TicketOut]


class ActionIn(Body):
    worker: WorkerId = ""
    note: Annotated[Text, Field(max_length=NOTE_LENGTH)] = ""


class ProgressIn(ActionIn):
    note: Annotated[Words, Field(max_length=NOTE_LENGTH)]


class TransferIn(ActionIn):
    to: Annotated[Words, Field(max_length=WORKER_LENGTH, description="the WeCom userid taking over")]


class ActionDone(BaseModel):
    ok: Literal[True] = True
    message: str
    ticket: TicketOut | None = None


# --- activities ------------------------------------------------------------------------------------

# Activities are planned in this century. One pattern says which times are valid, to pydantic and in the
# schema alike: RFC 3339 with a time zone, real calendar days (29 February in leap years only), years 2000
# to 2099, so every conversion to UTC stays in range.
_DAY = (
    "(20[0-9]{2}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    "|02-(0[1-9]|1[0-9]|2[0-8]))|20(0[048]|[2468][048]|[13579][26])-02-29)"
)
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
_ZONE = "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_DATETIME = f"^{_DAY}T{_TIME}{_ZONE}$"
_DATETIME_RE = re.compile(_DATETIME.removeprefix("^").removesuffix("$"))


def _written_out(value: object) -> object:
    if not isinstance(value, str) or _DATETIME_RE.fullmatch(value) is None:
        raise ValueError("must be a date and time with its time zone, e.g. 2026-12-01T09:00+08:00, in 2000 to 2099")
    return value


ActivityTime = Annotated[
    AwareDatetime,
    BeforeValidator(_written_out),
    WithJsonSchema({"type": "string", "pattern": _DATETIME}, mode="validation"),
    Field(description="with a time zone, e.g. 2026-12-01T09:00+08:00; between the years 2000 and 2099"),
]


class ActivityIn(Body):
    title: Annotated[Words, Field(max_length=TITLE_LENGTH)]
    kind: ActivityKind
    start: ActivityTime
    end: ActivityTime = Field(description="after the start")
    place: Annotated[Text, Field(max_length=PLACE_LENGTH)] = ""
    community: CommunityCode | None = None
    capacity: Capacity | None = None
    latitude: Annotated[StrictFloat, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[StrictFloat, Field(ge=-180, le=180)] | None = None
    radius_m: Radius | None = None
    time_bank: StrictBool = False
    worker: WorkerId = ""


class ActivityOut(BaseModel):
    id: int
    title: str
    kind: str
    place: str
    start: datetime
    end: datetime
    capacity: int | None
    joined: int
    checkin_code: str
    status: str
    community_id: int | None
    requires_location: bool
    time_bank: bool
    qr_path: str | None


# --- ledger, vouchers, report ----------------------------------------------------------------------


class ReverseIn(Body):
    reason: Annotated[Words, Field(max_length=REASON_LENGTH)]
    worker: WorkerId = ""


class ReversalOut(BaseModel):
    id: int
    reverses: int
    amount: int
    unit: str


class VoucherUseIn(Body):
    worker: WorkerId = ""
    community: CommunityCode | None = None


class VoucherOut(BaseModel):
    code: str
    used_at: datetime | None


class ReportLine(BaseModel):
    name: str
    hours: float
    sessions: int
    points: int
