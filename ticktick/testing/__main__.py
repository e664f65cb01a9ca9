"""``python -m ticktick.testing serve``: the fake TickTick in the foreground, for people.

Try ``ticktick-auth`` with no TickTick account: this runs
[`FakeTickTick`][ticktick.testing.server.FakeTickTick] on a loopback port until
Ctrl-C (or SIGTERM), prints the client id and secret of its one app, its base URL
and the ``ticktick-auth login`` command to run in another terminal, and serves its
consent page to your browser (``--auto-approve`` skips the page). See
docs/try-it.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ..endpoints import check_redirect_uri
from ..errors import ConfigurationError
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REDIRECT_URI, FakeTickTick

__all__ = ["main", "serve_parser"]

PROG = "python -m ticktick.testing"


def serve_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m ticktick.testing``."""

    def port(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
        if not 0 <= value <= 65535:
            raise argparse.ArgumentTypeError(f"{text} is not a port from 0 to 65535")
        return value

    def redirect_uri(text: str) -> str:
        try:
            return check_redirect_uri(text)
        except ConfigurationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parser = argparse.ArgumentParser(
        prog=PROG, description="The fake TickTick, for trying ticktick-auth with no account."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the fake TickTick until Ctrl-C",
        description=(
            "Run the fake TickTick on 127.0.0.1 in the foreground until Ctrl-C. It prints "
            "its URL, its app's client id and secret, and the ticktick-auth login command."
        ),
    )
    serve.add_argument(
        "--port", type=port, default=0, help="the port to listen on (default: a free one)"
    )
    serve.add_argument(
        "--host-name",
        choices=("127.0.0.1", "localhost"),
        default="127.0.0.1",
        help="this machine's name in the URLs it prints (default: %(default)s)",
    )
    serve.add_argument(
        "--redirect-uri",
        type=redirect_uri,
        default=DEFAULT_REDIRECT_URI,
        help="the redirect URI registered for the fake app (default: %(default)s)",
    )
    serve.add_argument(
        "--auto-approve",
        action="store_true",
        help="approve every sign-on at once, with no consent page",
    )
    return parser


def _login_command(base_url: str, redirect_uri: str) -> list[str]:
    """The lines that sign on against the fake server, for a POSIX shell.

    Each value is quoted where the shell would read it otherwise (a URI may hold ``&``).
    """
    import shlex

    secret, client_id = shlex.quote(DEFAULT_CLIENT_SECRET), shlex.quote(DEFAULT_CLIENT_ID)
    return [
        f"export TICKTICK_CLIENT_SECRET={secret}",
        f"ticktick-auth login --host {shlex.quote(base_url)} --client-id {client_id} \\",
        f"    --redirect-uri {shlex.quote(redirect_uri)}",
    ]


def _printable(text: str) -> str:
    r"""*text* with each non-printable character written as its Python escape (``\x1b``).

    A caller of the fake chooses the scope: it must not reach the terminal raw. The CLI's
    own rule (``ticktick.cli.output``) is private to the CLI; this is its one line.
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _stop_on(signals: Sequence[signal.Signals], stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in signals:
        signal.signal(signum, handler)


def _report_until(stop: threading.Event, fake: FakeTickTick) -> None:
    """Say each sign-on approved and each token issued (never the code or token), until *stop*."""
    codes = tokens = 0
    stopping = False
    while not stopping:
        stopping = stop.wait(0.2)  # then one last look, for what came just before
        issued = list(fake.issued.values())
        if len(fake.codes_issued) > codes:
            codes = len(fake.codes_issued)
            print("Sign-on approved: the browser goes back to the redirect URI.", flush=True)
        for token in issued[tokens:]:
            issued_to = f"Issued a token to {token.client_id}, scope {token.scope}."
            print(_printable(issued_to), flush=True)
        tokens = len(issued)


def serve(args: argparse.Namespace) -> int:
    """Run the fake server for *args* until SIGINT or SIGTERM; return the exit code."""
    stop = threading.Event()
    _stop_on((signal.SIGINT, signal.SIGTERM), stop)
    fake = FakeTickTick(
        redirect_uris=[args.redirect_uri], auto_approve=args.auto_approve, port=args.port
    )
    try:
        fake.start()
    except OSError as exc:
        print(
            f"{PROG} serve: cannot listen on 127.0.0.1 port {args.port}: {exc.strerror}. "
            "Pass another --port (or none, for a free one).",
            file=sys.stderr,
        )
        return 1
    try:
        base_url = f"http://{args.host_name}:{fake.port}"
        approval = (
            "approves every sign-on at once (--auto-approve)"
            if args.auto_approve
            else "shows a consent page: click Allow"
        )
        lines = [
            f"Fake TickTick running at {base_url} (Ctrl-C to stop).",
            f"  client id:     {DEFAULT_CLIENT_ID}",
            f"  client secret: {DEFAULT_CLIENT_SECRET}",
            f"  redirect URI:  {args.redirect_uri}",
            f"  sign-on:       {approval}",
            "Sign on from another terminal with:",
            *(f"  {line}" for line in _login_command(base_url, args.redirect_uri)),
            "then: ticktick-auth status, token, export, logout (no --host needed).",
        ]
        print("\n".join(lines), flush=True)
        _report_until(stop, fake)
    finally:
        fake.stop()
    print("Stopped the fake TickTick.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m ticktick.testing`` with *argv*; return the exit code."""
    args = serve_parser().parse_args(argv)
    return serve(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
