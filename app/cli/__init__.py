"""`inspector` command line. Every command lives in its own module listed in COMMAND_MODULES, which
has `register(subparsers)`; heavy imports (torch, Qt) happen inside the command functions so that
`inspector --help` answers at once.

Expected failures raise `core.errors.InspectorError`: one line on stderr, exit status 2. Output
piped into a reader that stops early (`inspector jobs --db p.db | head`) ends the command quietly
with status 141, as a SIGPIPE would end any other Unix tool.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

BROKEN_PIPE_STATUS = 128 + 13  # what a shell reports for a process ended by SIGPIPE

COMMAND_MODULES = [
    "app.cli.model_cmds",
    "app.cli.data_cmds",
    "app.cli.gui_cmds",
    "app.cli.store_cmds",
    "app.cli.export_cmds",
    "app.cli.infer_cmds",
    "app.cli.explain_cmds",
    "app.cli.train_cmds",
    "app.cli.pretrain_cmd",
    "app.cli.problems_cmds",
    "app.cli.doctor_cmds",
    "app.cli.classes_cmds",
    "app.cli.roots_cmds",
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
    try:
        status = _main(argv)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then still ours to handle
        return status
    except BrokenPipeError:
        _drop_output()
        return BROKEN_PIPE_STATUS


def _drop_output() -> None:
    """The reader went away: send whatever is still buffered (and the interpreter's flush at exit) nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass
    os.close(devnull)


def _main(argv: list[str] | None) -> int:
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
        from core.data.file_checks import printable

        print(f"inspector: error: {printable(str(e))}", file=sys.stderr)  # one line, whatever names it holds
        return 2
    except KeyboardInterrupt:
        print("inspector: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
