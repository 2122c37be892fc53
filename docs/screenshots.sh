#!/usr/bin/env bash
# Reproduce the TensorBoard screenshots of docs/tensorboard.md from a small, real QA sweep.
#
#   docs/screenshots.sh [OUT_DIR]      # default OUT_DIR: docs/screenshots
#
# 1. trains 6 runs (binary and hedging_grid, seeds 0-2, 100k binary warm-up + 300k steps;
#    ~2 min on 2 cores) into $SWEEP_DIR (default /tmp/tbsweep; reused if it already holds
#    the 6 finished runs),
# 2. serves them with TensorBoard on 127.0.0.1:$PORT (default 6123) only,
# 3. drives headless Chromium over its DevTools pipe (Python stdlib, no extra packages) and
#    writes custom_scalars.png, hparams.png, timeseries.png and images.png to OUT_DIR.
# TensorBoard and Chromium are stopped on exit.
#
# Needs the project's .venv (make demo / make test) and Chromium:
#   apt-get install chromium          # or CHROMIUM=/path/to/chrome
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo/docs/screenshots}
sweep=${SWEEP_DIR:-/tmp/tbsweep}
port=${PORT:-6123}
venv=${VENV:-$repo/.venv}
export CHROMIUM=${CHROMIUM:-chromium}
base="http://127.0.0.1:$port"

command -v "$CHROMIUM" >/dev/null || { echo "no $CHROMIUM: apt-get install chromium" >&2; exit 1; }
[ -x "$venv/bin/incentives-train" ] || { echo "no $venv: run make demo first" >&2; exit 1; }
if curl -s -o /dev/null "$base"; then
    echo "something already answers on $base; set PORT=..." >&2
    exit 1
fi
mkdir -p "$out"

# 1. the sweep
finished=$( (find "$sweep" -name summary.json 2>/dev/null || true) | wc -l)
if [ "$finished" -ge 6 ]; then
    echo "reusing the sweep in $sweep"
else
    echo "training 6 runs into $sweep (~2 min on 2 cores)"
    (cd "$repo" && "$venv/bin/incentives-train" -m +experiment=qa_grid \
        reward=binary,hedging_grid seed=0,1,2 budget=300000 \
        'warmup=[{reward: binary, steps: 100000}]' eval.every=100000 progress_bar=false \
        "hydra.sweep.dir=$sweep" agent.torch_threads=1)
fi

# 2. TensorBoard, loopback only, stopped on exit
"$venv/bin/tensorboard" --logdir "$sweep" --host 127.0.0.1 --port "$port" \
    >"$sweep/tensorboard.log" 2>&1 &
tb=$!
stop() { kill "$tb" 2>/dev/null || true; wait "$tb" 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM HUP PIPE
for _ in $(seq 120); do  # until it answers and has loaded the 6 runs
    runs=$(curl -s "$base/data/runs" 2>/dev/null | grep -o 'seed[0-9]' | wc -l || true)
    [ "${runs:-0}" -ge 6 ] && break
    kill -0 "$tb" 2>/dev/null || { cat "$sweep/tensorboard.log" >&2; exit 1; }
    sleep 1
done
[ "${runs:-0}" -ge 6 ] || { echo "TensorBoard did not load the runs" >&2; exit 1; }
sleep 5  # let it finish reading the event files

# 3. the screenshots
python3 - "$base" "$out" <<'PY'
import base64, json, os, subprocess, sys, tempfile, time
from urllib.parse import quote

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe"]
# Finds elements through shadow roots (TensorBoard's Polymer dashboards live in them).
DEEP = """
window.__deep = (sel, root = document, out = []) => {
  for (const e of root.querySelectorAll('*')) {
    if (e.matches(sel)) out.push(e);
    if (e.shadowRoot) window.__deep(sel, e.shadowRoot, out);
  }
  return out;
};
window.__setBox = (label, on) => {
  const hits = window.__deep('paper-checkbox').filter(b => b.textContent.trim() === label);
  for (const b of hits) if (!!b.checked !== on) b.click();
  return hits.length;
};
"""
# Chart settings TensorBoard keeps in localStorage: no outlier clipping (it cuts curves
# off), no smoothing, the time-series settings pane closed.
PREFS = {"ignoreOutliers": False, "scalarSmoothing": 0, "timeSeriesSettingsPaneOpened": False}
SET_PREFS = ("localStorage.setItem('_ignoreYOutliers', 'false');"
             f"localStorage.setItem('_tb_global_settings', '{json.dumps(PREFS)}');")


class Browser:
    """One headless Chromium page, driven over the DevTools pipe (fd 3 in, fd 4 out)."""

    def __init__(self, width, height):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()

        def child():
            a, b = os.dup(to_r), os.dup(from_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [os.environ["CHROMIUM"], *FLAGS, f"--user-data-dir={tempfile.mkdtemp()}",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=child, pass_fds=(3, 4, to_r, from_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.buf, self.n = b"", 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.sid = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.page("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method, sid=None, **params):
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params}
        if sid:
            msg["sessionId"] = sid
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.n:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, method, **params):
        return self.call(method, self.sid, **params)

    def js(self, expr):
        r = self.page("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:60]}: {r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    def goto(self, url, ready, settle=4.0, timeout=60.0):
        """Open url, wait until the JS expression ready is true, then settle seconds."""
        self.page("Page.navigate", url=url)
        end = time.monotonic() + timeout
        while True:
            time.sleep(1)
            self.js(DEEP)
            if self.js(ready):
                break
            if time.monotonic() > end:
                raise RuntimeError(f"{url}: not ready ({ready})")
        time.sleep(settle)

    def shot(self, path):
        data = self.page("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        print(f"{path}: {os.path.getsize(path) // 1024} KB")

    def close(self):
        try:
            self.call("Browser.close")
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def view(size, url, ready, path, clicks=(), settle=4.0):
    b = Browser(*size)
    try:
        b.goto(base + "/", "document.readyState === 'complete'", settle=1)
        b.js(SET_PREFS)
        b.goto(base + url, ready, settle)
        for label, on in clicks:
            if not b.js(f"window.__setBox({json.dumps(label)}, {json.dumps(on)})"):
                print(f"warning: no checkbox {label!r}", file=sys.stderr)
        if clicks:
            time.sleep(2)
        b.shot(path)
    finally:
        b.close()


base, out = sys.argv[1], sys.argv[2]
cards = "window.__deep('{}').length >= {}".format

view((1400, 1780), "/#custom_scalars&_smoothingWeight=0",
     cards("tf-custom-scalar-multi-line-chart-card", 9), f"{out}/custom_scalars.png", settle=6)

# HParams shows the first 5 hparams and 5 metrics by default; pick the informative ones.
view((2200, 520), "/#hparams",
     "window.__deep('paper-checkbox').some(b => b.textContent.trim() === 'eval/heldout/task_score')",
     f"{out}/hparams.png",
     clicks=[("agent.size", False), ("budget", False), ("env", False), ("experiment", False),
             ("reward", True), ("reward.params", True), ("seed", True), ("warmup", True),
             ("eval/heldout/answer_rate", False), ("eval/heldout/hedge_rate", False),
             ("eval/heldout/abstain_rate", True), ("eval/heldout/hallucination_rate", True),
             ("eval/heldout/abstain_rate_unanswerable", False),
             ("eval/heldout/t_hat", True), ("eval/heldout/regret_relative", True),
             ("eval/heldout/explicit_return", True), ("eval/heldout/task_score", True)])

tags = r"^(explicit/return|task/score|eval/heldout/(t_hat|regret|abstain_rate|hallucination_rate))$"
view((1400, 1100), f"/?smoothing=0&tagFilter={quote(tags)}#timeseries",
     cards("scalar-card", 6), f"{out}/timeseries.png", settle=6)

view((1400, 620), "/#images&regexInput=seed0",
     "window.__deep('img').filter(i => i.naturalWidth > 300).length >= 2",
     f"{out}/images.png")
PY
