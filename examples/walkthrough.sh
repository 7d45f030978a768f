#!/bin/sh
# The README's curl walk-through: train iris, poll the job, predict, list models, pin a
# version, export. Usage: examples/walkthrough.sh [base-url]   (default http://127.0.0.1:8080)
set -eu
B=${1:-http://127.0.0.1:8080}
dir=$(cd "$(dirname "$0")" && pwd)

say() { printf '\n$ %s\n' "$*"; }

say "curl -F model=iris -F epochs=50 -F file=@examples/iris.csv $B/train"
job=$(curl -sS -F model=iris -F epochs=50 -F "file=@$dir/iris.csv" "$B/train")
echo "$job"
id=$(printf '%s' "$job" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p')
[ -n "$id" ] || { echo "no job id in the reply" >&2; exit 1; }

say "curl $B/jobs/$id   (until it has finished)"
i=0
while :; do
    j=$(curl -sS "$B/jobs/$id")
    case "$j" in
    *'"status":"succeeded"'*) break ;;
    *'"status":"failed"'* | *'"status":"cancelled"'*) echo "$j"; exit 1 ;;
    esac
    i=$((i + 1))
    [ "$i" -lt 600 ] || { echo "the job did not finish" >&2; exit 1; }
    sleep 0.2
done
echo "$j"

say "curl -H 'Content-Type: application/json' -d '{\"model\": \"iris\", \"instances\": [...]}' $B/predict"
curl -sS -H 'Content-Type: application/json' -d '{"model": "iris", "instances": [
  {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2},
  [6.7, 3.0, 5.2, 2.3]]}' "$B/predict"
echo

say "curl $B/models"
curl -sS "$B/models"
echo

say "curl -X PUT -d '{\"version\": 1}' $B/models/iris/serving   (pin version 1)"
curl -sS -X PUT -H 'Content-Type: application/json' -d '{"version": 1}' "$B/models/iris/serving"
echo

say "curl -X PUT -d '{\"version\": null}' $B/models/iris/serving   (serve the newest again)"
curl -sS -X PUT -H 'Content-Type: application/json' -d '{"version": null}' \
    "$B/models/iris/serving" >/dev/null
echo "ok"

out=${TMPDIR:-/tmp}/iris-model.json
say "curl -o $out $B/models/iris/export"
curl -sS -o "$out" "$B/models/iris/export"
head -c 400 "$out"
echo " ..."
