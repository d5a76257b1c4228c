#!/usr/bin/env bash
# Exports one zoo run and measures it (docs/zoo.md): ONNX + sidecar, `emolens eval` on FER2013 val (JSON + HTML report)
# and `emolens bench` (REPEATS times; docs/zoo.md takes the minimum). Needs dist/ (npm run build).
#   bash scripts/zoo-measure.sh ARCH [models|run]     models = export into models/ (shipped), run = runs/zoo/ARCH/model/
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="$1"; WHERE="${2:-run}"; REPEATS="${REPEATS:-2}"
RUN="runs/zoo/$ARCH"; NAME="zoo-$ARCH"
OUT="$RUN/model"; [ "$WHERE" = models ] && OUT=models
nice -n 5 bash training/py.sh -m training export --run "$RUN" --name "$NAME" --out "$OUT" | tee "$RUN/export.log"
nice -n 5 node bin/emolens.js eval --model "$OUT/$NAME.onnx" --data ../shared/datasets/fer2013 --split val --json \
  --report "$RUN/report.html" > "$RUN/eval.json"
for i in $(seq 1 "$REPEATS"); do
  nice -n 5 node bin/emolens.js bench --model "$OUT/$NAME.onnx" --no-compare --json > "$RUN/bench-$i.json"
done
node -e "const e=require('./$RUN/eval.json'); console.log('eval: acc', e.accuracy.toFixed(4), 'F1', e.macroF1.toFixed(4), 'ECE', e.ece.toFixed(4))"
