#!/usr/bin/env bash
# Exact commands that made the models in this folder (2-core CPU, TF 2.21 / Keras 3.15).
# Run from the repository root with ../shared/data beside it. Takes a few hours on 2 cores.
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=3

# 1. Degradation models: 40 training pairs of ../shared/data/realsr_x4, 10 held out
#    (every 5th pair: Canon/Nikon 005, 010, 015, 020, 025 = saved_models/realsr_x4_val.csv).
COMMON="../shared/data/realsr_x4 --scale 4 --val-fraction 0.2 --patch-size 64 --batch-size 8 --steps 3000 --steps-per-epoch 250 --seed 0 --quiet"
dml train-degradation $COMMON --out runs/global-kernel  --model global-kernel
dml train-degradation $COMMON --out runs/directnet      --model directnet
dml train-degradation $COMMON --out runs/directkpn      --model directkpn
dml train-degradation $COMMON --out runs/dml_paper      --model dml --weight-init half
dml train-degradation $COMMON --out runs/dml_mix        --model dml --basis-init gaussian
dml train-degradation $COMMON --out runs/dml_tone       --model dml --basis-init gaussian --tone-offset
dml train-degradation $COMMON --out runs/dml_unit       --model dml --basis-init gaussian --tone-offset --unit-sum-kernels
for m in identity bicubic runs/global-kernel runs/directnet runs/directkpn runs/dml_paper runs/dml_mix runs/dml_tone runs/dml_unit; do
  dml evaluate-degradation "$m" saved_models/realsr_x4_val.csv --json "runs/eval_$(basename $m).json"
done

# 2. Clean HR photos for synthesis: the 40 training-split HR crops + 4 photos bundled with scikit-image.
python - <<'PY'
import csv, os, shutil
import skimage.data
from dml_keras.data import write_image
os.makedirs("runs/clean_hr", exist_ok=True)
with open("saved_models/realsr_x4_train.csv") as f:
    for row in csv.DictReader(f):
        shutil.copy(os.path.join("saved_models", row["hr"]), "runs/clean_hr/" + os.path.basename(row["hr"]))
for name in ("astronaut", "coffee", "chelsea", "rocket"):
    write_image(f"runs/clean_hr/skimage_{name}.png", getattr(skimage.data, name)() / 255.0)
PY

# 3. SR models (a small VDSR: 10 layers x 32 channels), evaluated on the 10 held-out real pairs.
SR="--arch vdsr --scale 4 --depth 10 --filters 32 --patch-size 48 --batch-size 16 --steps 2000 --steps-per-epoch 250 --learning-rate 3e-4 --seed 0 --quiet --val saved_models/realsr_x4_val.csv"
dml train-sr --degradation bicubic --hr-dir runs/clean_hr --noise-sigma 0 --out runs/sr_bicubic $SR
dml train-sr --degradation runs/dml_mix/model.keras --hr-dir runs/clean_hr --noise-sigma 5 --out runs/sr_syndml $SR
dml train-sr saved_models/realsr_x4_train.csv --out runs/sr_real $SR
dml train-sr saved_models/realsr_x4_train.csv --degradation runs/dml_mix/model.keras --hr-dir runs/clean_hr \
    --noise-sigma 5 --synthetic-fraction 0.5 --out runs/sr_real_syndml $SR
for m in sr_bicubic sr_syndml sr_real sr_real_syndml; do
  dml evaluate-sr runs/$m saved_models/realsr_x4_val.csv --json runs/eval_$m.json
done
