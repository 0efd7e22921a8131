"""Command line: `python -m course run|download|datasets|results|site|references`. See `python -m course --help`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """The command line; Ctrl-C anywhere is one line and exit status 130, never a traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("\nStopped (Ctrl-C). Nothing half-written was kept: a partial download or site build is removed "
              "by the next run, and what finished before is unchanged.", file=sys.stderr)
        return 130


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description="Run the course and manage its data.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks headless (smoke mode unless --full) and tabulate results")
    run.add_argument("notebooks", nargs="*", help="names or numbers, e.g. 01 or mnist_dense (default: all)")
    run.add_argument("--full", action="store_true", help="full-size data and training instead of smoke mode")
    run.add_argument("--solutions", action="store_true",
                     help="run the lessons' solutions in full mode too (smoke mode always runs them)")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="override a notebook parameter, e.g. -p EPOCHS=5 (repeatable)")

    dl = sub.add_parser("download", help="fetch datasets and weights into the cache or a mirror folder")
    dl.add_argument("names", nargs="*", help="dataset names, imagenet:BACKBONE, imagenet_top:BACKBONE (with its "
                    "ImageNet classifier) or imagenet:class_index (see `datasets`)")
    dl.add_argument("--all", action="store_true", help="every dataset and backbone")
    dl.add_argument("--to", metavar="DIR", help="fill an offline mirror at DIR (use it as COURSE_DATA_DIR)")

    sub.add_parser("datasets", help="list datasets, their licences and where each would come from")

    res = sub.add_parser("results", help="print build/results.json as a Markdown table")
    res.add_argument("--readme", action="store_true", help="write the table into README.md's results block")

    site = sub.add_parser("site", help="build the course website from the executed notebooks (build/site/, or "
                          "build/site-full/ with --full)")
    site.add_argument("--full", action="store_true",
                      help="from the last successful full-mode runs (build/full/) into build/site-full/: the build to "
                           "publish")
    site.add_argument("--out", metavar="DIR", help="where to write the site (default: build/site or build/site-full)")
    site.add_argument("--site-url", metavar="URL", help="the address it will be published at, for its 404 page's "
                      "links (default: the GitHub Pages address of the course's repository)")
    site.add_argument("--screenshots", metavar="DIR", help="then take PNG screenshots (home, a full and a smoke lesson, "
                      "a solutions page; desktop and phone widths) into DIR, e.g. docs/screenshots (needs Chromium)")

    refs = sub.add_parser("references", help="run the lessons as pytest does and write the outputs pytest compares "
                          "them with (tests/references/), after an intended change; prints what changed")
    refs.add_argument("notebooks", nargs="*", help="names or numbers, e.g. 01 or mnist_dense (default: all)")
    refs.add_argument("--condition", choices=("standin", "mirror"), action="append",
                      help="only this data condition (default: standin, and mirror when COURSE_DATA_DIR is set)")

    args = parser.parse_args(argv)
    from .paths import resolve_environment

    resolve_environment()  # relative folders mean the folder the command was typed in, also for the kernels
    if args.command == "site":
        from pathlib import Path

        from .site import PAGES_URL, SiteError, build, collect, screenshots

        try:
            out = build(out=Path(args.out).resolve() if args.out else None, full=args.full,
                        site_url=args.site_url or PAGES_URL)
            if args.screenshots:
                for path in screenshots(out, collect(args.full)[0], Path(args.screenshots).resolve()):
                    print(f"  screenshot {path} ({path.stat().st_size // 1024} KB)")
        except SiteError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "run":
        from .runner import parse_parameters
        from .runner import run as run_notebooks

        return run_notebooks(args.notebooks, parse_parameters(args.param), args.full,
                             True if args.solutions else None)
    if args.command == "references":
        from .references import refresh_command

        return refresh_command(args.notebooks, args.condition)
    if args.command == "results":
        from .runner import results_command

        return results_command(args.readme)
    if args.command == "download":
        from .fetch import download_command

        return download_command(args.names, args.all, args.to)
    from .fetch import list_command

    return list_command()


if __name__ == "__main__":
    sys.exit(main())
