"""The whole life of a token against the fake TickTick server (``make demo``).

Needs no TickTick account and no network: it starts `FakeTickTick` on
127.0.0.1 and shows, step by step, where each token comes from. Tokens are shown
only as a short fingerprint, never in full.

Run it with ``python -m ticktick.testing.demo``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

# Runs this Python on the demo's own script.
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path

from ..api import OpenAPI
from ..oauth2 import OAuth2
from .server import FakeTickTick

_EXPIRED_CHILD = """
import sys
from ticktick import OAuth2, ReauthorizationRequired
try:
    OAuth2("{client_id}", "{client_secret}", "{redirect_uri}", host="{host}",
           cache_path=sys.argv[1])
except ReauthorizationRequired as exc:
    print(f"ReauthorizationRequired: {{exc}}")
    sys.exit(1)
"""


def fingerprint(token: str) -> str:
    """A short, one-way fingerprint to tell tokens apart without showing them."""
    return "#" + hashlib.sha256(token.encode()).hexdigest()[:8]


def _step(number: int, title: str) -> None:
    print(f"\n{number}. {title}")


def run(workdir: Path) -> int:
    """Run the demo in *workdir*; return the exit status."""
    cache = workdir / "demo" / ".token-oauth"
    with FakeTickTick(auto_approve=True) as fake:
        print(f"Fake TickTick listening on {fake.url} (loopback only).")

        _step(1, "Sign-on: a person clicks Allow (auto-approved here), the code is exchanged.")
        oauth = fake.oauth2(cache_path=cache)
        token = oauth.get_access_token()
        mode = stat.S_IMODE(cache.stat().st_mode)
        print(f"   token {fingerprint(token)} from {oauth.token_source}")
        print(f"   cache written to {cache} with mode {mode:04o}")
        print(f"   token requests so far: {fake.token_requests}")
        print(f"   repr: {oauth!r}")

        _step(2, "A new OAuth2 (a new process, say) resolves from the cache file.")
        before = len(fake.requests)
        cached = fake.oauth2(cache_path=cache, authorizer=None, interactive=False)
        print(f"   token {fingerprint(cached.get_access_token())} from {cached.token_source}")
        print(f"   requests made: {len(fake.requests) - before}")

        _step(3, "A CI job resolves from an ACCESS_TOKEN_DICT-style variable.")
        assert oauth.access_token_info is not None  # noqa: S101 - set by step 1
        os.environ["DEMO_ACCESS_TOKEN_DICT"] = repr(dict(oauth.access_token_info))
        from_env = OAuth2(
            fake.client_id,
            fake.client_secret,
            "http://127.0.0.1:8080/",
            env_key="DEMO_ACCESS_TOKEN_DICT",
            cache_path=None,
            host=fake.url,
            interactive=False,
        )
        print(f"   token {fingerprint(from_env.get_access_token())} from {from_env.token_source}")
        print("   (a token from the environment is never written to the cache file)")

        _step(4, "The token expires, in a process with no terminal (cron, CI).")
        data = json.loads(cache.read_text())
        data["expire_time"] = int(time.time()) - 60
        cache.write_text(json.dumps(data))
        child = _EXPIRED_CHILD.format(
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            redirect_uri="http://127.0.0.1:8080/",
            host=fake.url,
        )
        # This Python, a fixed script.
        result = subprocess.run(  # noqa: S603 # nosec B603
            [sys.executable, "-c", child, str(cache)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        print(f"   exit status {result.returncode}, with no prompt:")
        print("   " + result.stdout.strip().replace("\n", "\n   "))
        if result.returncode != 1 or not result.stdout.startswith("ReauthorizationRequired:"):
            print(result.stderr, file=sys.stderr)
            return 1
        _step(5, "Use the token: the Open API client on the fake server.")
        api = OpenAPI(oauth)
        project = api.create_project("Demo project")
        print(f"   created project {project['name']!r} ({project['id']})")
        task = api.create_task(project["id"], "Try ticktick-oauth", {"priority": 3})
        print(f"   created task {task['title']!r} with priority {task.get('priority')}")
        api.complete_task(project["id"], task["id"])
        done = api.list_completed_tasks([project["id"]])
        print(f"   completed it; completed tasks in the project: {[t['title'] for t in done]}")
        print(f"   projects: {[p['name'] for p in api.list_projects()]}")
        print(f"\nDone: {fake.token_requests} token request(s) in all.")
    return 0


def main() -> int:
    """Run the demo in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="ticktick-demo-") as folder:
        return run(Path(folder))


if __name__ == "__main__":
    sys.exit(main())
