"""``mlops serve`` and ``mlops monitor``: argument handling and printing only (the work is
``api.serve`` / ``api.monitor``; the server is ``serve/app.py``).

Imports of what the commands call stay inside them: ``mlops --help`` imports this module."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_DRIFT = 0, 1
TOKEN_ENV = "MLOPS_SERVE_TOKEN"  # the token for a container (`docker run -e`), not on argv


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model version over HTTP (MLflow's /invocations, OIP v2), following its alias",
    )
    p.add_argument("ref", metavar="NAME[@ALIAS|@V]")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    token = p.add_mutually_exclusive_group()
    token.add_argument(
        "--token", metavar="T", help="require Authorization: Bearer T (or set MLOPS_SERVE_TOKEN)"
    )
    token.add_argument("--token-file", metavar="FILE", help="the token, read from FILE")
    p.add_argument(
        "--sample", type=float, default=1.0, metavar="RATE",
        help="share of requests whose inputs and predictions are recorded (default 1: all)",
    )  # fmt: skip
    p.add_argument(
        "--poll", type=float, default=2.0, metavar="S",
        help="how often to look where the alias points (default 2 s)",
    )  # fmt: skip
    p.add_argument(
        "--max-body", type=int, default=None, metavar="BYTES",
        help="refuse request bodies over BYTES with 413 (default 16 MiB)",
    )  # fmt: skip
    p.set_defaults(func=serve_command)

    p = sub.add_parser(
        "monitor", help="a served model's requests, errors, latency, input drift, prediction shift"
    )
    p.add_argument("ref", metavar="NAME[@ALIAS|@V]")
    p.add_argument("--window", default="1h", metavar="AGE", help="the last AGE (1h, 30m, 2d)")
    p.add_argument(
        "--on-drift", metavar="CMD",
        help="a shell command to run when the inputs drifted (e.g. 'mlops run train.ipynb')",
    )  # fmt: skip
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=monitor_command)


def serve_command(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from .. import api
    from ..errors import MlopsError

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise MlopsError(
                f"cannot read the token file {args.token_file}: {exc.strerror}."
            ) from None
    if args.host not in ("127.0.0.1", "localhost", "::1") and token is None:
        print(
            f"mlops serve: listening on {args.host} without a token: anyone who reaches this "
            "port can use the model (--token or --token-file requires one).",
            file=sys.stderr,
        )

    def ready(info: dict[str, Any]) -> None:
        print(
            f"serving {info['model']}@{info['version']} ({args.ref}) on "
            f"http://{args.host}:{info['port']}  (POST /invocations, /v2/models/{info['model']}/infer;"
            " Ctrl-C stops)",
            flush=True,
        )

    api.serve(
        args.ref,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=token,
        sample=args.sample,
        poll=args.poll,
        max_body=args.max_body,
        ready=ready,
    )
    return EXIT_OK


def monitor_command(args: argparse.Namespace) -> int:
    """Exit 0 when nothing drifted, 1 when the inputs drifted (so a cron job can act on it)."""
    import subprocess

    from .. import api
    from ..views.serving import monitor_text
    from .output import print_json

    found = api.monitor(args.ref, window=args.window)
    if args.on_drift and found["drift"]:
        import json
        import os

        done = subprocess.run(
            args.on_drift,
            shell=True,  # the user's own command line, as cron would run it
            env={**os.environ, "MLOPS_MONITOR": json.dumps(found, default=str)},
            check=False,
        )
        found["on_drift"] = {"command": args.on_drift, "exit_code": done.returncode}
    if args.json:
        print_json(found)
    else:
        print(monitor_text(found))
    return EXIT_DRIFT if found["drift"] else EXIT_OK
