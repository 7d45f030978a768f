# shellcheck shell=sh
# Shared by the example scripts (sourced, POSIX sh): say, job_id, wait_job.

# say WORDS: prints the command about to run, as a shell prompt line.
say() { printf '\n$ %s\n' "$*"; }

# job_id REPLY: prints the job id of a POST /train reply; exits 1 when there is none.
job_id() {
    id=$(printf '%s' "$1" | sed -n 's/^{"id":"\([0-9a-f]*\)".*/\1/p')
    [ -n "$id" ] || { echo "no job id in the reply" >&2; exit 1; }
    printf '%s' "$id"
}

# wait_job BASE ID TRIES: polls BASE/jobs/ID every 0.2 s until the job has succeeded (its
# JSON is then in $j); exits 1 when it failed or was cancelled (printing it), or when it has
# not finished after TRIES polls.
wait_job() {
    i=0
    while :; do
        j=$(curl -sS "$1/jobs/$2")
        case "$j" in
        *'"status":"succeeded"'*) return 0 ;;
        *'"status":"failed"'* | *'"status":"cancelled"'*) echo "$j"; exit 1 ;;
        esac
        i=$((i + 1))
        [ "$i" -lt "$3" ] || { echo "the job did not finish" >&2; exit 1; }
        sleep 0.2
    done
}
