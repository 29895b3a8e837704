"""`inspector gui` and `inspector demo`: the desktop application."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop application (the default command)",
                       description="Open the desktop application on a project, the last project, or a welcome screen.")
    p.add_argument("--db", metavar="PROJECT", help="project file or postgresql://user@host/dbname URL to open (default: the last one opened)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render the window with the first image and its attention, save it as PNG, exit")
    p.set_defaults(func=gui)
    d = sub.add_parser("demo", help="make the demo data, model and predictions if missing, and open the GUI on them",
                       description="Synthetic industrial images with defects, a small trained model, its predictions "
                                   "and suspected label errors; made once, reused afterwards.")
    d.add_argument("--dir", default="demo", metavar="DIR", help="folder for the demo project (default: ./demo)")
    d.add_argument("--screenshot", metavar="OUT.png", help="as for `gui`: save a screenshot and exit")
    d.set_defaults(func=demo)


def gui(args: argparse.Namespace) -> int:
    from app.display import choose_platform

    if args.db:  # before Qt starts: a file that is not a (healthy) project is one line, not a window
        from core.store import open_project

        open_project(args.db, create=False).close()
    choose_platform(screenshot=bool(args.screenshot))
    from app.qt_app import run_gui

    return run_gui(args.db, screenshot=args.screenshot)


def demo(args: argparse.Namespace) -> int:
    from app.display import choose_platform

    choose_platform(screenshot=bool(args.screenshot))
    from app.qt_app import run_gui

    return run_gui(screenshot=args.screenshot, demo_dir=os.fspath(Path(args.dir).absolute()))
