#!/usr/bin/env bash
# Trains the seed architectures one after another under one equal CPU budget (docs/zoo.md), then stops.
# Resumable: run it again and each run continues from runs/zoo/<arch>/last.pt (a finished one returns at once).
#   bash scripts/zoo-train.sh [ARCH...]      (default: all five; BUDGET_MIN=6, EVAL_MIN=3 by default)
# EVAL_MIN only sets how often val is measured (the curve's points): it does not change what is trained.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_MIN="${BUDGET_MIN:-6}"
EVAL_MIN="${EVAL_MIN:-3}"
ARCHS=("$@")
[ ${#ARCHS[@]} -gt 0 ] || ARCHS=(mini_xception seed002_cnn seed001_cnn12 seed003_gelu_cnn seed000_mobilenet_v2)
# PyTorch's OpenMP threads spin while they wait; on a shared machine that spinning would be billed to the budget.
export OMP_WAIT_POLICY=PASSIVE
for arch in "${ARCHS[@]}"; do
  mkdir -p "runs/zoo/$arch"
  echo "$(date -u +%FT%TZ) start $arch" >> runs/zoo/driver.log
  nice -n 5 bash training/py.sh -m training train --arch "$arch" --data ../shared/datasets/fer2013 \
    --out "runs/zoo/$arch" --input-size 48 --batch-size 128 --epochs 100 --optimizer adam --lr 0.001 \
    --weight-decay 0.01 --threads 2 --seed 0 --cpu-budget-min "$BUDGET_MIN" --eval-every-min "$EVAL_MIN" --resume \
    >> "runs/zoo/$arch/train.log" 2>&1
  echo "$(date -u +%FT%TZ) done $arch" >> runs/zoo/driver.log
done
