"""The `todo` command."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from todo.export import FORMATS
from todo.models import Priority, Task, parse_tags
from todo.query import select
from todo.storage import Store, default_path


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = Store(default_path())
    try:
        return args.run(store, args)
    except (ValueError, LookupError) as exc:
        print(f"todo: {exc}", file=sys.stderr)
        return 2


def _add(store: Store, args: argparse.Namespace) -> int:
    tasks = store.load()
    due = date.fromisoformat(args.due) if args.due else None
    task = Task(store.next_id(tasks), args.title, due, Priority(args.priority), parse_tags(args.tag))
    store.save([*tasks, task])
    print(f"added {task.id}: {task.title}")
    return 0


def _list(store: Store, args: argparse.Namespace) -> int:
    for t in select(store.load(), tag=args.tag, status=args.status, overdue=args.overdue):
        mark = "x" if t.done else " "
        print(f"[{mark}] {t.id:>3} {t.title}" + (f"  due {t.due}" if t.due else ""))
    return 0


def _change(store: Store, task_id: int, change) -> Task:
    tasks = store.load()
    for i, t in enumerate(tasks):
        if t.id == task_id:
            tasks[i] = change(t)
            store.save(tasks)
            return tasks[i]
    raise LookupError(f"no task {task_id}")


def _done(store: Store, args: argparse.Namespace) -> int:
    print(f"done: {_change(store, args.id, Task.complete).title}")
    return 0


def _edit(store: Store, args: argparse.Namespace) -> int:
    print(f"edited: {_change(store, args.id, lambda t: t.retitle(args.title)).title}")
    return 0


def _remove(store: Store, args: argparse.Namespace) -> int:
    tasks = store.load()
    kept = [t for t in tasks if t.id != args.id]
    if len(kept) == len(tasks):
        raise LookupError(f"no task {args.id}")
    store.save(kept)
    return 0


def _undo(store: Store, args: argparse.Namespace) -> int:
    print("undone" if store.undo() else "nothing to undo")
    return 0


def _export(store: Store, args: argparse.Namespace) -> int:
    sys.stdout.write(FORMATS[args.format](select(store.load(), status="all")))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo")
    sub = parser.add_subparsers(required=True)
    add = sub.add_parser("add")
    add.add_argument("title")
    add.add_argument("--due")
    add.add_argument("--priority", choices=[p.value for p in Priority], default="normal")
    add.add_argument("--tag", action="append", default=[])
    add.set_defaults(run=_add)
    lst = sub.add_parser("list")
    lst.add_argument("--tag")
    lst.add_argument("--status", choices=["open", "done", "all"], default="open")
    lst.add_argument("--overdue", action="store_true")
    lst.set_defaults(run=_list)
    for name, run in (("done", _done), ("remove", _remove)):
        cmd = sub.add_parser(name)
        cmd.add_argument("id", type=int)
        cmd.set_defaults(run=run)
    edit = sub.add_parser("edit")
    edit.add_argument("id", type=int)
    edit.add_argument("--title", required=True)
    edit.set_defaults(run=_edit)
    sub.add_parser("undo").set_defaults(run=_undo)
    export = sub.add_parser("export")
    export.add_argument("--format", choices=sorted(FORMATS), default="csv")
    export.set_defaults(run=_export)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
