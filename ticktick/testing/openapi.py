"""The fake Open API V1: projects and tasks in memory, behind `FakeTickTick`.

It follows TickTick's documented behaviour closely enough to test clients: required
fields are checked (400), unknown ids answer 404, dates must be in TickTick's format,
deleting a project deletes its tasks, ``inbox`` names the inbox, and errors come in
TickTick's JSON shape (``errorCode``, ``errorMessage``). The bearer token is checked
by the server before a request gets here.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["FakeOpenAPI"]

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
PRIORITIES = (0, 1, 3, 5)
VIEW_MODES = ("list", "kanban", "timeline")
KINDS = ("TASK", "NOTE")

Answer = tuple[int, Any]
JSON = dict[str, Any]


class _BadRequest(Exception):
    """A request the real API would refuse with 400; the message explains why."""


class _Missing(Exception):
    """An id the real API would answer 404 for."""


def _new_id() -> str:
    return secrets.token_hex(12)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())


def _parse_date(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise _BadRequest(f"{field} must be a date string like 2019-11-13T03:00:00+0000")
    try:
        return datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        raise _BadRequest(
            f"{field} must be in the format yyyy-MM-dd'T'HH:mm:ssZ, not {value!r}"
        ) from None


def _string(body: JSON, field: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise _BadRequest(f"{field} is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise _BadRequest(f"{field} must be a non-empty string")
    return value


def _string_list(body: JSON, field: str) -> list[str] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _BadRequest(f"{field} must be a list of strings")
    return value


def _int_list(body: JSON, field: str) -> list[int] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    ):
        raise _BadRequest(f"{field} must be a list of integers")
    return value


_PROJECT_FIELDS = ("name", "color", "sortOrder", "viewMode", "kind")
_TASK_FIELDS = (
    "title",
    "content",
    "desc",
    "isAllDay",
    "startDate",
    "dueDate",
    "timeZone",
    "reminders",
    "repeatFlag",
    "priority",
    "sortOrder",
    "items",
    "tags",
)


class FakeOpenAPI:
    """In-memory projects and tasks, answering Open API V1 requests."""

    def __init__(self) -> None:
        self.inbox_id = "inbox" + secrets.token_hex(5)
        self.projects: dict[str, JSON] = {}
        self.tasks: dict[str, JSON] = {}
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
            ("GET", re.compile(r"/project"), self._list_projects),
            ("POST", re.compile(r"/project"), self._create_project),
            ("GET", re.compile(r"/project/([^/]+)"), self._get_project),
            ("POST", re.compile(r"/project/([^/]+)"), self._update_project),
            ("DELETE", re.compile(r"/project/([^/]+)"), self._delete_project),
            ("GET", re.compile(r"/project/([^/]+)/data"), self._project_data),
            ("GET", re.compile(r"/project/([^/]+)/task/([^/]+)"), self._get_task),
            ("DELETE", re.compile(r"/project/([^/]+)/task/([^/]+)"), self._delete_task),
            ("POST", re.compile(r"/project/([^/]+)/task/([^/]+)/complete"), self._complete_task),
            ("POST", re.compile(r"/task/move"), self._move_tasks),
            ("POST", re.compile(r"/task/completed"), self._completed_tasks),
            ("POST", re.compile(r"/task/filter"), self._filter_tasks),
            ("POST", re.compile(r"/task"), self._create_task),
            ("POST", re.compile(r"/task/([^/]+)"), self._update_task),
        ]

    def handle(self, method: str, path: str, body: bytes) -> Answer:
        """Answer one request to *path* (below ``/open/v1``) with ``(status, JSON or None)``."""
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                try:
                    payload = json.loads(body) if body else None
                except ValueError:
                    return 400, _error("invalid_request", "The body is not valid JSON")
                try:
                    with self._lock:
                        return handler(payload, *match.groups())
                except _BadRequest as exc:
                    return 400, _error("invalid_request", str(exc))
                except _Missing as exc:
                    return 404, _error("not_found", str(exc))
        return 404, _error("not_found", f"No endpoint {method} {path}")

    # -- helpers ----------------------------------------------------------------------

    def _project(self, project_id: str) -> JSON:
        if project_id in ("inbox", self.inbox_id):
            return {"id": self.inbox_id, "name": "Inbox", "kind": "TASK", "viewMode": "list"}
        project = self.projects.get(project_id)
        if project is None:
            raise _Missing(f"Project {project_id} not found")
        return project

    def _task(self, project_id: str, task_id: str) -> JSON:
        project = self._project(project_id)
        task = self.tasks.get(task_id)
        if task is None or task["projectId"] != project["id"]:
            raise _Missing(f"Task {task_id} not found in project {project_id}")
        return task

    @staticmethod
    def _object(payload: object) -> JSON:
        if not isinstance(payload, dict):
            raise _BadRequest("The body must be a JSON object")
        return payload

    @staticmethod
    def _project_fields(body: JSON) -> JSON:
        fields = {key: body[key] for key in _PROJECT_FIELDS if key in body}
        if "viewMode" in fields and fields["viewMode"] not in VIEW_MODES:
            raise _BadRequest(f"viewMode must be one of {list(VIEW_MODES)}")
        if "kind" in fields and fields["kind"] not in KINDS:
            raise _BadRequest(f"kind must be one of {list(KINDS)}")
        return fields

    @staticmethod
    def _task_fields(body: JSON) -> JSON:
        fields = {key: body[key] for key in _TASK_FIELDS if key in body}
        for date_field in ("startDate", "dueDate"):
            if date_field in fields:
                _parse_date(fields[date_field], date_field)
        if "priority" in fields and fields["priority"] not in PRIORITIES:
            raise _BadRequest(f"priority must be one of {list(PRIORITIES)}")
        return fields

    # -- projects ---------------------------------------------------------------------

    def _list_projects(self, payload: object) -> Answer:
        return 200, list(self.projects.values())

    def _create_project(self, payload: object) -> Answer:
        body = self._object(payload)
        _string(body, "name", required=True)
        project = {
            "id": _new_id(),
            "color": "",
            "closed": False,
            "groupId": None,
            "viewMode": "list",
            "permission": "write",
            "kind": "TASK",
            "sortOrder": 0,
            **self._project_fields(body),
        }
        self.projects[project["id"]] = project
        return 200, project

    def _get_project(self, payload: object, project_id: str) -> Answer:
        return 200, self._project(project_id)

    def _update_project(self, payload: object, project_id: str) -> Answer:
        body = self._object(payload)
        if "name" in body:
            _string(body, "name", required=True)
        project = self.projects.get(project_id)
        if project is None:
            raise _Missing(f"Project {project_id} not found")
        project.update(self._project_fields(body))
        return 200, project

    def _delete_project(self, payload: object, project_id: str) -> Answer:
        if self.projects.pop(project_id, None) is None:
            raise _Missing(f"Project {project_id} not found")
        for task_id in [key for key, task in self.tasks.items() if task["projectId"] == project_id]:
            del self.tasks[task_id]
        return 200, None

    def _project_data(self, payload: object, project_id: str) -> Answer:
        project = self._project(project_id)
        undone = [
            task
            for task in self.tasks.values()
            if task["projectId"] == project["id"] and task["status"] == 0
        ]
        return 200, {"project": project, "tasks": undone, "columns": []}

    # -- tasks ------------------------------------------------------------------------

    def _get_task(self, payload: object, project_id: str, task_id: str) -> Answer:
        return 200, self._task(project_id, task_id)

    def _create_task(self, payload: object) -> Answer:
        body = self._object(payload)
        _string(body, "title", required=True)
        project_id = _string(body, "projectId", required=True)
        assert project_id is not None  # noqa: S101 - required=True
        project = self._project(project_id)
        task = {
            "id": _new_id(),
            "projectId": project["id"],
            "status": 0,
            "priority": 0,
            "sortOrder": 0,
            "isAllDay": False,
            "items": [],
            **self._task_fields(body),
        }
        self.tasks[task["id"]] = task
        return 200, task

    def _update_task(self, payload: object, task_id: str) -> Answer:
        body = self._object(payload)
        if _string(body, "id", required=True) != task_id:
            raise _BadRequest("id in the body must match the task id in the path")
        project_id = _string(body, "projectId", required=True)
        assert project_id is not None  # noqa: S101 - required=True
        if "title" in body:
            _string(body, "title", required=True)
        task = self._task(project_id, task_id)
        task.update(self._task_fields(body))
        return 200, task

    def _complete_task(self, payload: object, project_id: str, task_id: str) -> Answer:
        task = self._task(project_id, task_id)
        task["status"] = 2
        task["completedTime"] = _now()
        return 200, None

    def _delete_task(self, payload: object, project_id: str, task_id: str) -> Answer:
        del self.tasks[self._task(project_id, task_id)["id"]]
        return 200, None

    def _move_tasks(self, payload: object) -> Answer:
        if not isinstance(payload, list):
            raise _BadRequest("The body must be a list of moves")
        moves = [self._object(move) for move in payload]
        for move in moves:
            for field in ("fromProjectId", "toProjectId", "taskId"):
                _string(move, field, required=True)
            self._task(move["fromProjectId"], move["taskId"])
            self._project(move["toProjectId"])
        answers = []
        for move in moves:
            task = self.tasks[move["taskId"]]
            task["projectId"] = self._project(move["toProjectId"])["id"]
            answers.append({"id": task["id"], "etag": secrets.token_hex(4)})
        return 200, answers

    def _selected(self, body: JSON, date_field: str) -> list[JSON]:
        project_ids = _string_list(body, "projectIds")
        start = _parse_date(body["startDate"], "startDate") if "startDate" in body else None
        end = _parse_date(body["endDate"], "endDate") if "endDate" in body else None
        wanted = None if project_ids is None else {self._project(p)["id"] for p in project_ids}
        chosen = []
        for task in self.tasks.values():
            if wanted is not None and task["projectId"] not in wanted:
                continue
            if start is not None or end is not None:
                if date_field not in task:
                    continue
                when = _parse_date(task[date_field], date_field)
                if (start is not None and when < start) or (end is not None and when > end):
                    continue
            chosen.append(task)
        return chosen

    def _completed_tasks(self, payload: object) -> Answer:
        body = self._object(payload)
        return 200, [t for t in self._selected(body, "completedTime") if t["status"] == 2]

    def _filter_tasks(self, payload: object) -> Answer:
        body = self._object(payload)
        priorities = _int_list(body, "priority")
        statuses = _int_list(body, "status")
        tags = _string_list(body, "tag")
        chosen = []
        for task in self._selected(body, "startDate"):
            if priorities is not None and task.get("priority", 0) not in priorities:
                continue
            if statuses is not None and task.get("status", 0) not in statuses:
                continue
            if tags is not None and not set(tags) & set(task.get("tags", [])):
                continue
            chosen.append(task)
        return 200, chosen


def _error(code: str, message: str) -> JSON:
    return {
        "errorId": secrets.token_hex(4),
        "errorCode": code,
        "errorMessage": message,
        "data": None,
    }
