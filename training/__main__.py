"""python3 -m training {train,export,ensemble,from-onnx,gradcam-outputs,saliency,pack,campaign} ... — see docs/training.md and docs/explain.md."""
import argparse
import sys

from . import export, train
from .data.datasets import DataError
from .data.pack import build_pack_parser, pack_main
from .distill import campaign, ensemble, teacher
from .errors import UsageError
from .explain import gradcam_outputs, saliency


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m training", description="emolens model factory")
    sub = parser.add_subparsers(dest="command", required=True)
    train.build_parser(sub.add_parser("train", help="train an architecture on FER2013"))
    export.build_parser(sub.add_parser("export", help="write models/<name>.onnx + .json from a checkpoint"))
    ensemble.build_parser(sub.add_parser("ensemble", help="val figures of a teacher ensemble; cache its soft targets"))
    teacher.build_parser(sub.add_parser("from-onnx", help="a shipped model's weights as a checkpoint for train --init"))
    gradcam_outputs.build_parser(sub.add_parser("gradcam-outputs", help="add Grad-CAM's activations to an exported model"))
    saliency.build_parser(sub.add_parser("saliency", help="Grad-CAM and guided backprop of a shipped model (PyTorch)"))
    build_pack_parser(sub.add_parser("pack", help="a data set's train and val splits as one compact file"))
    campaign.build_parser(sub.add_parser("campaign", help="teachers, their ensemble, distilled students: one GPU run"))
    args = parser.parse_args(argv)
    commands = {"train": train.main, "export": export.main, "ensemble": ensemble.main, "from-onnx": teacher.from_onnx_main,
                "gradcam-outputs": gradcam_outputs.main, "saliency": saliency.main, "pack": pack_main, "campaign": campaign.main}
    try:
        commands[args.command](args)
    # Only the errors a user can fix become one line; anything else (a KeyError included) is a bug: keep its traceback.
    except (UsageError, DataError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
