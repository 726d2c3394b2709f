"""Argument parsing and dispatch for every `geowire` subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

COMMANDS: dict[str, str] = {
    "serve": "run the classifier service on Kafka (the always-on job)",
    "demo": "the whole thing on an embedded broker: service + sample articles, "
    "enriched events printed as they arrive",
    "produce": "publish article JSON lines from a file to the input topic",
    "tail": "print the enriched (or any) topic",
    "classify": "offline: article JSON lines in, enriched JSON lines out, no broker",
    "train": "build the model artifact from labelled JSON lines",
    "evaluate": "score a model on labelled JSON lines",
    "bench": "measure end-to-end throughput and latency on the embedded broker",
    "bench-model": "classification speed without a broker, beside a stock sklearn baseline",
    "broker": "run an embedded in-memory Kafka-protocol broker in the foreground",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch `geowire COMMAND ...`; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"geowire: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return _handler(command)(rest)


def _usage() -> str:
    lines = ["usage: geowire COMMAND [options]   (geowire COMMAND --help for more)", "",
             "commands:"]
    lines += [f"  {name:<10} {text}" for name, text in COMMANDS.items()]
    lines += ["", "Settings for serve/produce/tail/demo come from flags or GEOWIRE_* "
              "environment variables; see geowire serve --help."]
    return "\n".join(lines)


def _handler(command: str) -> Callable[[list[str]], int]:
    # Imports are deferred so that `geowire classify` never loads the Kafka client
    # and `geowire serve` never loads the training code.
    if command == "serve":
        from stream.__main__ import serve
        return lambda rest: serve(rest, os.environ)
    if command in {"produce", "tail", "demo", "bench", "broker"}:
        from stream import commands
        return getattr(commands, f"{command}_main")  # type: ignore[no-any-return]
    if command == "classify":
        return _classify
    if command == "bench-model":
        from training.speed import bench_model_main
        return bench_model_main
    from training import __main__ as training_cli
    return getattr(training_cli, f"{command}_main")  # type: ignore[no-any-return]


def _classify(argv: list[str]) -> int:
    from geowire.classify import classify_stream, open_input
    from model import ArtifactError, load_model

    parser = argparse.ArgumentParser(
        prog="geowire classify",
        description="Read article events (JSON lines) and write each enriched event as a "
        "JSON line: the same enrichment the service produces, without Kafka. Invalid "
        "lines are reported on stderr as JSON with their line number and reason; the "
        "exit code is 1 if there were any.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("file", nargs="?", default="-", help="input file, - for stdin")
    parser.add_argument("--model-path", default=os.environ.get(
        "GEOWIRE_MODEL_PATH", "artifacts/model"), help="artifact directory "
        "[env GEOWIRE_MODEL_PATH]")
    args = parser.parse_args(argv)
    try:
        classifier = load_model(args.model_path)
    except ArtifactError as exc:
        print(f"geowire classify: error: {exc}", file=sys.stderr)
        return 1
    try:
        handle = open_input(args.file)
    except OSError as exc:
        print(f"geowire classify: error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    with handle:
        valid, invalid = classify_stream(classifier, handle, sys.stdout, sys.stderr)
    print(f"geowire classify: {valid} classified, {invalid} invalid", file=sys.stderr)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
