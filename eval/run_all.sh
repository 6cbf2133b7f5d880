#!/usr/bin/env bash
# The whole quality table: data → teacher → probes of teacher, magnitude, magnitude + distillation and slimwav's
# pruned models at 50% and 72% sparsity → eval/results.md. Every step whose output exists is skipped, so the
# script can be re-run after an interruption (delete a folder under eval/work/ to redo that step; an interrupted
# slimwav prune continues from its checkpoint).
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
# Seed runs at 72% (after the table above; rows NAME-sSEED, mean ± sd in results.md). A recipe is
# <gated>+<final>[:layerwise][:glrNN][:swNN][:lrNN][:enc]; its rows are
# slimwav-72[-lw][-r<gated>][-glrNN][-swNN][-lrNN][-enc][-d<total>]-s<seed> (-r… unless the split is 2000+500, -d… unless
# gated + final = 2500, the baseline's DISTILL_STEPS above; glrNN: --gate-lr
# NN/100, swNN: --sparsity-warmup NN/100, lrNN: --lr NN·1e-5 (default 20), enc: --units without conv, so the conv
# stack is kept whole as in the magnitude-enc baseline).
#   SEEDS="2022 2023 2024"     seeds of slimwav prune (--seed) and of the baseline's distillation
#   SEED_RECIPE=4000+1000:layerwise:glr05  the eval's recipe, chosen on validation scores (eval/README.md); the default
#                              recipe 2000+500 (full mode) is always run with the same seeds as well, and so are
#   EARLIER_RECIPES="2000+500:layerwise 2000+500:layerwise:glr05"  recipes chosen by earlier, smaller searches
#   CANDIDATES="1500+1000 … 2000+500:layerwise:glr05" (see below)  recipes of the same 2500 steps compared with
#                              CANDIDATE_SEEDS="2022", scored by probe.py --val only (training voices), never on the
#                              test voices: that is how SEED_RECIPE was chosen; CANDIDATES="" skips them. A weight
#                              lr (:lrNN) is also given to the magnitude-enc baseline's distillation, scored the same
#                              way (magnitude-enc+distill-72-lrNN-s2022), so a gain from the lr is not credited to
#                              the pruning
# Every seed recipe's baselines get its total steps of distillation (rows …-d<total>-s<seed> unless 2500), SEEDS:
# magnitude-enc, and for MAC_RECIPES="2000+500:layerwise:glr05 4000+1000:layerwise:glr05" the MACs-matched baseline
# magnitude-mac-72[-d<total>] (all units, the conv channels at their own keep ratio so that the model has the
# parameters and no more than the multiply-adds of that recipe's first seed run).
#   HIGH_SPARSITY=0.85, HIGH_RECIPE=2000+500:layerwise:glr05: the same seed runs at a higher sparsity (rows
#                              slimwav-85-…-s<seed>), against magnitude-mac (SEEDS) and magnitude (first seed) + 2500
#                              distillation steps; HIGH_SPARSITY="" skips them
#   SEED_THREADS=1
#   DEEP_LAYERS=12       then the same 72% comparison on a deeper teacher (eval/run_deep.sh → eval/results-L12.md);
#                        DEEP_LAYERS="" skips it
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
say() { printf '\n== %s\n' "$*" >&2; }

[ -f dist/src/index.js ] || { say "building slimwav (npm run build)"; npm run build; }

if [ ! -f $W/data/stats.json ]; then
  say "data: espeak-ng word clips (~2 min)"
  $PY eval/make_data.py
fi
if [ ! -f $W/data/test_more.json ]; then
  say "data: the second held-out set (80 more voices, ~1 min)"
  $PY eval/make_data.py --splits test_more
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
if node bin/slimwav.js --help 2>&1 | grep -q 'slimwav prune'; then PRUNE=1; else
  say "slimwav prune is not available yet (\`node bin/slimwav.js --help\` does not list it)."
  say "Only the teacher and the magnitude baselines (at the nominal sparsities) are measured; re-run this script once it exists."
fi

magprune() { # <out> <model it is matched to> <magnitude.mjs args…>: (re)made when missing or older than that model
  local out=$1 ref=$2; shift 2
  [ -f $out/model.safetensors ] && ! [ $ref/model.safetensors -nt $out/model.safetensors ] && return
  say "$(basename $out): magnitude pruning → $*"
  node eval/magnitude.mjs --teacher $W/teacher --out $out "$@"
}

for S in $SPARSITIES; do
  tag=$(printf '%.0f' "$($PY -c "print($S*100)")")
  budget=(--target-sparsity "$S")
  if [ $PRUNE = 1 ]; then
    if [ ! -f $W/slimwav-$tag/model.safetensors ]; then
      say "slimwav prune → $S ($PRUNE_STEPS + $FINAL_STEPS steps, $MODE; log $W/slimwav-$tag.log)"
      resume=()
      [ -f $W/slimwav-$tag/checkpoint.safetensors ] && resume=(--resume)   # continue an interrupted run
      node bin/slimwav.js prune --teacher $W/teacher --data $W/data/unlabeled --target-sparsity "$S" \
        --out $W/slimwav-$tag --steps "$PRUNE_STEPS" --final-steps "$FINAL_STEPS" --mode "$MODE" --units fine \
        --threads "$THREADS" "${resume[@]}" 2> >(tee -a $W/slimwav-$tag.log >&2)
    fi
    say "probe: slimwav-$tag"
    $PY eval/probe.py $W/slimwav-$tag --name slimwav-$tag --threads "$THREADS"
    budget=(--match $W/slimwav-$tag)   # the magnitude baselines get exactly slimwav's parameter count
  fi
  # two magnitude baselines: all units (conv channels too), and encoder only (the conv stack kept whole)
  for variant in magnitude:conv,qk,v,ffn magnitude-enc:qk,v,ffn; do
    name=${variant%%:*}; units=${variant#*:}
    magprune $W/$name-$tag $W/slimwav-$tag "${budget[@]}" --units "$units"
    say "probe: $name-$tag"
    $PY eval/probe.py $W/$name-$tag --name $name-$tag --threads "$THREADS"
    out="$W/$name+distill-$tag"
    if [ ! -f "$out/model.safetensors" ] || [ $W/$name-$tag/model.safetensors -nt "$out/model.safetensors" ]; then
      say "$name-$tag + $DISTILL_STEPS gate-free distillation steps from the teacher (slimwav prune --student = prune's --final-steps loop)"
      resume=()
      if [ -f "$out/checkpoint.safetensors" ] && [ ! -f "$out/model.safetensors" ]; then resume=(--resume); else rm -rf "$out"; fi
      node bin/slimwav.js prune --teacher $W/teacher --student $W/$name-$tag --data $W/data/unlabeled --out "$out" \
        --steps "$DISTILL_STEPS" --threads "$THREADS" "${resume[@]}" 2> >(tee -a "$out.log" >&2)
    fi
    say "probe: $name+distill-$tag"
    $PY eval/probe.py "$W/$name+distill-$tag" --name "$name+distill-$tag" --threads "$THREADS"
  done
done

SEEDS=${SEEDS:-"2022 2023 2024"}
SEED_RECIPE=${SEED_RECIPE:-4000+1000:layerwise:glr05}
EARLIER_RECIPES=${EARLIER_RECIPES:-"2000+500:layerwise 2000+500:layerwise:glr05"}
MAC_RECIPES=${MAC_RECIPES:-"2000+500:layerwise:glr05 4000+1000:layerwise:glr05"}
HIGH_SPARSITY=${HIGH_SPARSITY-0.85}
HIGH_RECIPE=${HIGH_RECIPE:-2000+500:layerwise:glr05}
CANDIDATES=${CANDIDATES:-"1500+1000 1000+1500 2250+250 2000+500:layerwise 2000+500:glr05 2000+500:glr10 2000+500:glr20 2000+500:sw15 2000+500:layerwise:glr05 2000+500:layerwise:glr10 2000+500:layerwise:glr05:enc 2000+500:layerwise:glr10:enc 1500+1000:layerwise:glr05 1000+1500:layerwise:glr10 2000+500:layerwise:glr05:lr40 2000+500:layerwise:glr05:lr80"}
CANDIDATE_SEEDS=${CANDIDATE_SEEDS:-2022}
SEED_THREADS=${SEED_THREADS:-1}
SPT=72   # the seed runs' sparsity, in percent (HIGH_SPARSITY below sets its own)
rtotal() { # recipe → its gated + final steps
  local split=${1%%:*}
  echo $(( ${split%%+*} + ${split##*+} ))
}
rname() { # recipe → row name without the seed
  local split=${1%%:*} n=slimwav-$SPT
  [[ $1 == *:layerwise* ]] && n=$n-lw
  [ "$split" = 2000+500 ] || n=$n-r${split%%+*}
  [[ $1 =~ :glr([0-9]+) ]] && n=$n-glr${BASH_REMATCH[1]}
  [[ $1 =~ :sw([0-9]+) ]] && n=$n-sw${BASH_REMATCH[1]}
  [[ $1 =~ :lr([0-9]+) ]] && n=$n-lr${BASH_REMATCH[1]}
  [[ $1 == *:enc* ]] && n=$n-enc
  echo $n$(dsuf $(rtotal "$1"))
}
dsuf() { # total steps → the row suffix of that distillation budget
  [ "$1" = 2500 ] || echo -d$1
}
magdistill() { # <enc|mac|all> <total steps> <suffix> <seed> [args]: magnitude[-<v>]-$SPT + gate-free steps, then its validation score
  local v=$1 steps=$2 seed=$4 m=magnitude-$1; [ $1 = all ] && m=magnitude
  local out=$W/$m+distill-$SPT-$3 student=$W/$m-$SPT; shift 4
  [ $v = mac ] && student=$student$(dsuf $steps)   # matched to a recipe of that budget
  if [ ! -f $out/model.safetensors ]; then
    say "$(basename $out): $(basename $student) + $steps distillation steps (${*:-default lr})"
    local resume=(); [ -f $out/checkpoint.safetensors ] && resume=(--resume) || rm -rf $out
    node bin/slimwav.js prune --teacher $W/teacher --student $student --data $W/data/unlabeled --out $out \
      --steps "$steps" --seed "$seed" --threads "$SEED_THREADS" "$@" "${resume[@]}" 2> >(tee -a $out.log >&2)
  fi
  $PY eval/probe.py $out --name $(basename $out) --val --threads "$SEED_THREADS"
}
seedprune() { # <recipe> <seed>: slimwav-$SPT with that recipe and seed, then its validation score
  local name split mode=full extra=(); name=$(rname "$1")-s$2; split=${1%%:*}
  [[ $1 == *:layerwise* ]] && mode=layerwise
  [[ $1 =~ :glr([0-9]+) ]] && extra+=(--gate-lr "$(awk "BEGIN { print ${BASH_REMATCH[1]} / 100 }")")
  [[ $1 =~ :sw([0-9]+) ]] && extra+=(--sparsity-warmup "$(awk "BEGIN { print ${BASH_REMATCH[1]} / 100 }")")
  [[ $1 =~ :lr([0-9]+) ]] && extra+=(--lr "$(awk "BEGIN { print ${BASH_REMATCH[1]} / 100000 }")")
  # --units pinned as these rows were run (every kind; :enc leaves conv out), so a change of the default leaves them
  if [[ $1 == *:enc* ]]; then extra+=(--units head,qk,v,attn,ffn,ffnblock); else extra+=(--units fine); fi
  if [ ! -f $W/$name/model.safetensors ]; then
    say "slimwav prune → 0.$SPT, ${split%%+*} + ${split##*+} steps, $mode, seed $2 (log $W/$name.log)"
    local resume=(); [ -f $W/$name/checkpoint.safetensors ] && resume=(--resume)
    node bin/slimwav.js prune --teacher $W/teacher --data $W/data/unlabeled --target-sparsity 0.$SPT --out $W/$name \
      --steps "${split%%+*}" --final-steps "${split##*+}" --mode $mode --seed "$2" --threads "$SEED_THREADS" "${extra[@]}" "${resume[@]}" \
      2> >(tee -a $W/$name.log >&2)
  fi
  $PY eval/probe.py $W/$name --name $name --val --threads "$SEED_THREADS"
}
if [ $PRUNE = 1 ] && [[ " $SPARSITIES " == *" 0.72 "* ]]; then
  for r in $CANDIDATES; do for seed in $CANDIDATE_SEEDS; do seedprune "$r" "$seed"; done; done   # validation only
  for lr in $(printf '%s\n' $CANDIDATES | sed -n 's/.*:lr\([0-9]*\).*/\1/p' | sort -u); do
    for seed in $CANDIDATE_SEEDS; do magdistill enc "$DISTILL_STEPS" lr$lr-s$seed "$seed" --lr "$(awk "BEGIN { print $lr / 100000 }")"; done
  done
  for r in $(printf '%s\n' 2000+500 $EARLIER_RECIPES "$SEED_RECIPE" | sort -u); do
    for seed in $SEEDS; do
      seedprune "$r" "$seed"
      say "probe: $(rname "$r")-s$seed"
      $PY eval/probe.py $W/$(rname "$r")-s$seed --name $(rname "$r")-s$seed --threads "$SEED_THREADS"
    done
  done
  for r in $MAC_RECIPES; do
    chosen=$W/$(rname "$r")-s${SEEDS%% *}
    magprune $W/magnitude-mac-72$(dsuf $(rtotal "$r")) $chosen --match $chosen --match-macs $chosen
  done
  say "probe: magnitude-mac-72"
  $PY eval/probe.py $W/magnitude-mac-72 --name magnitude-mac-72 --threads "$SEED_THREADS"
  for total in $(for r in 2000+500 $EARLIER_RECIPES "$SEED_RECIPE"; do rtotal "$r"; done | sort -u); do
    for v in enc mac; do
      [ $v = mac ] && [ ! -f $W/magnitude-mac-72$(dsuf $total)/model.safetensors ] && continue
      for seed in $SEEDS; do
        n=magnitude-$v+distill-72$(dsuf $total)-s$seed
        magdistill $v $total ${n#magnitude-$v+distill-72-} "$seed"
        $PY eval/probe.py $W/$n --name $n --threads "$SEED_THREADS"
      done
    done
  done
  # a higher sparsity, where the encoder-only baseline cannot exist (the whole conv stack and the fixed parts alone
  # are 16% of the teacher's parameters): slimwav's recipe against the MACs-matched and all-units baselines
  if [ -n "$HIGH_SPARSITY" ]; then
    SPT=$(printf '%.0f' "$($PY -c "print($HIGH_SPARSITY*100)")")
    for seed in $SEEDS; do
      seedprune "$HIGH_RECIPE" "$seed"
      $PY eval/probe.py $W/$(rname "$HIGH_RECIPE")-s$seed --name $(rname "$HIGH_RECIPE")-s$seed --threads "$SEED_THREADS"
    done
    chosen=$W/$(rname "$HIGH_RECIPE")-s${SEEDS%% *}
    for v in mac all; do
      m=magnitude-$v; [ $v = all ] && m=magnitude; extra=(); [ $v = mac ] && extra=(--match-macs $chosen)
      magprune $W/$m-$SPT $chosen --match $chosen "${extra[@]}"
      for seed in $SEEDS; do
        magdistill $v 2500 s$seed "$seed"
        $PY eval/probe.py $W/$m+distill-$SPT-s$seed --name $m+distill-$SPT-s$seed --threads "$SEED_THREADS"
        [ $v = all ] && break   # one run: it is far behind
      done
    done
    HIGH_ROWS=$(for seed in $SEEDS; do echo $(rname "$HIGH_RECIPE")-s$seed magnitude-mac+distill-$SPT-s$seed; done; echo magnitude+distill-$SPT-s${SEEDS%% *})
    SPT=72
  fi
  # the larger second held-out set (80 voices) for the eval's recipes and their baselines
  for d in teacher magnitude+distill-72 \
      $(for r in 2000+500 "$SEED_RECIPE" $MAC_RECIPES; do for seed in $SEEDS; do echo $(rname "$r")-s$seed; done; done | sort -u) \
      $(cd $W && for f in magnitude-{enc,mac}+distill-72*-s*; do [ -d $f ] && [[ $f != *-lr* ]] && echo $f; done) ${HIGH_ROWS:-}; do
    say "probe (test_more): $d"
    $PY eval/probe.py $W/$d --name $d --test-split test_more --threads "$SEED_THREADS"
  done
fi

say "table → eval/results.md, eval/results-test_more.md"
$PY eval/report.py
if [ -f $W/results-test_more.jsonl ]; then $PY eval/report.py --split test_more; fi

export DEEP_LAYERS=${DEEP_LAYERS-12}
if [ $PRUNE = 1 ] && [ -n "$DEEP_LAYERS" ]; then
  say "the 72% comparison on a $DEEP_LAYERS-layer teacher (eval/run_deep.sh)"
  bash eval/run_deep.sh
fi
