"""python3 -m training {train,export} ... — see docs/training.md."""
import argparse
import sys

from . import export, train
from .data import DataError
from .errors import UsageError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m training", description="emolens model factory")
    sub = parser.add_subparsers(dest="command", required=True)
    train.build_parser(sub.add_parser("train", help="train an architecture on FER2013"))
    export.build_parser(sub.add_parser("export", help="write models/<name>.onnx + .json from a checkpoint"))
    args = parser.parse_args(argv)
    try:
        (train.main if args.command == "train" else export.main)(args)
    # Only the errors a user can fix become one line; anything else (a KeyError included) is a bug: keep its traceback.
    except (UsageError, DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
