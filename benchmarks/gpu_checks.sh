#!/usr/bin/env bash
# The checks only a GPU can show, in one go, for a machine with CUDA and torch but none of
# our other dependencies (the lent H200: Python 3.12, no network). Run from the checkout:
#
#   OUT=/tmp/gpu bash benchmarks/gpu_checks.sh
#   OUT=/tmp/gpu ONLY="speed" bash benchmarks/gpu_checks.sh   # issue 20's speed checks only
#
# Wheels of what the machine lacks are expected in .whl/ (pure-Python ones, downloaded or
# built elsewhere: gymnasium, stable-baselines3, sb3-contrib, chess, hydra-core,
# omegaconf, antlr4-python3-runtime, hydra-joblib-launcher, farama-notifications). Each
# step has its own time limit and writes its output under $OUT as it goes, so a step that
# runs long costs only itself. What it measured: docs/gpu.md.
set -u
OUT=${OUT:-/tmp/gpu}
JOBS=${JOBS:-14}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONHASHSEED=0

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="/tmp/site:$PWD"
# Our schemes and domains are entry points: without a pip install of the checkout, an
# installed-distribution record that declares them does the same.
python3 - <<'EOF'
import pathlib, tomllib
meta = tomllib.loads(pathlib.Path("pyproject.toml").read_text())
info = pathlib.Path("/tmp/site/incentives-0.1.0.dist-info")
info.mkdir(parents=True, exist_ok=True)
(info / "METADATA").write_text("Metadata-Version: 2.1\nName: incentives\nVersion: 0.1.0\n")
groups = meta["project"]["entry-points"]
(info / "entry_points.txt").write_text("".join(
    f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) + "\n"
    for group, points in groups.items()))
EOF
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc;
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"; } \
  > "$OUT/machine.txt" 2>&1

step() {  # step NAME SECONDS COMMAND...: run with a limit, keep its output
  local name=$1 limit=$2; shift 2
  case " ${ONLY:-all} " in *" all "*|*" $name "*) ;; *) return 0 ;; esac
  echo "== $name ($(date +%T))" | tee -a "$OUT/steps.txt"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  echo "== $name exit $? ($(date +%T))" | tee -a "$OUT/steps.txt"
}

# ONLY: the steps to run, by name; "speed" names issue 20's (3, 3b).
if [[ " ${ONLY:-all} " == *" speed "* ]]; then
  ONLY="${ONLY} device_auto qa_cuda chess_envs qa_cpu chess_cpu"
fi
# 1. The text transformer's tokens/s: the toolkit's learner against a plain loop.
step text_throughput 80 python3 benchmarks/text_throughput.py --device cuda \
  --sizes small base large xl --updates 100 --repeats 3
# 2. Chess: the residual towers (their device is the GPU) against the stock policy.
step chess_throughput 100 python3 benchmarks/chess_training_throughput.py --device cuda \
  --configs stock chess_mlp resnet_small resnet_base --steps 8192 --repeats 1
# 3. agent.device=auto through the CLI picks the GPU and records it.
step device_auto 60 bash -c '
  python3 -m incentives.run.cli env=chess agent=maskable_ppo reward=sparse_win \
    agent.policy=chess_resnet agent.size=small agent.device=auto budget=4096 \
    eval.every=0 eval.episodes=32 eval.n_envs=8 progress_bar=false hydra.run.dir=/tmp/runs/auto_chess &&
  python3 -c "import json; s = json.load(open(\"/tmp/runs/auto_chess/summary.json\")); print(s[\"scale\"])"'
# 3b. Issue 20's speed checks ("speed"), three at once on separate cores: the QA update and
#     runs with the network on the GPU; the chess towers at more envs; and, with the GPU
#     hidden, the QA and chess CPU benchmarks on a machine with nothing else running.
{ step qa_cuda 150 python3 benchmarks/qa_training_throughput.py --device cuda \
    --contenders update fast cli --steps 262144
  step chess_envs 150 python3 benchmarks/chess_training_throughput.py --device cuda \
    --configs stock chess_mlp_defaults resnet_small resnet_base --n-envs 8 64 --steps 8192 \
    --repeats 1; } &
CUDA_VISIBLE_DEVICES="" step qa_cpu 300 python3 benchmarks/qa_training_throughput.py --repeats 3 &
CUDA_VISIBLE_DEVICES="" step chess_cpu 300 python3 benchmarks/chess_training_throughput.py \
  --configs stock chess_mlp_defaults cli --steps 8192 --repeats 3 &
wait
# 4. The text experiments: next_token vs answer_only, five sizes, two budgets, 3 seeds;
#    then ten specialists against one generalist at the same total compute.
mkdir -p /tmp/runs
step text_multitask 230 python3 -m incentives.run.cli -m +experiment=text_multitask \
  hydra/launcher=joblib hydra.launcher.n_jobs="$JOBS" agent.device=cuda \
  budget=1000000,4000000 agent.size=tiny,small,base,large,xl \
  hydra.sweep.dir=/tmp/runs/text_multitask
step text_specialists 80 bash -c "
  python3 -m incentives.run.cli -m +experiment=text_specialists hydra/launcher=joblib \
    hydra.launcher.n_jobs=$JOBS agent.device=cuda hydra.sweep.dir=/tmp/runs/text_specialists &&
  python3 -m incentives.run.cli -m +experiment=text_specialists 'env.kwargs.families=null' \
    budget=2000000 seed=0,1,2 hydra/launcher=joblib hydra.launcher.n_jobs=$JOBS \
    agent.device=cuda hydra.sweep.dir=/tmp/runs/text_specialists"
(cd /tmp/runs && find . \( -name summary.json -o -name 'progress*.csv' -o -name config.yaml \) \
  -print0 | tar czf "$OUT/runs.tgz" --null -T -)
ls -la "$OUT"
