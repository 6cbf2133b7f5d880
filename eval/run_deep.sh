#!/usr/bin/env bash
# The 72% comparison again on a deeper teacher: the same data, the same teacher recipe with 12 encoder layers
# (eval/train_teacher.py --layers 12 --pre-ln → eval/work/teacher-L12/, 8.4 M parameters), and the eval's pruning recipe as it
# was fixed on the 4-layer teacher's validation scores before this teacher existed (nothing here is tuned on it).
# Why: on the 4-layer teacher a third of a 72%-pruned model is fixed parts and every pruned model lands at 97-98% of
# the teacher; with 12 layers there is more to choose between (which layers, heads and FFNs keep their width).
#
#   bash eval/run_deep.sh        (after eval/run_all.sh has made the data; run_all.sh calls it at its end)
#
# Rows go to eval/work/results-L<N>.jsonl (and results-L<N>-test_more.jsonl) named L<N>-<row>, models to
# eval/work/L<N>/, the table to eval/results-L<N>.md and eval/results-L<N>-test_more.md (report.py --tag L<N>).
# Every step whose output exists is skipped.
#
# Environment (defaults):
#   DEEP_LAYERS=12
#   SEEDS="2022 2023 2024"
#   DEEP_RECIPE=2000+500:layerwise:glr05    gated + final steps, mode, gate lr: the recipe the second search on the
#                        4-layer teacher's validation scores chose (run_all.sh's EARLIER_RECIPES); SEED_RECIPE's
#                        doubled budget, 4000+1000:layerwise:glr05, takes ~18 min per slimwav run instead of ~10
#   JOBS=2               pruning / distillation runs at once, 1 thread each
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
W=eval/work
L=${DEEP_LAYERS:-12}
T=L$L
D=$W/$T
TEACHER=$W/teacher-$T
SEEDS=${SEEDS:-"2022 2023 2024"}
RECIPE=${DEEP_RECIPE:-2000+500:layerwise:glr05}
JOBS=${JOBS:-2}
say() { printf '\n== %s\n' "$*" >&2; }

split=${RECIPE%%:*}; GATED=${split%%+*}; FINAL=${split##*+}; TOTAL=$((GATED + FINAL))
MODE=full; [[ $RECIPE == *:layerwise* ]] && MODE=layerwise
GATE_LR=; [[ $RECIPE =~ :glr([0-9]+) ]] && GATE_LR=$(awk "BEGIN { print ${BASH_REMATCH[1]} / 100 }")
SW=slimwav-72-d$TOTAL   # row names: slimwav-72-d<total>-s<seed>, magnitude-{enc,mac,}+distill-72-d<total>-s<seed>
MS=; [ $TOTAL = 2500 ] || MS=-d$TOTAL   # magnitude models matched to another recipe's size: magnitude-…-72-d<total>

mkdir -p $D
[ -f $W/data/stats.json ] || { say "no data: run eval/run_all.sh first"; exit 1; }
if [ ! -f $TEACHER/model.safetensors ]; then
  say "teacher-$T: supervised training, $L layers (~25 min on 2 idle cores; resumes from its checkpoint)"
  $PY eval/train_teacher.py --layers "$L" --pre-ln
fi

probe() { # <model folder> [row name] [threads]: test and test_more rows, named L<N>-<row name, default the folder's>
  local m=$1 name=${2:-$(basename $1)}
  for split in test test_more; do
    local sfx=; [ $split = test ] || sfx=-$split
    $PY eval/probe.py $m --name $T-$name --teacher $TEACHER --test-split $split --results $W/results-$T$sfx.jsonl \
      --threads ${3:-2} >/dev/null
  done
}

# Each run is probed in its own job, at 1 thread, while the other job still trains.
slim() { # <seed>: slimwav prune with the recipe (unless made), then its probes
  local out=$D/$SW-s$1
  if [ ! -f $out/model.safetensors ]; then
    local resume=(); [ -f $out/checkpoint.safetensors ] && resume=(--resume)
    node bin/slimwav.js prune --teacher $TEACHER --data $W/data/unlabeled --target-sparsity 0.72 --out $out \
      --steps $GATED --final-steps $FINAL --mode $MODE --units fine --seed $1 --threads 1 ${GATE_LR:+--gate-lr $GATE_LR} \
      "${resume[@]}" 2>>$out.log
  fi
  probe $out '' 1
}

distill() { # <magnitude model name> <seed>: + TOTAL gate-free distillation steps (unless made from it), then probes
  local base=${1%$MS}
  local out=$D/${base/-72/+distill-72-d$TOTAL}-s$2
  if [ ! -f $out/model.safetensors ] || [ $D/$1/model.safetensors -nt $out/model.safetensors ]; then
    local resume=(); [ -f $out/checkpoint.safetensors ] && resume=(--resume) || rm -rf $out
    node bin/slimwav.js prune --teacher $TEACHER --student $D/$1 --data $W/data/unlabeled --out $out \
      --steps $TOTAL --seed $2 --threads 1 "${resume[@]}" 2>>$out.log
  fi
  probe $out '' 1
}
export -f slim distill probe
export PY W T D TEACHER SW GATED FINAL MODE TOTAL MS GATE_LR

first=${SEEDS%% *}
say "slimwav prune, $RECIPE, seeds $SEEDS ($JOBS at a time; logs $D/$SW-s*.log)"
# the first seed's model sets the size every magnitude baseline is matched to, so it runs first (beside the second)
printf '%s\n' $SEEDS | head -n $JOBS | xargs -P "$JOBS" -I{} bash -c 'slim {}'

for v in enc:qk,v,ffn mac:conv,qk,v,ffn all:conv,qk,v,ffn; do
  name=magnitude-${v%%:*}-72$MS; [[ $v == all:* ]] && name=magnitude-72$MS
  extra=(); [[ $v == mac:* ]] && extra=(--match-macs $D/$SW-s$first)
  if [ ! -f $D/$name/model.safetensors ] || [ $D/$SW-s$first/model.safetensors -nt $D/$name/model.safetensors ]; then
    say "$name: magnitude pruning to the size of $SW-s$first"
    node eval/magnitude.mjs --teacher $TEACHER --out $D/$name --match $D/$SW-s$first --units ${v#*:} "${extra[@]}"
  fi
done

say "the remaining runs: slimwav, and $TOTAL distillation steps for each magnitude model ($JOBS at a time)"
{
  printf 'slim %s\n' $(printf '%s\n' $SEEDS | tail -n +$((JOBS + 1)))
  for s in $SEEDS; do printf 'distill magnitude-enc-72%s %s\ndistill magnitude-mac-72%s %s\n' "$MS" $s "$MS" $s; done
  echo "distill magnitude-72$MS $first"   # all units at one keep ratio: one run, it is far behind on the 4-layer teacher
} | grep -v '^slim $' | xargs -P "$JOBS" -I{} bash -c '{}'

say "probes of the teacher and the magnitude models before distillation (test: 20 held-out voices; test_more: 80 more)"
probe $TEACHER teacher
for m in magnitude-72 magnitude-enc-72 magnitude-mac-72; do probe $D/$m$MS; done

say "tables → eval/results-$T.md, eval/results-$T-test_more.md"
$PY eval/report.py --tag $T
$PY eval/report.py --tag $T --split test_more
