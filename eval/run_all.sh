#!/usr/bin/env bash
# The whole quality table: data → teacher → probes of teacher, magnitude, magnitude + distillation and slimwav's
# pruned models at 50% and 72% sparsity → eval/results.md. Every step whose output exists is skipped, so the
# script can be re-run after an interruption (delete a folder under eval/work/ to redo that step).
#
#   bash eval/run_all.sh
#
# Environment (defaults):
#   THREADS=2            threads for slimwav (features, prune)
#   SPARSITIES="0.50 0.72"
#   PRUNE_STEPS=2000     slimwav prune --steps     (gated pruning + distillation)
#   FINAL_STEPS=500      slimwav prune --final-steps (gate-free distillation after compaction)
#   MODE=full            slimwav prune --mode (full|layerwise)
#   DISTILL_STEPS=$((PRUNE_STEPS + FINAL_STEPS))  gate-free distillation steps given to the magnitude model:
#                        the same amount of distillation the slimwav model got in total
#   RESUME=0             1: pass --resume to slimwav prune (continue an interrupted run from its checkpoint)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
W=eval/work
THREADS=${THREADS:-2}
SPARSITIES=${SPARSITIES:-"0.50 0.72"}
PRUNE_STEPS=${PRUNE_STEPS:-2000}
FINAL_STEPS=${FINAL_STEPS:-500}
MODE=${MODE:-full}
DISTILL_STEPS=${DISTILL_STEPS:-$((PRUNE_STEPS + FINAL_STEPS))}
RESUME_FLAG=$([ "${RESUME:-0}" = 1 ] && echo --resume || true)
sw() { node bin/slimwav.js "$@"; }
say() { printf '\n== %s\n' "$*" >&2; }

[ -f dist/src/index.js ] || { say "building slimwav (npm run build)"; npm run build; }

if [ ! -f $W/data/stats.json ]; then
  say "data: espeak-ng word clips (~2 min)"
  $PY eval/make_data.py
fi
if [ ! -f $W/teacher/model.safetensors ]; then
  say "teacher: supervised training (~40-60 min on 2 shared cores; resumes from eval/work/teacher_ckpt.pt)"
  $PY eval/train_teacher.py
fi

say "probe: teacher"
$PY eval/probe.py $W/teacher --name teacher --threads "$THREADS"
[ -f $W/random-init/model.safetensors ] || $PY eval/train_teacher.py --random-init $W/random-init
say "probe: random-init (the teacher's architecture, untrained: what the probe gets from random features)"
$PY eval/probe.py $W/random-init --name random-init --threads "$THREADS"

PRUNE=0
if HELP=$(sw prune --help 2>&1); then PRUNE=1; else
  say "slimwav prune is not available yet (\`node bin/slimwav.js prune --help\` fails: $(echo "$HELP" | head -1))."
  say "Only the teacher and the magnitude baselines (at the nominal sparsities) are measured; re-run this script once it exists."
fi
# How prune is told to start from a given (already pruned) student for gate-free distillation only.
STUDENT_FLAG=""
if [ $PRUNE = 1 ]; then
  for f in --student --init --from; do
    if grep -q -- "$f\b" <<<"$HELP"; then STUDENT_FLAG=$f; break; fi
  done
fi

for S in $SPARSITIES; do
  tag=$(printf '%.0f' "$($PY -c "print($S*100)")")
  budget=(--target-sparsity "$S")
  if [ $PRUNE = 1 ]; then
    if [ ! -f $W/slimwav-$tag/model.safetensors ]; then
      say "slimwav prune → $S ($PRUNE_STEPS + $FINAL_STEPS steps, $MODE; log $W/slimwav-$tag.log)"
      sw prune --teacher $W/teacher --data $W/data/unlabeled --target-sparsity "$S" --out $W/slimwav-$tag \
        --steps "$PRUNE_STEPS" --final-steps "$FINAL_STEPS" --mode "$MODE" --threads "$THREADS" $RESUME_FLAG \
        2> >(tee $W/slimwav-$tag.log >&2)
    fi
    say "probe: slimwav-$tag"
    $PY eval/probe.py $W/slimwav-$tag --name slimwav-$tag --threads "$THREADS"
    budget=(--match $W/slimwav-$tag)   # the magnitude baselines get exactly slimwav's parameter count
  fi
  if [ ! -f $W/magnitude-$tag/model.safetensors ] || [ $W/slimwav-$tag/model.safetensors -nt $W/magnitude-$tag/model.safetensors ]; then
    say "magnitude pruning → ${budget[*]}"
    node eval/magnitude.mjs --teacher $W/teacher --out $W/magnitude-$tag "${budget[@]}"
  fi
  say "probe: magnitude-$tag"
  $PY eval/probe.py $W/magnitude-$tag --name magnitude-$tag --threads "$THREADS"
  if [ $PRUNE = 1 ] && [ -n "$STUDENT_FLAG" ]; then
    if [ ! -f "$W/magnitude+distill-$tag/model.safetensors" ] || [ $W/magnitude-$tag/model.safetensors -nt "$W/magnitude+distill-$tag/model.safetensors" ]; then
      say "magnitude-$tag + $DISTILL_STEPS gate-free distillation steps from the teacher"
      sw prune --teacher $W/teacher --data $W/data/unlabeled --target-sparsity "$S" --out "$W/magnitude+distill-$tag" \
        $STUDENT_FLAG $W/magnitude-$tag --steps 0 --final-steps "$DISTILL_STEPS" --mode "$MODE" --threads "$THREADS" \
        $RESUME_FLAG 2> >(tee "$W/magnitude+distill-$tag.log" >&2)
    fi
    say "probe: magnitude+distill-$tag"
    $PY eval/probe.py "$W/magnitude+distill-$tag" --name "magnitude+distill-$tag" --threads "$THREADS"
  elif [ $PRUNE = 1 ]; then
    say "magnitude+distill-$tag skipped: \`slimwav prune --help\` lists no option to start from a given student model (looked for --student, --init, --from); the row needs: prune --teacher T --student M --steps 0 --final-steps N"
  fi
done

say "table → eval/results.md"
$PY eval/report.py
