#!/usr/bin/env bash
# Scores the read-only presets against a corpus of real diagnostic
# commands (default: ../shared/corpora/diagnostics-dev.yaml) and prints
# each miss with the denial the platform would show.
#   hack/score-corpus.sh [CORPUS.yaml]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
	export FLASHDUTY_CORPUS="$(realpath "$1")"
fi
go test -count=1 -run TestPresetsFitRealDiagnosis -v ./runner/config/ | grep -E '^\s+corpus_test.go:[0-9]+: ' | sed -E 's/^\s+corpus_test.go:[0-9]+: //' | sort
