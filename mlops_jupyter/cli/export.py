"""``mlops export airflow|kfp|docker NB|DIR -o OUT``: argument handling and printing only (the
work is ``api.export`` over the ``export`` registry)."""

from __future__ import annotations

import argparse
from typing import Any

KINDS = {
    "airflow": ("DAGS_DIR", "an Airflow 3 DAG file whose tasks run each stage through mlops"),
    "kfp": ("PIPELINE.yaml", "a Kubeflow Pipelines YAML, one container component per stage"),
    "docker": (
        "DIR",
        "a Dockerfile that runs the pipeline (the KFP export's default image), or for "
        "NAME@ALIAS one that serves that model version",
    ),
}


def add_commands(sub: Any) -> None:
    p = sub.add_parser("export", help="write the pipeline for Airflow, Kubeflow Pipelines, Docker")
    kinds = p.add_subparsers(dest="export_kind", metavar="KIND")
    p.set_defaults(func=lambda args, export=p: (export.print_help(), 2)[1])
    for kind, (output, text) in KINDS.items():
        q = kinds.add_parser(kind, help=text, description=text)
        q.add_argument(
            "target", metavar="NOTEBOOK|DIR|NAME@ALIAS" if kind == "docker" else "NOTEBOOK|DIR"
        )
        q.add_argument("-o", "--output", required=True, metavar=output)
        if kind == "kfp":
            q.add_argument(
                "--image", metavar="IMAGE", help="the image the stages run in (see export docker)"
            )
        if kind == "airflow":
            q.add_argument(
                "--schedule", metavar="NAME", help="the DAG fires on this schedule's cron"
            )
        q.add_argument(
            "--force", action="store_true", help="replace files there that mlops did not write"
        )
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    from .. import api
    from .output import print_json

    options = {k: getattr(args, k) for k in ("image", "schedule") if getattr(args, k, None)}
    result = api.export(args.export_kind, args.target, args.output, force=args.force, **options)
    if args.json:
        print_json(result)
        return 0
    what = f"model {result['model']}" if "model" in result else f"pipeline '{result['pipeline']}'"
    print(f"Exported {what} ({args.export_kind}) to {result['output']}")
    for note in result["notes"]:
        print(note)
    return 0
