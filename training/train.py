"""Train one registered architecture on FER2013, top to bottom (nanoGPT-style: every knob is below).

    python3 -m training train --arch emolens_vgg --data ../shared/datasets/fer2013 --out runs/vgg

Writes into --out: last.pt (resumable), best.pt (best val accuracy), history.json, config.json.
With --cpu-budget-min N the run ends when its training steps have used N CPU minutes and the LR schedule spans the
budget (docs/zoo.md compares the seed architectures that way); --budget-clock wall counts wall-clock minutes instead,
which is what a GPU run (--device cuda, python3 -m training campaign) is budgeted in.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .common import EMOTIONS, count_macs, count_parameters, load_checkpoint, normalize, predict, resolve_device
from .data.augment import mix, random_affine, random_crop, random_erasing, random_photometric
from .data.datasets import DataError, class_counts, load_cached
from .data.ferplus import DEFAULT_VOTES, evaluate as ferplus_evaluate, load_votes, targets as make_targets
from .distill.ensemble import load_teacher_probs
from .distill.teacher import Teachers
from .errors import UsageError
from .metrics import calibration_report, classification_report
from .models.registry import create_model


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at temperature T, scaled by T^2 so its gradients match the label term's."""
    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, 1), F.softmax(teacher_logits / t, 1), reduction="batchmean") * t * t


def build_parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = p or argparse.ArgumentParser(description=__doc__)
    a = p.add_argument
    a("--data", default="../shared/datasets/fer2013", help="dataset root (train/ and val/ label folders) or fer2013.csv")
    a("--val-data", default=None, help="separate val source (default: --data)")
    a("--arch", default="emolens_vgg", help="registered architecture (see training/models/registry.py)")
    a("--out", default="runs/default", help="run folder for checkpoints and history")
    a("--input-size", type=int, default=44, help="crop fed to the net; 48 = whole image")
    a("--epochs", type=int, default=30, help="epochs to train (with --cpu-budget-min the budget decides instead)")
    a("--batch-size", type=int, default=128)
    a("--optimizer", choices=["sgd", "adam"], default="sgd")
    a("--lr", type=float, default=0.05, help="peak learning rate")
    a("--weight-decay", type=float, default=5e-4)
    a("--schedule", choices=["cosine", "plateau"], default="cosine")
    a("--warmup-epochs", type=float, default=1.0, help="linear warm-up (cosine schedule only)")
    a("--patience", type=int, default=0, help="stop after this many epochs without a val gain (0 = never)")
    a("--label-smoothing", type=float, default=0.1)
    a("--class-weights", choices=["none", "inverse", "sqrt"], default="none",
      help="loss weights: inverse class frequency, its square root, or none")
    a("--oversample", action="store_true", help="sample classes equally often instead of weighting")
    a("--flip", type=int, default=1, help="random horizontal flip (0/1)")
    a("--rotate", type=float, default=10.0, help="max rotation, degrees")
    a("--zoom", type=float, default=0.1, help="max zoom in/out, fraction")
    a("--shift", type=float, default=0.1, help="max shift, fraction of the side")
    a("--shear", type=float, default=10.0, help="max shear, degrees")
    a("--erasing", type=float, default=0.5, help="probability of random erasing")
    a("--contrast", type=float, default=0.0, help="max contrast jitter, fraction (0 = off)")
    a("--brightness", type=float, default=0.0, help="max brightness shift, in units of the data's std (0 = off)")
    a("--blur", type=float, default=0.0, help="probability of a 3x3 Gaussian blur")
    a("--mix", choices=["none", "mixup", "cutmix"], default="none")
    a("--mix-alpha", type=float, default=1.0)
    a("--mix-prob", type=float, default=0.5, help="fraction of batches that are mixed")
    a("--tta", choices=["none", "hflip"], default="hflip", help="val-time augmentation, also baked into the export")
    a("--seed", type=int, default=0)
    a("--deterministic", action="store_true", help="torch deterministic algorithms (slower)")
    a("--threads", type=int, default=os.cpu_count() or 2)
    a("--cpu-budget-min", type=float, default=0, help="stop when the training steps have used this many CPU minutes "
      "(time.process_time, all threads; validation not counted; --budget-clock wall: wall-clock minutes), cutting the "
      "epoch; the LR schedule then runs over the budget instead of --epochs (0 = off)")
    a("--budget-clock", choices=["cpu", "wall"], default="cpu", help="what --cpu-budget-min counts: the process's CPU "
      "time (2-core machines: independent of what else runs) or the training steps' wall-clock time (a GPU)")
    a("--device", default="cpu", help="cpu, cuda, cuda:N or auto (cuda where PyTorch sees one); the data set, the "
      "augmentation, the teacher and the net all live there")
    a("--budget-warmup", type=float, default=0.03, help="with --cpu-budget-min: linear warm-up over this fraction")
    a("--eval-every-min", type=float, default=2.5, help="with --cpu-budget-min: also validate (and checkpoint) every "
      "this many training CPU minutes, so a budget shorter than an epoch still has a curve")
    a("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    a("--limit", type=int, default=0, help="use only the first N train images (smoke tests)")
    a("--resume", action="store_true", help="continue from <out>/last.pt")
    a("--init", default=None, help="start from the weights of this checkpoint (e.g. runs/a/best.pt) with a fresh "
      "optimizer and schedule: fine-tuning or a warm restart; its recipe is kept as the new run's parent")
    a("--cache-dir", default="runs/cache", help="decoded data sets are memoised here as .npz")
    a("--teacher", default=None, help="distil from this shipped model (models/<name>.onnx): the student learns the "
      "teacher's probabilities on the same augmented view (knowledge distillation, Hinton et al. 2015)")
    a("--kd-alpha", type=float, default=0.9, help="weight of the distillation term; 1 - alpha goes to the labels")
    a("--teacher-probs", default=None, help="offline distillation: the train-set probabilities cached by "
      "`python3 -m training ensemble` (one per image, of its un-augmented crop and mirror) stand in for --teacher")
    a("--kd-temperature", type=float, default=2.0, help="softmax temperature of both sides of the distillation term")
    a("--targets", default="fer2013", help="what the label term learns: fer2013 (the one-hot label), ferplus (the FER+ "
      "raters' vote distribution, soft-target cross-entropy) or mix:<w> (w * FER+ + (1 - w) * one-hot)")
    a("--ferplus", default=str(DEFAULT_VOTES), help="FER+ votes: a folder with train.csv/val.csv (file,row,votes...) or "
      "Microsoft's fer2013new.csv (with --data fer2013.csv); also gives the val figures by FER+ majority")
    a("--ferplus-min-votes", type=int, default=1, help="drop an emotion's votes below this count (2: the FER+ paper's "
      "outlier removal of single votes)")
    a("--ferplus-max-unknown", type=float, default=0.5, help="an image with more than this share of unknown/not-a-face "
      "votes has no FER+ target")
    a("--ferplus-missing", choices=["fer2013", "drop"], default="fer2013", help="images without a usable FER+ target: "
      "train on their one-hot FER2013 label, or leave them out")
    a("--select", choices=["auto", "fer2013", "ferplus"], default="auto", help="best.pt is the best val accuracy by "
      "this truth (auto: ferplus majority when the targets use FER+, else fer2013)")
    return p


def cpu_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def main(cfg: argparse.Namespace) -> dict:
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest convolutions
    # recorded with the recipe (and so in the sidecar's stages): where the run trained
    cfg.trained_on = (f"{torch.cuda.get_device_name(device)}, PyTorch {torch.__version__}" if device.type == "cuda"
                      else f"{platform.machine()} CPU, {cfg.threads} threads, PyTorch {torch.__version__}")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    x_train, y_train = load_cached(cfg.data, "train", cfg.cache_dir)
    x_val, y_val = load_cached(cfg.val_data or cfg.data, "val", cfg.cache_dir)
    n_train_full = len(x_train)
    if cfg.limit:
        x_train, y_train = x_train[:cfg.limit], y_train[:cfg.limit]
    # Label-term targets: one-hot FER2013 labels or the FER+ raters' distributions (training/data/ferplus.py).
    val_votes = None
    try:
        val_votes = load_votes(cfg.ferplus, cfg.val_data or cfg.data, "val")
    except DataError as err:
        if cfg.targets != "fer2013":
            raise
        print(f"no FER+ val figures ({err})", flush=True)
    train_votes = load_votes(cfg.ferplus, cfg.data, "train")[:len(x_train)] if cfg.targets != "fer2013" else None
    t_train, keep, target_info = make_targets(cfg.targets, y_train, train_votes, cfg.ferplus_min_votes,
                                              cfg.ferplus_max_unknown, cfg.ferplus_missing)
    x_train, y_train, t_train = x_train[keep], y_train[keep], t_train[keep]
    cfg.target_info = target_info
    select = cfg.select if cfg.select != "auto" else ("fer2013" if cfg.targets == "fer2013" or val_votes is None else "ferplus")
    if select == "ferplus" and val_votes is None:
        raise UsageError("--select ferplus needs FER+ val votes (--ferplus)")
    cfg.selected_by = select
    if cfg.targets != "fer2013":
        print(f"targets {cfg.targets}: {target_info}; best.pt by {select} val accuracy", flush=True)
    counts = class_counts(y_train)
    mean, std = float(x_train.mean() / 255), float(x_train.std() / 255)
    print(f"train {len(x_train)}  val {len(x_val)}  classes {dict(zip(EMOTIONS, counts.tolist()))}", flush=True)

    model = create_model(cfg.arch).to(device, memory_format=torch.channels_last)
    if hasattr(model, "set_input_normalization"):  # nets that undo the data's normalisation in-graph (facerec_*)
        model.set_input_normalization(mean, std)
    params, macs = count_parameters(model), count_macs(model, cfg.input_size)
    print(f"{cfg.arch}: {params:,} parameters, {macs / 1e6:.1f} M MACs at {cfg.input_size}px", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr)

    weights = None
    if cfg.class_weights != "none":
        w = counts.sum() / np.maximum(counts, 1) / len(counts)
        w = np.sqrt(w) if cfg.class_weights == "sqrt" else w
        weights = torch.tensor(w / (w * counts).sum() * counts.sum(), dtype=torch.float32, device=device)  # mean 1 per sample
    sample_p = None
    if cfg.oversample:
        sample_p = (1.0 / counts)[y_train]
        sample_p /= sample_p.sum()

    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3) \
        if cfg.schedule == "plateau" else None

    def lr_at(step: int, spent_s: float) -> float:
        if cfg.cpu_budget_min:  # progress is the share of the budget used (budgeted training, Li et al. 2020)
            done = spent_s / (cfg.cpu_budget_min * 60)
            if done < cfg.budget_warmup:
                return cfg.lr * max(done / cfg.budget_warmup, 1e-3)
            return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (done - cfg.budget_warmup) / (1 - cfg.budget_warmup))))
        warm = cfg.warmup_epochs * steps_per_epoch
        if step < warm:
            return cfg.lr * (step + 1) / warm
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))

    history: list[dict] = []
    start_epoch, best_acc, step = 0, -1.0, 0
    order, pos = None, 0  # this epoch's sample order and how far into it training is
    train_cpu_s = val_cpu_s = wall_s = step_wall_s = 0.0  # step_wall_s: wall-clock time of the training steps
    parent = None
    if cfg.init and not (cfg.resume and (out / "last.pt").exists()):
        init = load_checkpoint(cfg.init)
        try:  # the same architecture, or one with the same state dict (facerec* at another working size)
            model.load_state_dict(init["model"])
        except RuntimeError:
            raise UsageError(f"--init {cfg.init} holds a {init.get('arch')}, whose weights do not fit a {cfg.arch}") from None
        mean, std = init["mean"], init["std"]  # the weights expect the parent's normalisation
        parent_history = Path(cfg.init).parent / "history.json"
        parent = {"checkpoint": str(cfg.init), "config": init["config"], "parent": init.get("parent"),
                  "history": json.loads(parent_history.read_text()) if parent_history.exists() else []}
        print(f"initialised from {cfg.init} (epoch {init.get('epoch', -1) + 1}, "
              f"val acc {init.get('val', {}).get('accuracy', float('nan')):.4f})", flush=True)
    if cfg.resume and (out / "last.pt").exists():
        ckpt = load_checkpoint(out / "last.pt")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if plateau and ckpt.get("plateau"):
            plateau.load_state_dict(ckpt["plateau"])
        start_epoch, best_acc, step, history = ckpt["epoch"] + 1, ckpt["best_acc"], ckpt["step"], ckpt["history"]
        if not ckpt.get("epoch_done", True):  # an epoch cut by --eval-every-min / the budget: finish it
            start_epoch, order, pos = ckpt["epoch"], ckpt["order"], ckpt["pos"]
        train_cpu_s, val_cpu_s, wall_s = ckpt.get("train_cpu_s", 0.0), ckpt.get("val_cpu_s", 0.0), ckpt.get("wall_s", 0.0)
        step_wall_s = ckpt.get("step_wall_s", 0.0)
        mean, std, parent = ckpt["mean"], ckpt["std"], ckpt.get("parent")  # as the run began, not recomputed
        torch.set_rng_state(ckpt["rng"])
        if device.type == "cuda" and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
        print(f"resumed from epoch {start_epoch}, best val acc {best_acc:.4f}", flush=True)
    (out / "config.json").write_text(json.dumps(vars(cfg), indent=2))

    teacher = None
    if cfg.teacher:
        teacher = Teachers(cfg.teacher, cfg.input_size).to(device, memory_format=torch.channels_last)
        cfg.teacher_members = teacher.members  # recorded in the config, so the export's lineage names each member
        print(f"distilling from {len(teacher.members)} teacher(s) (alpha {cfg.kd_alpha}, T {cfg.kd_temperature}): "
              + ", ".join(f"{m['name']} ({m['valAccuracy']:.4f} val)" if m["valAccuracy"] else m["name"]
                          for m in teacher.members), flush=True)

    teacher_logp = None
    if cfg.teacher_probs:
        if cfg.teacher:
            raise UsageError("--teacher and --teacher-probs: choose one")
        # log-probabilities act as logits: softmax(log p / T) is p softened at temperature T
        probs_train = load_teacher_probs(cfg.teacher_probs, n_train_full)[:len(keep)][keep]  # --limit, then --targets' drops
        teacher_logp = torch.from_numpy(np.log(np.clip(probs_train, 1e-8, 1)))
        teacher_logp = teacher_logp.to(device)
        print(f"distilling from cached targets {cfg.teacher_probs} (alpha {cfg.kd_alpha}, T {cfg.kd_temperature})",
              flush=True)

    x_train_t = torch.from_numpy(x_train).to(device)  # 28,709 x 48 x 48 uint8: 66 MB, on the GPU too
    y_train_t = torch.from_numpy(y_train).to(device)
    soft = cfg.targets != "fer2013"
    t_train_t = torch.from_numpy(t_train).to(device) if soft else None
    epochs_without_gain, epoch_best_acc = 0, best_acc
    budget_s = cfg.cpu_budget_min * 60
    eval_every_s = cfg.eval_every_min * 60 if budget_s else 0
    # What the budget counts: CPU seconds of the training steps (all threads), or their wall-clock seconds.
    spent = (lambda: train_cpu_s) if cfg.budget_clock == "cpu" else (lambda: step_wall_s)  # noqa: E731
    next_eval_s = (math.floor(spent() / eval_every_s) + 1) * eval_every_s if eval_every_s else math.inf
    epoch = start_epoch
    # With a budget the budget alone ends the run: an epoch cap would stop it before its LR schedule has annealed.
    while spent() < budget_s if budget_s else epoch < cfg.epochs:
        # One segment: the rest of this epoch, or up to the next --eval-every-min point or the end of the budget.
        t0 = time.time()
        model.train()
        if order is None:
            if sample_p is not None:
                order = torch.from_numpy(np.random.choice(len(x_train), len(x_train), p=sample_p))
            else:
                order = torch.randperm(len(x_train))
            pos = 0
        seen, loss_sum, correct = 0, 0.0, 0
        while pos < len(order):
            c0, w0 = time.process_time(), time.perf_counter()
            idx = order[pos:pos + cfg.batch_size]
            xb, yb = normalize(x_train_t[idx], mean, std), y_train_t[idx]
            tb = t_train_t[idx] if soft else yb  # what the label term learns: soft targets or class indices
            xb = random_affine(xb, cfg.rotate, cfg.zoom, cfg.shift, cfg.shear, bool(cfg.flip))
            xb = random_crop(xb, cfg.input_size)
            if cfg.contrast or cfg.brightness or cfg.blur:
                xb = random_photometric(xb, cfg.contrast, cfg.brightness, cfg.blur)
            if cfg.erasing > 0:
                xb = random_erasing(xb, cfg.erasing)
            xb = xb.contiguous(memory_format=torch.channels_last)
            if plateau is None:
                for g in opt.param_groups:
                    g["lr"] = lr_at(step, spent())
            if cfg.mix != "none" and random.random() < cfg.mix_prob:
                xb, ta, tb2, lam = mix(xb, tb, cfg.mix, cfg.mix_alpha)
                logits = model(xb)
                loss = lam * F.cross_entropy(logits, ta, weights, label_smoothing=cfg.label_smoothing) + \
                    (1 - lam) * F.cross_entropy(logits, tb2, weights, label_smoothing=cfg.label_smoothing)
            else:
                logits = model(xb)
                loss = F.cross_entropy(logits, tb, weights, label_smoothing=cfg.label_smoothing)
            if teacher is not None:  # the teacher sees exactly the student's (possibly mixed) view, as 0..1 pixels
                teacher_logits = teacher(xb * std + mean)
                loss = (1 - cfg.kd_alpha) * loss + \
                    cfg.kd_alpha * distillation_loss(logits, teacher_logits, cfg.kd_temperature)
            elif teacher_logp is not None:
                loss = (1 - cfg.kd_alpha) * loss + \
                    cfg.kd_alpha * distillation_loss(logits, teacher_logp[idx], cfg.kd_temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            pos += len(idx)
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            train_cpu_s += time.process_time() - c0  # loss.item() above waited for the GPU: the step is done
            step_wall_s += time.perf_counter() - w0
            if cfg.max_steps and step >= cfg.max_steps:
                break
            if budget_s and (spent() >= budget_s or spent() >= next_eval_s):
                break
        epoch_done = pos >= len(order) or not budget_s  # without a budget only --max-steps cuts an epoch: as before
        while spent() >= next_eval_s:
            next_eval_s += eval_every_s

        c0 = time.process_time()
        probs = predict(model, x_val, cfg, mean, std)
        val_cpu_s += time.process_time() - c0
        report = {**classification_report(y_val, probs.argmax(1)), **calibration_report(y_val, probs)}
        val_loss = float(-np.log(np.clip(probs[np.arange(len(y_val)), y_val], 1e-7, 1)).mean())
        fp = ferplus_evaluate(probs, y_val, val_votes) if val_votes is not None else None
        wall_s += time.time() - t0
        row = {
            # a whole number at an epoch's end; a fraction where --eval-every-min or the budget cut an epoch
            "epoch": epoch + 1 if epoch_done else round(epoch + pos / len(order), 3),
            "step": step, "lr": opt.param_groups[0]["lr"], "seconds": round(time.time() - t0, 1),
            "train_cpu_seconds": round(train_cpu_s, 3), "val_cpu_seconds": round(val_cpu_s, 3),
            "train_step_seconds": round(step_wall_s, 3),
            "wall_seconds": round(wall_s, 1),
            "train_loss": loss_sum / max(1, seen), "train_acc": correct / max(1, seen),
            "val_loss": val_loss, "val_acc": report["accuracy"], "val_macro_f1": report["macroF1"],
            "val_ece": report["ece"],
            "val_recall": {k: v["recall"] for k, v in report["perClass"].items()},
        }
        if fp:
            row.update({"val_ferplus_acc": fp["majority"]["accuracy"], "val_ferplus_macro_f1": fp["majority"]["macroF1"],
                        "val_ferplus_ce": fp["distribution"]["crossEntropy"], "val_ferplus_kl": fp["distribution"]["kl"],
                        "val_ferplus_ece": fp["distribution"]["ece"],
                        "val_ferplus_recall": {k: v["recall"] for k, v in fp["majority"]["perClass"].items()}})
        score = fp["majority"]["accuracy"] if select == "ferplus" else report["accuracy"]
        history.append(row)
        if plateau and epoch_done:
            plateau.step(score)
        improved = score > best_acc
        if improved:
            best_acc = score
        if epoch_done:
            epochs_without_gain = 0 if best_acc > epoch_best_acc else epochs_without_gain + 1
            epoch_best_acc = best_acc
        recalls = " ".join(f"{k[:3]}={v:.2f}" for k, v in row["val_recall"].items())
        budget = f"  {cfg.budget_clock} {spent() / 60:.1f}/{cfg.cpu_budget_min:g} min" if budget_s else ""
        of_epochs = "" if budget_s else f"/{cfg.epochs}"  # a budgeted run is not counted in epochs
        print(f"epoch {row['epoch']:>7}{of_epochs}  {row['seconds']:5.0f}s{budget}  lr {row['lr']:.4f}  "
              f"train loss {row['train_loss']:.3f} acc {row['train_acc']:.3f}  "
              f"val loss {val_loss:.3f} acc {report['accuracy']:.4f} F1 {report['macroF1']:.3f} ECE {report['ece']:.3f}  "
              f"recall {recalls}"
              + (f"  | FER+ acc {fp['majority']['accuracy']:.4f} F1 {fp['majority']['macroF1']:.3f} "
                 f"KL {fp['distribution']['kl']:.3f} ECE {fp['distribution']['ece']:.3f}" if fp else "")
              + f"{'  *' if improved else ''}", flush=True)

        if epoch_done:
            epoch, order, pos = epoch + 1, None, 0
        meta = {"arch": cfg.arch, "config": vars(cfg), "mean": mean, "std": std, "parameters": params, "macs": macs,
                "parent": parent}
        # epoch = the last epoch touched; order/pos let --resume continue a cut epoch where it stopped
        ckpt = {"model": cpu_state(model), "optimizer": opt.state_dict(), "epoch": epoch - 1 if epoch_done else epoch,
                "epoch_done": epoch_done, "order": order, "pos": pos, "step": step, "best_acc": best_acc,
                "epoch_best_acc": epoch_best_acc, "history": history, "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "train_cpu_s": train_cpu_s, "val_cpu_s": val_cpu_s, "wall_s": wall_s, "step_wall_s": step_wall_s,
                "plateau": plateau.state_dict() if plateau else None, **meta}
        torch.save(ckpt, out / "last.pt.tmp")
        os.replace(out / "last.pt.tmp", out / "last.pt")
        if improved:
            torch.save({"model": ckpt["model"], "epoch": ckpt["epoch"], "history_row": len(history) - 1,
                        "val": report, "val_ferplus": fp, **meta}, out / "best.pt")
        (out / "history.json").write_text(json.dumps(history, indent=1))
        if cfg.max_steps and step >= cfg.max_steps:
            break
        if cfg.patience and epochs_without_gain >= cfg.patience:
            print(f"early stop: no val gain for {cfg.patience} epochs", flush=True)
            break
    if budget_s and spent() >= budget_s:
        print(f"{cfg.budget_clock.upper() if cfg.budget_clock == 'cpu' else 'wall-clock'} budget reached: "
              f"{train_cpu_s / 60:.2f} CPU-min of training (+{val_cpu_s / 60:.2f} validating), "
              f"{step_wall_s / 60:.2f} min of training steps, {wall_s / 60:.1f} min wall", flush=True)
    print(f"best val acc ({select}) {best_acc:.4f}; checkpoints in {out}", flush=True)
    return {"best_acc": best_acc, "history": history}
