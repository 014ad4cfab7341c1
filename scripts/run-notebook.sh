#!/usr/bin/env bash
# Runs the project notebook with Jupyter and the tslab (TypeScript) kernel.
#
# Usage: bash scripts/run-notebook.sh [--last-two | --save | --open [JUPYTER ARGS]] [--notebook FILE] [--timeout SECONDS]
# Modes:
#   (none)      headless quick run (MUSICGEN_QUICK=1: lib/notebook/config.ts then uses a few files, a small
#               model and one epoch); the executed copy goes to out/<name>.executed.ipynb — the committed
#               notebook is not touched
#   --last-two  headless quick run of ONLY the last two code cells, in a fresh kernel (checks that they work
#               on their own); the executed copy goes to out/<name>.last-two.executed.ipynb
#   --save      headless full run (MUSICGEN_QUICK unset; a few minutes on 2 cores, most of it training the
#               notebook's model) that replaces the notebook's outputs in place
#   --open      start Jupyter Notebook on the notebook (any further arguments go to `jupyter notebook`)
# Options:
#   --notebook FILE    notebook to run (default: Music_Generator.ipynb in the project root)
#   --timeout SECONDS  per-cell time limit (default 900; 7200 with --save; env NOTEBOOK_TIMEOUT)
# The kernel always starts in the project root, so cells import project code as `./lib/...`.
# Needs Jupyter and the tslab kernel: run `bash scripts/setup.sh` first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=quick
NOTEBOOK="$ROOT/Music_Generator.ipynb"
TIMEOUT="${NOTEBOOK_TIMEOUT:-}"
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --last-two) MODE=last-two ;;
    --save) MODE=save ;;
    --open) MODE=open ;;
    --notebook) NOTEBOOK="${2:?--notebook needs a file}"; shift ;;
    --notebook=*) NOTEBOOK="${1#*=}" ;;
    --timeout) TIMEOUT="${2:?--timeout needs a number of seconds}"; shift ;;
    --timeout=*) TIMEOUT="${1#*=}" ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; EXTRA+=("$@"); break ;;
    *)
      if [ "$MODE" = open ]; then EXTRA+=("$1")
      else echo "run-notebook: unknown option '$1' (try --help)" >&2; exit 2; fi ;;
  esac
  shift
done
[ -n "$TIMEOUT" ] || { [ "$MODE" = save ] && TIMEOUT=7200 || TIMEOUT=900; }
case "$TIMEOUT" in '' | *[!0-9]*) echo "run-notebook: --timeout must be a whole number of seconds (got '$TIMEOUT')" >&2; exit 2 ;; esac

fail() { echo "run-notebook: error: $*" >&2; exit 1; }

case "$NOTEBOOK" in /*) ;; *) NOTEBOOK="$PWD/$NOTEBOOK" ;; esac
[ -f "$NOTEBOOK" ] || fail "notebook not found: $NOTEBOOK"
command -v jupyter >/dev/null 2>&1 && command -v jupyter-nbconvert >/dev/null 2>&1 \
  || fail "Jupyter (notebook + nbconvert) is not installed; run: bash scripts/setup.sh"
# The registered kernel starts a tslab by absolute path; a registration from a moved or deleted checkout
# would make every run fail with a bare "No such file or directory".
KERNEL_BIN="$(jupyter kernelspec list --json 2>/dev/null \
  | python3 -c 'import json, sys; k = json.load(sys.stdin)["kernelspecs"].get("tslab"); print(k["spec"]["argv"][0] if k else "")' 2>/dev/null || true)"
[ -n "$KERNEL_BIN" ] || fail "the tslab Jupyter kernel is not registered; run: bash scripts/setup.sh"
[ -x "$KERNEL_BIN" ] \
  || fail "the registered tslab kernel starts $KERNEL_BIN, which does not exist (a moved or deleted checkout?); run: bash scripts/setup.sh"

cd "$ROOT"
NAME="$(basename "$NOTEBOOK" .ipynb)"

TMPDIR_RUN="$(mktemp -d "${TMPDIR:-/tmp}/run-notebook.XXXXXX")"
trap 'rm -rf "$TMPDIR_RUN"' EXIT

# Preloaded into the tslab kernel: turns off its file watchers (see the file for why).
PRELOAD="$ROOT/scripts/tslab-no-watch.js"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--require \"$PRELOAD\""

if [ "$MODE" = open ]; then
  args=()
  if [ "$(id -u)" = 0 ]; then args+=(--allow-root); fi
  # Not exec: the trap removes the temporary folder when the server stops.
  jupyter notebook ${args[@]+"${args[@]}"} ${EXTRA[@]+"${EXTRA[@]}"} "$NOTEBOOK"
  exit
fi

mkdir -p out

# nbclient hooks: one progress line per cell, the failing cell's own output when a cell fails (tslab
# reports errors only as stderr text inside the cell, which nbconvert does not show), and execution
# counts (tslab does not send them, so executed notebooks would show "In [ ]").
CONFIG="$TMPDIR_RUN/nbconvert_config.py"
cat >"$CONFIG" <<'PY'
import sys, time

_state = {"n": 0, "total": 0, "t": 0.0}

def _out(text):
    print("run-notebook: " + text, file=sys.stderr, flush=True)

def _first_line(cell):
    for line in cell.source.splitlines():
        if line.strip():
            return line.strip()[:70]
    return ""

def _notebook_start(notebook, **kw):
    _state["total"] = sum(1 for c in notebook.cells if c.cell_type == "code" and c.source.strip())

def _cell_start(cell, cell_index, **kw):
    _state["t"] = time.time()

def _cell_executed(cell, cell_index, execute_reply, **kw):
    _state["n"] += 1
    cell["execution_count"] = _state["n"]
    status = execute_reply.get("content", {}).get("status", "?")
    _out("cell %d/%d %s in %.1f s: %s" % (_state["n"], _state["total"], status, time.time() - _state["t"], _first_line(cell)))

def _cell_error(cell, cell_index, execute_reply, **kw):
    _out("code cell %d failed:\n%s\n---- its output ----" % (_state["n"], cell.source))
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            print(o.get("text", ""), end="", file=sys.stderr)
        elif o.get("output_type") == "error":
            print("\n".join(o.get("traceback", [])) or "%s: %s" % (o.get("ename"), o.get("evalue")), file=sys.stderr)
    print("---- end of output ----", file=sys.stderr, flush=True)

c = get_config()  # noqa: F821 (provided by traitlets)
c.ExecutePreprocessor.on_notebook_start = _notebook_start
c.ExecutePreprocessor.on_cell_start = _cell_start
c.ExecutePreprocessor.on_cell_executed = _cell_executed
c.ExecutePreprocessor.on_cell_error = _cell_error
PY

INPUT="$NOTEBOOK"
case "$MODE" in
  quick)
    export MUSICGEN_QUICK=1
    OUTPUT="out/$NAME.executed.ipynb" ;;
  last-two)
    export MUSICGEN_QUICK=1
    OUTPUT="out/$NAME.last-two.executed.ipynb"
    INPUT="$TMPDIR_RUN/$NAME.last-two.ipynb"
    node -e '
      const fs = require("fs");
      const [src, dst] = process.argv.slice(1);
      const nb = JSON.parse(fs.readFileSync(src, "utf8"));
      const code = nb.cells.filter((c) => c.cell_type === "code" && [].concat(c.source).join("").trim() !== "");
      if (code.length < 2) { console.error(`run-notebook: error: ${src} has fewer than two code cells`); process.exit(1); }
      nb.cells = code.slice(-2).map((c) => ({ ...c, execution_count: null, outputs: [] }));
      fs.writeFileSync(dst, JSON.stringify(nb, null, 1));
    ' "$NOTEBOOK" "$INPUT" ;;
  save)
    unset MUSICGEN_QUICK
    OUTPUT="out/$NAME.save.tmp.ipynb" ;;
esac

rm -f "$OUTPUT"
echo "run-notebook: executing $(basename "$INPUT") ($MODE mode, MUSICGEN_QUICK=${MUSICGEN_QUICK:-unset}, per-cell timeout ${TIMEOUT}s)…" >&2
start=$SECONDS
# The notebook is fed on stdin so the kernel's working directory is the project root whatever the
# notebook's location (nbconvert starts the kernel in the input file's folder, and '' for stdin).
# nbconvert's own Python traceback is dropped (only its last line is kept; for a failing cell the hook
# above has already shown the cell and its output).
set +e
jupyter nbconvert --config "$CONFIG" --stdin --to notebook --execute \
  --ExecutePreprocessor.kernel_name=tslab \
  --ExecutePreprocessor.timeout="$TIMEOUT" \
  --ExecutePreprocessor.startup_timeout=120 \
  --ExecutePreprocessor.record_timing=False \
  --log-level=WARN \
  --output-dir "$(dirname "$OUTPUT")" --output "$(basename "$OUTPUT" .ipynb)" <"$INPUT" 2>&1 \
  | awk '
      /^Traceback \(most recent call last\):/ { tb = 1; next }
      tb && /^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt)/ {
        tb = 0
        if ($0 ~ /CellExecutionError/) { skip = 1; next }
      }
      tb || skip { next }
      { print; fflush() }' >&2
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
  rm -f "$OUTPUT"
  fail "executing $(basename "$INPUT") failed after $((SECONDS - start)) s (see above)"
fi
[ -f "$OUTPUT" ] || fail "nbconvert reported success but wrote no $OUTPUT"
# A progress line redrawn in place (a carriage return, as tqdm writes it) is kept as Jupyter shows it:
# only its last state. nbconvert keeps every redraw; this keeps what the page shows, in the saved file too.
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const nb = JSON.parse(fs.readFileSync(file, "utf8"));
  const text = (t) => (Array.isArray(t) ? t.join("") : t);
  for (const cell of nb.cells) {
    // Streams written in pieces (a redraw, then the line that replaces it) are one text, as the page shows them.
    const merged = [];
    for (const o of cell.outputs ?? []) {
      const last = merged[merged.length - 1];
      if (o.output_type === "stream" && last && last.output_type === "stream" && last.name === o.name) last.text = text(last.text) + text(o.text);
      else merged.push(o);
    }
    for (const o of merged) {
      if (o.output_type !== "stream") continue;
      const kept = text(o.text).replace(/\r+\n/g, "\n").replace(/[^\n]*\r(?=[^\n])/g, "").replace(/ +\n/g, "\n");
      o.text = kept.split(/(?<=\n)/);
    }
    if (cell.outputs) cell.outputs = merged;
  }
  fs.writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
' "$OUTPUT"

if [ "$MODE" = save ]; then
  mv -f "$OUTPUT" "$NOTEBOOK"
  echo "run-notebook: refreshed the outputs of $NOTEBOOK in $((SECONDS - start)) s" >&2
else
  echo "run-notebook: wrote $OUTPUT in $((SECONDS - start)) s" >&2
fi
