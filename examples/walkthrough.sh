#!/bin/sh
# The README's curl walk-through: train iris, poll the job, predict, list models, pin a
# version, export. Usage: examples/walkthrough.sh [base-url]   (default http://127.0.0.1:8080)
set -eu
B=${1:-http://127.0.0.1:8080}
dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=examples/lib.sh
. "$dir/lib.sh"

say "curl -F model=iris -F epochs=50 -F file=@examples/iris.csv $B/train"
job=$(curl -sS -F model=iris -F epochs=50 -F "file=@$dir/iris.csv" "$B/train")
echo "$job"
id=$(job_id "$job")

say "curl $B/jobs/$id   (until it has finished)"
wait_job "$B" "$id" 600
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
