"""`inspector` command line. Every command lives in its own module listed in COMMAND_MODULES, which
has `register(subparsers)`; heavy imports (torch, Qt) happen inside the command functions so that
`inspector --help` answers at once.

Expected failures raise `core.errors.InspectorError`: one line on stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "app.cli.model_cmds",
    "app.cli.data_cmds",
    "app.cli.gui_cmds",
    "app.cli.store_cmds",
    "app.cli.infer_cmds",
    "app.cli.train_cmds",
    "app.cli.pretrain_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inspector",
        description="Industrial visual inspection: predict, inspect attention, correct labels, fine-tune.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from core.errors import InspectorError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if "app.cli.gui_cmds" in COMMAND_MODULES:
            args = parser.parse_args(["gui", *(argv or [])])
        else:
            parser.print_help()
            return 0
    try:
        return int(args.func(args) or 0)
    except InspectorError as e:
        print(f"inspector: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("inspector: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
