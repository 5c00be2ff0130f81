#!/usr/bin/env bash
# The golden set's dev and test splits, default model, under each way of answering, one
# after the other on this machine: the model without the grounding check and without the
# prefix cache, then with the check, then with the prefix cache too (generate, as shipped),
# then with n-gram speculation too, then quoted answers (the default). Writes
# benchmarks/eval-answer-paths/<setting>-<split>.json. Test is the customer-style held-out
# split; dev is every dev case (hand-written and customer-style). ~35 minutes on 2 cores.
# Usage: scripts/eval-answer-paths.sh [SETTING...]   (default: all of them)
set -euo pipefail

out=benchmarks/eval-answer-paths
mkdir -p "$out"
only=" $* "
run() {  # name, then KEY=VALUE settings
    local name=$1
    shift
    [[ "$only" == "  " || "$only" == *" $name "* ]] || return 0
    env "$@" switchboard eval --split dev --json "$out/$name-dev.json"
    env "$@" switchboard eval --split test --json "$out/$name-test.json"
}
run generate-unchecked SWITCHBOARD_ASSISTANT__ANSWER_MODE=generate \
    SWITCHBOARD_ASSISTANT__GROUNDING__ENABLED=false SWITCHBOARD_ENGINE__PREFIX_CACHE=false
run generate-checked SWITCHBOARD_ASSISTANT__ANSWER_MODE=generate \
    SWITCHBOARD_ENGINE__PREFIX_CACHE=false
run generate SWITCHBOARD_ASSISTANT__ANSWER_MODE=generate
run generate-ngram SWITCHBOARD_ASSISTANT__ANSWER_MODE=generate \
    SWITCHBOARD_ENGINE__SPECULATIVE=ngram
run quote SWITCHBOARD_ASSISTANT__ANSWER_MODE=quote
