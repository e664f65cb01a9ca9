"""The shapes of TickTick Open API V1 values, as typed dicts.

They are plain dicts at run time, with TickTick's own (camelCase) keys, so
values go to and from JSON unchanged. Fields TickTick may omit are optional.

Dates travel as strings in TickTick's format, ``yyyy-MM-dd'T'HH:mm:ssZ``
(``2019-11-13T03:00:00+0000``); the client also accepts `datetime.datetime`
wherever a date is sent. Task ``priority`` is 0 (none), 1 (low), 3 (medium) or 5
(high); task ``status`` is 0 (open) or 2 (completed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

__all__ = [
    "ChecklistItem",
    "Column",
    "Project",
    "ProjectData",
    "ProjectFields",
    "Task",
    "TaskFields",
    "TaskMove",
]

Date = str | datetime
"""A date as TickTick writes it, or a ``datetime`` (converted when sent)."""


class _ChecklistItemRequired(TypedDict):
    title: str


class ChecklistItem(_ChecklistItemRequired, total=False):
    """A subtask of a task."""

    id: str
    status: int
    completedTime: str
    isAllDay: bool
    sortOrder: int
    startDate: str
    timeZone: str


class _TaskRequired(TypedDict):
    id: str
    projectId: str
    title: str


class Task(_TaskRequired, total=False):
    """A task, as TickTick returns it."""

    content: str
    desc: str
    isAllDay: bool
    startDate: str
    dueDate: str
    timeZone: str
    reminders: list[str]
    repeatFlag: str
    priority: int
    status: int
    completedTime: str
    sortOrder: int
    items: list[ChecklistItem]
    tags: list[str]


class TaskFields(TypedDict, total=False):
    """Fields that can be set when creating or updating a task."""

    title: str
    content: str
    desc: str
    isAllDay: bool
    startDate: Date
    dueDate: Date
    timeZone: str
    reminders: list[str]
    repeatFlag: str
    priority: int
    sortOrder: int
    items: list[ChecklistItem]
    tags: list[str]


class _ProjectRequired(TypedDict):
    id: str
    name: str


class Project(_ProjectRequired, total=False):
    """A project (a list), as TickTick returns it."""

    color: str
    closed: bool
    groupId: str | None
    viewMode: str
    permission: str
    kind: str
    sortOrder: int


class ProjectFields(TypedDict, total=False):
    """Fields that can be set when creating or updating a project."""

    name: str
    color: str
    sortOrder: int
    viewMode: Literal["list", "kanban", "timeline"]
    kind: Literal["TASK", "NOTE"]


class _ColumnRequired(TypedDict):
    id: str
    projectId: str
    name: str


class Column(_ColumnRequired, total=False):
    """A kanban column of a project."""

    sortOrder: int


class ProjectData(TypedDict):
    """A project with its undone tasks and its columns."""

    project: Project
    tasks: list[Task]
    columns: list[Column]


class TaskMove(TypedDict):
    """One move for [`move_tasks`][ticktick.api.OpenAPI.move_tasks]."""

    fromProjectId: str
    toProjectId: str
    taskId: str
