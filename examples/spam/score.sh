#!/bin/sh
# From a running daemon to a spam score: train the `spam` model on the bundled mail sample,
# wait for it, then score a raw spam e-mail, a raw ham e-mail and a JSON message with curl.
# Usage: examples/spam/score.sh [base-url]   (default http://127.0.0.1:8080)
set -eu
B=${1:-http://127.0.0.1:8080}
dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=examples/lib.sh
. "$dir/../lib.sh"

say "curl -F model=spam -F file=@examples/spam/spam_sample.csv $B/train"
job=$(curl -sS -F model=spam -F "file=@$dir/spam_sample.csv" "$B/train")
echo "$job" | head -c 300
echo " ..."
id=$(job_id "$job")

wait_job "$B" "$id" 1500
echo "(job $id succeeded)"

say "curl -H 'Content-Type: message/rfc822' --data-binary @examples/spam/spam.eml $B/spam-score"
curl -sS -H 'Content-Type: message/rfc822' --data-binary "@$dir/spam.eml" "$B/spam-score"
echo

say "curl -H 'Content-Type: message/rfc822' --data-binary @examples/spam/ham.eml $B/spam-score"
curl -sS -H 'Content-Type: message/rfc822' --data-binary "@$dir/ham.eml" "$B/spam-score"
echo

say "curl -H 'Content-Type: application/json' -d '{\"subject\": ..., \"body\": ...}' $B/spam-score"
curl -sS -H 'Content-Type: application/json' \
    -d '{"subject": "Meeting moved to 3pm", "body": "Hi all, the review is at 3pm in room 2. Bring the draft. Thanks, Ann"}' \
    "$B/spam-score"
echo
