"""A whole teacher -> student campaign in one command, sized for a GPU machine lent for a few minutes.

    python3 -m training pack --out runs/fer2013.npz.xz --val-subset 1000    # here: the data in one 47 MiB file
    python3 -m training campaign --data runs/fer2013.npz.xz --device cuda --out runs/campaign --bundle $OUT

1. Teachers: one `train` process per member (`arch:seed`), all at once on the device, each with a wall-clock budget
   (--teacher-minutes of training steps; the cosine schedule spans it, so a faster device trains more epochs), plus
   already trained members (--with-teacher; default the shipped models/emolens-fer.onnx).
2. Their ensemble on the data's val images (`ensemble`): each member and the mean of their probabilities; nothing is
   fitted on val (equal weights). Its train-set probabilities are cached (ensemble.npz) for offline distillation.
3. Students (`arch:tta`): one `train` each, at once, distilled online from every teacher (train --teacher a.pt,b.pt),
   the teachers scoring each student's own augmented view.
4. summary.json: every run's last val figures, epochs and times. With --bundle DIR the results are also packed into at
   most 8 files of at most 16 MiB (what comes back from a device machine): summary.json, ensemble.npz, logs.tar.xz,
   each student's run as a tar, and the teachers in tars of up to 15 MiB (float16). Weights travel as .npz and the
   rest of a checkpoint as JSON, so nothing depends on one PyTorch reading another's pickles; back here
   `campaign --unbundle DIR --out runs/campaign` rebuilds each run's best.pt.

Training budgets count wall-clock time (`train --budget-clock wall`), and each run keeps validating and
checkpointing every --eval-every-min, so a campaign cut short still leaves usable runs. Exporting the students
(`export --run`), and measuring them on every val image when the pack held a val subset, happens afterwards on any
machine (docs/training.md, "A GPU campaign").
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch

from ..common import load_checkpoint, resolve_device
from ..data.datasets import load_cached
from ..errors import UsageError
from . import ensemble
from .teacher import Teachers

TEACHER_ARGS = "--epochs 1000 --lr 0.05 --batch-size 128 --erasing 0.5 --label-smoothing 0.1 --tta hflip"
STUDENT_ARGS = ("--epochs 1000 --lr 0.05 --batch-size 128 --erasing 0.25 --contrast 0.3 --brightness 0.3 --blur 0.2 "
                "--kd-alpha 0.9 --kd-temperature 2")
PART_BYTES = 15 * 2 ** 20
STUDENT_RESERVE_MIN = 1.0   # with --deadline-min: the students' start-up, the bundle, a margin
MIN_STUDENT_MINUTES = 0.5


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(description=__doc__)
    a = p.add_argument
    a("--data", default="runs/fer2013.npz.xz", help="a pack (python3 -m training pack), folder layout or fer2013.csv")
    a("--out", default="runs/campaign", help="one run folder per teacher and student below this")
    a("--device", default="auto")
    a("--teachers", default="emolens_vgg_wide:0,emolens_vgg_wide:1,emolens_vgg:2,emolens_vgg:3",
      help="arch:seed, comma-separated; all train at once")
    a("--teacher-minutes", type=float, default=3.5, help="wall-clock minutes of training steps per teacher")
    a("--teacher-args", default=TEACHER_ARGS, help="train flags every teacher gets")
    a("--with-teacher", action="append", default=None, help="a trained member to add to the teachers: a shipped "
      "model (.onnx) or a checkpoint (.pt); repeat. Default: models/emolens-fer.onnx where it loads")
    a("--students", default="emolens_vgg:hflip,emolens_vgg_tiny:none",
      help="arch:tta, comma-separated (tta none for the fast model: its mirror pass would double its cost)")
    a("--student-minutes", type=float, default=3.0)
    a("--student-args", default=STUDENT_ARGS, help="train flags every student gets")
    a("--deadline-min", type=float, default=0, help="the whole campaign's wall-clock limit: the students get what the "
      "teachers left of it, less a minute for starting up and bundling (0 = no limit; a device command's own limit "
      "kills it without a bundle, so set this under that)")
    a("--eval-every-min", type=float, default=0.5, help="validate and checkpoint every this many budget minutes")
    a("--threads", type=int, default=2, help="CPU threads per training process")
    a("--cache-dir", default="runs/cache")
    a("--bundle", default=None, help="also pack the results into at most 8 files of <= 16 MiB here (e.g. $OUT)")
    a("--keep-last", action="store_true", help="keep each run's last.pt (resumable; larger)")
    a("--unbundle", default=None, help="instead of training: unpack a bundle from DIR into --out, rebuilding each "
      "run's best.pt with this machine's PyTorch")
    return p


def parse_pairs(spec: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in [s for s in spec.split(",") if s]:
        arch, sep, extra = item.partition(":")
        if not sep or not extra:
            raise UsageError(f"--{what}: {item!r} is not arch:{'seed' if what == 'teachers' else 'tta'}")
        pairs.append((arch, extra))
    if not pairs:
        raise UsageError(f"--{what}: none given")
    return pairs


def launch(name: str, out: Path, argv: list[str]) -> tuple[str, subprocess.Popen, Path]:
    run = out / name
    run.mkdir(parents=True, exist_ok=True)
    log = open(run / "train.log", "w")
    cmd = [sys.executable, "-m", "training", "train", "--out", str(run), *argv]
    (run / "command.txt").write_text(" ".join(cmd) + "\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), run


def wait_all(procs: list[tuple[str, subprocess.Popen, Path]], phase: str) -> dict:
    """Wait for every run of a phase; a run that fails is reported (with its log's tail), the others go on."""
    results = {}
    for name, proc, run in procs:
        code = proc.wait()
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
        last = history[-1] if history else {}
        results[name] = {"run": str(run), "exit": code, "epochs": last.get("epoch"), "valAcc": last.get("val_acc"),
                         "valMacroF1": last.get("val_macro_f1"), "valEce": last.get("val_ece"),
                         "valRecall": last.get("val_recall"), "trainStepSeconds": last.get("train_step_seconds"),
                         "wallSeconds": last.get("wall_seconds")}
        if code != 0:
            tail = (run / "train.log").read_text().splitlines()[-5:]
            print(f"{phase} {name}: exit {code}\n  " + "\n  ".join(tail), flush=True)
        else:
            print(f"{phase} {name}: {last.get('epoch')} epochs, last val acc {last.get('val_acc', float('nan')):.4f} "
                  f"({last.get('train_step_seconds', 0):.0f} s of steps)", flush=True)
    return results


def common(cfg) -> list[str]:
    return ["--data", cfg.data, "--device", cfg.device, "--budget-clock", "wall", "--threads", str(cfg.threads),
            "--eval-every-min", str(cfg.eval_every_min), "--cache-dir", cfg.cache_dir]


SHIPPED_DEFAULT = Path(__file__).resolve().parents[2] / "models" / "emolens-fer.onnx"


def usable_members(paths: list[str], summary: dict) -> list[str]:
    """The --with-teacher members that load here (checked before anything trains, so a missing python onnx module
    costs one warning, not the students); the default one is skipped quietly where it is absent."""
    usable = []
    for path in paths:
        if not Path(path).exists() and Path(path) == SHIPPED_DEFAULT:
            continue
        try:
            Teachers(path, 44)
            usable.append(path)
        except Exception as err:  # noqa: BLE001
            print(f"campaign: leaving out teacher {path} ({type(err).__name__}: {err})", flush=True)
            summary.setdefault("leftOut", []).append({"path": path, "error": f"{type(err).__name__}: {err}"})
    return usable


def portable(path: Path, half: bool = False) -> dict[str, bytes]:
    """A best.pt as files any PyTorch and NumPy read back: its weights as an .npz (float16 with `half`: ample for a
    teacher) and everything else as JSON. A torch pickle written by PyTorch 2 on a GPU machine is not promised to load
    in this machine's PyTorch 1.13; `campaign --unbundle` rebuilds best.pt from these."""
    ckpt = load_checkpoint(path)
    arrays = {k: (v.half() if half and v.is_floating_point() else v).numpy() for k, v in ckpt.pop("model").items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    ckpt["weights"] = "float16 (campaign bundle)" if half else "float32"
    return {"best.npz": buf.getvalue(), "best.json": json.dumps(ckpt).encode()}


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), int(time.time())
    tar.addfile(info, io.BytesIO(data))


def bundle(out: Path, dest: Path, teachers: list[str], students: list[str]) -> list[Path]:
    """At most 8 files of at most 16 MiB in `dest` (flat): what a device machine can send back."""
    dest.mkdir(parents=True, exist_ok=True)
    files = [dest / "summary.json"]
    shutil.copy(out / "summary.json", files[0])
    if (out / "ensemble.npz").exists():
        files.append(dest / "ensemble.npz")
        shutil.copy(out / "ensemble.npz", files[-1])
    with tarfile.open(dest / "logs.tar.xz", "w:xz") as tar:
        for name in teachers + students:
            for f in ("train.log", "command.txt", "history.json", "config.json"):
                if (out / name / f).exists():
                    tar.add(out / name / f, arcname=f"{name}/{f}")
    files.append(dest / "logs.tar.xz")
    for name in students:  # full precision: these are exported as they are
        if (out / name / "best.pt").exists():
            with tarfile.open(dest / f"{name}.tar", "w") as tar:
                for f, data in portable(out / name / "best.pt").items():
                    add_bytes(tar, f"{name}/{f}", data)
                for f in ("history.json", "config.json"):
                    if (out / name / f).exists():
                        tar.add(out / name / f, arcname=f"{name}/{f}")
            files.append(dest / f"{name}.tar")
    part, size, tar = 0, 0, None
    for name in teachers:
        if not (out / name / "best.pt").exists():
            continue
        parts = portable(out / name / "best.pt", half=True)
        data_size = sum(len(d) for d in parts.values())
        if tar is None or size + data_size > PART_BYTES:
            if tar:
                tar.close()
            part += 1
            files.append(dest / f"teachers-{part}.tar")
            tar, size = tarfile.open(files[-1], "w"), 0
        for f, data in parts.items():
            add_bytes(tar, f"{name}/{f}", data)
        size += data_size
    if tar:
        tar.close()
    too_big = [f.name for f in files if f.stat().st_size > 16 * 2 ** 20]
    if len(files) > 8 or too_big:
        print(f"warning: the bundle has {len(files)} files{'; over 16 MiB: ' + ', '.join(too_big) if too_big else ''}"
              " (a device machine sends back at most 8 of at most 16 MiB)", flush=True)
    return files


def run_phases(cfg, out: Path, t0: float, teachers, students, names: list[str], snames: list[str], extra: list[str],
               summary: dict) -> None:
    """Teachers, their ensemble, the students; fills `summary` (and `snames`) as it goes."""
    procs = [launch(name, out, [*common(cfg), "--arch", arch, "--seed", seed, "--cpu-budget-min",
                                str(cfg.teacher_minutes), *cfg.teacher_args.split()])
             for name, (arch, seed) in zip(names, teachers)]
    summary["teachers"] = wait_all(procs, "teacher")
    good = [n for n in names if summary["teachers"][n]["exit"] == 0 and (out / n / "best.pt").exists()]
    if not good:
        summary["error"] = "no teacher finished"
        raise SystemExit("campaign: no teacher finished (their train.log files are in the bundle's logs.tar.xz)")
    summary["teacherSeconds"] = round(time.time() - t0)
    members = [str(out / n / "best.pt") for n in good] + extra

    try:  # the students need the teachers, not this report: a failure here is noted and the campaign goes on
        meta = ensemble.main(ensemble.build_parser().parse_args([
            *sum((["--member", m] for m in members), []), "--data", cfg.data, "--cache-dir", cfg.cache_dir,
            "--out", str(out / "ensemble.npz"), "--device", cfg.device, "--threads", str(cfg.threads)]))
        summary["ensemble"] = {"members": meta["members"], "valAccuracy": meta["val"]["accuracy"],
                               "valMacroF1": meta["val"]["macroF1"], "valEce": meta["val"]["ece"],
                               "valRecall": {k: v["recall"] for k, v in meta["val"]["perClass"].items()}}
    except Exception as err:  # noqa: BLE001
        print(f"campaign: the ensemble report failed ({type(err).__name__}: {err}); the students still train", flush=True)
        summary["ensemble"] = {"error": f"{type(err).__name__}: {err}"}

    teacher_spec = ",".join(members)
    student_minutes = cfg.student_minutes
    if cfg.deadline_min:
        left = cfg.deadline_min - (time.time() - t0) / 60 - STUDENT_RESERVE_MIN
        student_minutes = min(student_minutes, round(left, 2))
        print(f"campaign: {left + STUDENT_RESERVE_MIN:.1f} of {cfg.deadline_min:g} min left: students get "
              f"{max(student_minutes, 0):g} min", flush=True)
    summary["studentMinutes"] = student_minutes
    if cfg.deadline_min and student_minutes < MIN_STUDENT_MINUTES:
        print("campaign: too little time left for the students; bundling the teachers", flush=True)
        students = []
    snames += [f"student-{arch}-{tta}" for arch, tta in students]
    procs = [launch(name, out, [*common(cfg), "--arch", arch, "--tta", tta, "--teacher", teacher_spec, "--cpu-budget-min",
                                str(student_minutes), *cfg.student_args.split()])
             for name, (arch, tta) in zip(snames, students)]
    summary["students"] = wait_all(procs, "student")


def unbundle(src: Path, out: Path) -> list[Path]:
    """A bundle (what came back from the device) -> run folders under `out` with a best.pt each, rebuilt here with this
    machine's PyTorch from best.npz + best.json (float16 teachers back to float32), for export, ensemble and --teacher."""
    out.mkdir(parents=True, exist_ok=True)
    for f in ("summary.json", "ensemble.npz"):
        if (src / f).exists():
            shutil.copy(src / f, out / f)
    for tar_path in sorted(src.glob("*.tar")) + sorted(src.glob("*.tar.xz")):
        with tarfile.open(tar_path) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and not Path(m.name).is_absolute() and ".." not in Path(m.name).parts]
            tar.extractall(out, members=members)
    runs = []
    for meta_path in sorted(out.glob("*/best.json")):
        ckpt = json.loads(meta_path.read_text())
        with np.load(meta_path.with_suffix(".npz")) as z:
            ckpt["model"] = {k: torch.from_numpy(z[k]).float() if z[k].dtype == np.float16 else torch.from_numpy(z[k].copy())
                             for k in z.files}
        torch.save(ckpt, meta_path.with_suffix(".pt"))
        runs.append(meta_path.parent)
        print(f"{meta_path.parent.name}: {ckpt['arch']}, val acc {ckpt.get('val', {}).get('accuracy', float('nan')):.4f} "
              f"({ckpt['weights']} weights) -> {meta_path.with_suffix('.pt')}", flush=True)
    return runs


def main(cfg: argparse.Namespace) -> dict:
    if cfg.unbundle:
        return {"runs": [str(r) for r in unbundle(Path(cfg.unbundle), Path(cfg.out))]}
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    teachers, students = parse_pairs(cfg.teachers, "teachers"), parse_pairs(cfg.students, "students")
    # Decode the data once, so the parallel runs read the cache instead of racing to write it.
    x_train, _ = load_cached(cfg.data, "train", cfg.cache_dir)
    x_val, _ = load_cached(cfg.data, "val", cfg.cache_dir)
    cfg.device = str(resolve_device(cfg.device))  # "auto" decided once, for every run of the campaign
    print(f"campaign: {len(x_train)} train, {len(x_val)} val images; {len(teachers)} teachers x {cfg.teacher_minutes:g} "
          f"min, then {len(students)} students x {cfg.student_minutes:g} min on {cfg.device}"
          + (f" ({torch.cuda.get_device_name(0)})" if cfg.device.startswith("cuda") else ""), flush=True)
    summary: dict = {"config": vars(cfg), "trainImages": len(x_train), "valImages": len(x_val)}
    extra = usable_members(cfg.with_teacher if cfg.with_teacher is not None else [str(SHIPPED_DEFAULT)], summary)

    names = [f"teacher-{arch}-s{seed}" for arch, seed in teachers]
    snames: list[str] = []
    try:
        run_phases(cfg, out, t0, teachers, students, names, snames, extra, summary)
    finally:  # whatever happened, what there is gets summarised and bundled: a device call gives one chance
        summary["seconds"] = round(time.time() - t0)
        if not cfg.keep_last:
            for name in names + snames:
                (out / name / "last.pt").unlink(missing_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
        print(f"campaign ended after {summary['seconds']} s; {out / 'summary.json'}", flush=True)
        if cfg.bundle:
            files = bundle(out, Path(cfg.bundle), names, snames)
            print("bundle: " + ", ".join(f"{f.name} ({f.stat().st_size / 2 ** 20:.1f} MiB)" for f in files), flush=True)
    return summary
