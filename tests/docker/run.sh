#!/usr/bin/env bash
# The Docker image, end to end (`make test-docker`, run by .ci/run): builds docker/Dockerfile
# with the classic builder, checks the image (size, user, port, volume, health check, labels),
# then runs it with --network=host on a free port: waits for /readyz, trains a small model
# with curl, predicts, replaces the container by a new one on the same volume and checks the
# model is still served, stops it with SIGTERM (exit 0 within 10 s, also in the middle of a
# training job, which must come back after the next start), scores a KOI8-R mail (iconv in
# the image); then runs two containers of the image against one throwaway PostgreSQL
# (scripts/pg-tmp.sh on this host's loopback, the containers on the host network: issue 18),
# trains through one and predicts through the other; then brings docker/compose.yaml up and
# down on the same image. It removes the
# containers, volumes and image it made, and stops any dockerd it started, even when a check
# fails. Last line: "docker: N passed, N failed"; exit status 1 when any failed.
#
# Docker daemon: the one `docker` already reaches, else a private dockerd (scripts/dockerd.sh,
# root needed, its data in $NEUROND_DOCKER_STATE, default /var/tmp/neurond-docker). Base image:
# $NEUROND_DOCKER_BASE if set, else debian:bookworm-slim (local or pulled), else one made by
# scripts/docker-base.sh with debootstrap from the machine's apt mirror (no registry needed).
# NEUROND_DOCKER_KEEP=1 keeps the image (neurond:test).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/dockerd.sh
. scripts/dockerd.sh
STATE=$NEUROND_DOCKER_STATE
IMAGE=neurond:test
NAME=neurond-test-$$
VOL=neurond-test-data-$$
KEY=test-key-$$-$RANDOM
export DOCKER_BUILDKIT=0

# shellcheck source=tests/tally.sh
. tests/tally.sh
cid=""
pg_cids=""
pg_dir=""
vol_made=0
image_made=0
compose_up=0
t_start=$(date +%s)

log() { echo "docker: $*"; }

# Stops what this script started, in reverse order; safe to call more than once.
cleanup() {
    if [ -n "$cid" ]; then
        docker rm -fv "$cid" >/dev/null 2>&1
        cid=""
    fi
    for c in $pg_cids; do
        docker rm -fv "$c" >/dev/null 2>&1
    done
    pg_cids=""
    if [ -n "$pg_dir" ]; then
        scripts/pg-tmp.sh destroy "$pg_dir" >/dev/null 2>&1
        pg_dir=""
    fi
    if [ "$compose_up" = 1 ]; then
        compose down -v -t 10 >/dev/null 2>&1
        compose_up=0
    fi
    if [ "$vol_made" = 1 ]; then
        docker volume rm "$VOL" >/dev/null 2>&1
        vol_made=0
    fi
    if [ "$image_made" = 1 ] && [ "${NEUROND_DOCKER_KEEP:-0}" != 1 ]; then
        docker rmi "$IMAGE" >/dev/null 2>&1
        image_made=0
    fi
    dockerd_down
}

finish() {
    cleanup
    echo "docker: $pass passed, $failed failed ($(($(date +%s) - t_start)) s)"
    [ "$failed" -eq 0 ]
    exit $?
}
trap finish EXIT
trap 'not_ok "interrupted"; exit 1' INT TERM

# A fatal failure: the checks after it cannot run.
abort() {
    not_ok "$1" "${2:-}"
    exit 1
}

# ---------------------------------------------------------------- the daemon

# Not in $(...): the private daemon's pid and DOCKER_HOST must stay in this shell.
dockerd_up 2>&1 || abort "a Docker daemon (the running one, else a private dockerd)"
# ---------------------------------------------------------------- the image

base=${NEUROND_DOCKER_BASE:-}
if [ -z "$base" ]; then
    if docker image inspect debian:bookworm-slim >/dev/null 2>&1 ||
        timeout 120 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
        base=debian:bookworm-slim
    else
        log "no debian:bookworm-slim to pull: scripts/docker-base.sh makes the base"
        base=$(scripts/docker-base.sh) || abort "base image made by scripts/docker-base.sh"
    fi
fi
log "base image $base"

t0=$(date +%s)
mkdir -p "$STATE"
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if docker build --network=host --build-arg BASE="$base" --build-arg REVISION="$revision" \
    --build-arg VERSION="test" -f docker/Dockerfile -t "$IMAGE" . >"$STATE/build.log" 2>&1; then
    image_made=1
    ok "image builds with the classic builder ($(($(date +%s) - t0)) s; log $STATE/build.log)"
    # Private daemon: keep the build stage (its package layer) as the next run's cache under
    # one tag, and drop the build stages of earlier runs. A shared daemon is left alone.
    if [ -n "$dockerd_pid" ]; then
        docker build --network=host --build-arg BASE="$base" --target build \
            -t neurond-build:cache -f docker/Dockerfile . >>"$STATE/build.log" 2>&1
        docker image prune -f >/dev/null 2>&1
    fi
else
    abort "image builds with the classic builder" "$(tail -n 30 "$STATE/build.log")"
fi

inspect() { docker image inspect -f "$1" "$IMAGE"; }
size=$(inspect '{{.Size}}')
if [ "$size" -lt 100000000 ]; then
    ok "runtime image under 100 MB ($((size / 1000000)) MB)"
else
    not_ok "runtime image under 100 MB ($((size / 1000000)) MB)"
fi
user=$(inspect '{{.Config.User}}')
case "${user%%:*}" in
"" | 0 | root) not_ok "runs as a non-root user (User='$user')" ;;
*) ok "runs as a non-root user ($user)" ;;
esac
if [[ "$(inspect '{{json .Config.Volumes}}')" == *'"/data":'* &&
    "$(inspect '{{json .Config.ExposedPorts}}')" == *'"8080/tcp":'* ]]; then
    ok "VOLUME /data and EXPOSE 8080"
else
    not_ok "VOLUME /data and EXPOSE 8080" "$(inspect '{{json .Config}}')"
fi
env=$(inspect '{{join .Config.Env " "}}')
if [[ " $env " == *" NEUROND_BIND=0.0.0.0 "* && " $env " == *" NEUROND_DB=/data/"* ]]; then
    ok "NEUROND_BIND=0.0.0.0 and NEUROND_DB on /data"
else
    not_ok "NEUROND_BIND=0.0.0.0 and NEUROND_DB on /data" "$env"
fi
hc=$(inspect '{{json .Config.Healthcheck.Test}}')
if [[ "$hc" == *neurond*health* && "$hc" != *curl* ]]; then
    ok "HEALTHCHECK runs neurond health ($hc)"
else
    not_ok "HEALTHCHECK runs neurond health" "$hc"
fi
labels=$(inspect '{{json .Config.Labels}}')
if [[ "$labels" == *'"org.opencontainers.image.title":"neurond"'* &&
    "$labels" == *"\"org.opencontainers.image.revision\":\"$revision\""* &&
    "$labels" == *'"org.opencontainers.image.version":"test"'* ]]; then
    ok "OCI labels (title, version, revision)"
else
    not_ok "OCI labels (title, version, revision)" "$labels"
fi
tmp=$(docker create "$IMAGE") || abort "docker create"
files=$(docker export "$tmp" | tar -t)
docker rm -v "$tmp" >/dev/null
if ! grep -Eq '(^|/)bin/(curl|wget)$' <<<"$files" && grep -q '^usr/bin/neurond$' <<<"$files"; then
    ok "no curl or wget in the image ($(wc -l <<<"$files") paths)"
else
    not_ok "no curl or wget in the image" "$(grep -E 'bin/(curl|wget|neurond)$' <<<"$files")"
fi

if grep -Eq '^usr/lib/([^/]+/)?gconv/ISO8859-1\.so$' <<<"$files" &&
    grep -Eq '^usr/lib/([^/]+/)?gconv/gconv-modules' <<<"$files"; then
    ok "glibc's iconv charset modules are in the image (mail charsets)"
else
    not_ok "glibc's iconv charset modules are in the image (gconv/ISO8859-1.so)"
fi

# ---------------------------------------------------------------- the container

# A TCP port nothing listens on (connection refused).
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
port=$(free_port) || abort "a free port"
base_url="http://127.0.0.1:$port"

# http METHOD PATH [curl args]: sets $code and $body (the reply), never fails.
http() {
    local method=$1 path=$2
    shift 2
    body=$(curl -sS -m 30 -X "$method" -H "Authorization: Bearer $KEY" \
        -w '\n%{http_code}' "$@" "$base_url$path" 2>&1)
    code=${body##*$'\n'}
    body=${body%$'\n'*}
}

# json EXPR: evaluates a Python expression over the reply $body parsed as `j`.
json() {
    python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' \
        "$body" "$1" 2>/dev/null
}

# wait_job ID: polls GET /jobs/ID (2 minutes at most) until it ends; sets $status and $body.
wait_job() {
    status=""
    for _ in $(seq 1 240); do
        http GET "/jobs/$1"
        status=$(json 'j["status"]')
        case "$status" in
        succeeded | failed | cancelled) return 0 ;;
        esac
        sleep 0.5
    done
}

start_container() {
    cid=$(docker run -d --name "$NAME-$1" --network=host \
        -e NEUROND_PORT="$port" -e NEUROND_API_KEY="$KEY" -e NEUROND_WORKERS=1 \
        --health-interval=1s --health-start-period=30s \
        -v "$VOL:/data" "$IMAGE") || abort "container $1 starts"
}

wait_ready() {
    local deadline=$(($(date +%s) + 60)) t0
    t0=$(date +%s)
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -m 2 "$base_url/readyz")" = 200 ]; then
            ok "$1: /readyz answers 200 ($(($(date +%s) - t0)) s)"
            return 0
        fi
        if [ "$(docker inspect -f '{{.State.Running}}' "$cid" 2>/dev/null)" != true ]; then
            break
        fi
        sleep 0.5
    done
    abort "$1: /readyz answers 200 within 60 s" "$(docker logs --tail 20 "$cid" 2>&1)"
}

# SIGTERM to PID 1 (tini, which forwards it): the daemon must exit by itself, status 0,
# within 10 s.
stop_with_sigterm() {
    local t0 t1 status
    t0=$(date +%s.%N)
    docker kill -s TERM "$cid" >/dev/null
    status=$(timeout 15 docker wait "$cid")
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ "$status" = 0 ] && awk -v s="$secs" 'BEGIN { exit !(s < 10) }'; then
        ok "$1: SIGTERM stops it with status 0 in $secs s"
    else
        not_ok "$1: SIGTERM stops it with status 0 within 10 s (status '${status:-none}', $secs s)" \
            "$(docker logs --tail 10 "$cid" 2>&1)"
    fi
}

docker volume create "$VOL" >/dev/null || abort "docker volume create"
vol_made=1
start_container first
wait_ready "first container"

# Bound to every interface, not only loopback: reach it through another address of this host.
other=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -n 1)
if [ -n "$other" ]; then
    got=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://$other:$port/healthz")
    if [ "$got" = 200 ]; then
        ok "binds 0.0.0.0: /healthz through $other answers 200"
    else
        not_ok "binds 0.0.0.0: /healthz through $other answers 200 (got $got)"
    fi
fi

uid=$(awk '/^Uid:/ { print $2 }' "/proc/$(docker inspect -f '{{.State.Pid}}' "$cid")/status" 2>/dev/null)
if [ -n "$uid" ] && [ "$uid" != 0 ]; then
    ok "the container's PID 1 runs as uid $uid"
else
    not_ok "the container's PID 1 runs as a non-root uid (got '$uid')"
fi

if out=$(docker exec "$cid" neurond health 2>&1) && [[ "$out" == *'"status"'*'"ok"'* ]]; then
    ok "docker exec neurond health: exit 0, $out"
else
    not_ok "docker exec neurond health: exit 0 with the /healthz body" "$out"
fi

health=""
for _ in $(seq 1 40); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$cid")
    [ "$health" = healthy ] && break
    sleep 0.5
done
if [ "$health" = healthy ]; then
    ok "Docker reports the container healthy (HEALTHCHECK neurond health)"
else
    not_ok "Docker reports the container healthy (status '$health')" \
        "$(docker inspect -f '{{json .State.Health}}' "$cid")"
fi

# NEUROND_API_KEY reaches the daemon: without the key (or with another) the API answers 401.
anon=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$base_url/models")
wrong=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -H 'Authorization: Bearer nope' "$base_url/models")
http GET /models
if [ "$anon" = 401 ] && [ "$wrong" = 401 ] && [ "$code" = 200 ]; then
    ok "NEUROND_API_KEY guards the API (no key 401, wrong key 401, the key 200)"
else
    not_ok "NEUROND_API_KEY guards the API (no key $anon, wrong key $wrong, the key $code)"
fi

# Train iris from the bundled CSV; predict the held-out rows.
http POST "/train?model=iris&epochs=200&learning_rate=0.01&seed=7" \
    -H 'Content-Type: text/csv' --data-binary @tests/data/iris_train.csv
job=$(json 'j["id"]')
if [ "$code" = 202 ] && [ -n "$job" ]; then
    ok "POST /train (text/csv) answers 202 with a job ($job)"
else
    abort "POST /train (text/csv) answers 202 with a job (got $code)" "$body"
fi
wait_job "$job"
if [ "$status" = succeeded ]; then
    ok "the training job succeeds (val_accuracy $(json 'j["metrics"]["val_accuracy"]'))"
else
    abort "the training job succeeds (status '$status')" "$body"
fi

instances=$(python3 -c '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
label = list(rows[0].keys())[-1]
print(json.dumps({"model": "iris",
                  "instances": [{k: float(v) for k, v in r.items() if k != label} for r in rows]}))
print(json.dumps([r[label] for r in rows]))' tests/data/iris_test.csv)
request=$(head -n 1 <<<"$instances")
truth=$(tail -n 1 <<<"$instances")

# predict LABEL: POSTs the test rows; sets $labels (JSON list) and checks accuracy >= 0.8.
predict() {
    http POST /predict -H 'Content-Type: application/json' --data-binary "$request"
    labels=$(json 'json.dumps([p["label"] for p in j["predictions"]])')
    acc=$(python3 -c 'import json, sys
p, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("%.3f" % (sum(a == b for a, b in zip(p, t)) / len(t) if len(p) == len(t) else 0))' \
        "${labels:-[]}" "$truth" 2>/dev/null)
    if [ "$code" = 200 ] && awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.8) }'; then
        ok "$1: POST /predict answers 200, accuracy $acc on iris_test (>= 0.8)"
    else
        not_ok "$1: POST /predict answers 200 with accuracy >= 0.8 (got $code, ${acc:-none})" \
            "$body"
    fi
}
predict "first container"
labels_before=$labels

# Mail charsets other than UTF-8 and latin-1 go through glibc's iconv, whose converters are
# loaded at run time (gconv/): a spam model that keys on a Cyrillic word must recognise it
# in a KOI8-R, quoted-printable message. Were the converters missing from the image, the
# word would decode as windows-1252 letters and score like an unknown word (about 0.45).
python3 -c '
import random
random.seed(1)
words = ["погода", "новости", "работа", "семья", "книга", "город", "письмо", "встреча",
         "отчёт", "проект"]
print("text,label")
for i in range(60):
    w = random.sample(words, 4)
    if i % 2 == 0:
        w.insert(random.randrange(5), "привет")
    print("\"%s\",%s" % (" ".join(w), "spam" if i % 2 == 0 else "ham"))' >"$STATE/spam-$$.csv"
http POST "/train?model=spam&hidden=&epochs=300&learning_rate=0.05&text_columns=text" \
    -H 'Content-Type: text/csv' --data-binary @"$STATE/spam-$$.csv"
rm -f "$STATE/spam-$$.csv"
spam_job=$(json 'j["id"]')
for _ in $(seq 1 120); do
    http GET "/jobs/$spam_job"
    status=$(json 'j["status"]')
    case "$status" in
    succeeded | failed | cancelled) break ;;
    esac
    sleep 0.25
done
koi8() {
    printf 'From: a@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n%s\r\n%s\r\n\r\n%s\r\n' \
        'Content-Type: text/plain; charset=koi8-r' 'Content-Transfer-Encoding: quoted-printable' "$1"
}
http POST /spam-score -H 'Content-Type: message/rfc822' \
    --data-binary "$(koi8 '=D0=D2=C9=D7=C5=D4 =D0=D2=C9=D7=C5=D4 =D0=D2=C9=D7=C5=D4')" # привет x3
hit=$(json '"%.3f" % j["score"]')
http POST /spam-score -H 'Content-Type: message/rfc822' \
    --data-binary "$(koi8 '=D0=CF=C7=CF=C4=C1 =CB=CE=C9=C7=C1')" # погода книга
miss=$(json '"%.3f" % j["score"]')
if [ "$status" = succeeded ] && awk -v h="${hit:-0}" -v m="${miss:-1}" \
    'BEGIN { exit !(h > 0.8 && m < 0.5) }'; then
    ok "a KOI8-R mail is decoded through iconv in the image (spam score $hit; control $miss)"
else
    not_ok "a KOI8-R mail is decoded through iconv in the image (job '$status', score '$hit'\
 > 0.8, control '$miss' < 0.5)" "$body"
fi

logs=$(docker logs "$cid" 2>&1 | wc -l)
if [ "$logs" -gt 0 ]; then
    ok "the daemon logs to the container's output ($logs lines)"
else
    not_ok "the daemon logs to the container's output"
fi

stop_with_sigterm "first container"
docker rm -v "$cid" >/dev/null
cid=""
out=$(docker run --rm --network=host "$IMAGE" health --url "$base_url" --timeout 2 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && [[ "$out" == *"cannot connect"* ]]; then
    ok "neurond health exits 1 when nothing listens ($out)"
else
    not_ok "neurond health exits 1 when nothing listens (exit $rc)" "$out"
fi

# A new container on the same volume: the model must come back from the SQLite file.
start_container second
wait_ready "second container (same volume)"
http GET /models/iris
if [ "$code" = 200 ] && [ "$(json 'j["version"]')" = 1 ]; then
    ok "the model survives a new container on the volume (GET /models/iris: version 1)"
else
    not_ok "the model survives a new container on the volume (GET /models/iris: $code)" "$body"
fi
predict "second container"
if [ "$labels" = "$labels_before" ]; then
    ok "the same predictions before and after the restart"
else
    not_ok "the same predictions before and after the restart" "$labels_before
$labels"
fi
http GET "/jobs/$job"
if [ "$code" = 200 ] && [ "$(json 'j["status"]')" = succeeded ]; then
    ok "the job is kept across the restart (GET /jobs/$job: succeeded)"
else
    not_ok "the job is kept across the restart (GET /jobs/$job: $code)" "$body"
fi

# A long job (digits, thousands of epochs) that is running when SIGTERM comes: the daemon
# must still stop within 10 s, and the job must come back after the next start.
http POST "/train?model=digits&epochs=5000&patience=5000&hidden=128,128" \
    -H 'Content-Type: text/csv' --data-binary @tests/data/digits_train.csv
long_job=$(json 'j["id"]')
status=""
for _ in $(seq 1 40); do
    http GET "/jobs/$long_job"
    status=$(json 'j["status"]')
    [ "$status" = running ] && [ "$(json 'j["epoch"]')" -ge 1 ] 2>/dev/null && break
    sleep 0.25
done
if [ "$status" = running ]; then
    ok "a long training job is running ($long_job)"
else
    not_ok "a long training job is running (status '$status')" "$body"
fi
stop_with_sigterm "second container, while training"
docker rm -v "$cid" >/dev/null
cid=""

start_container third
wait_ready "third container (same volume)"
http GET "/jobs/$long_job"
status=$(json 'j["status"]')
if [ "$code" = 200 ] && { [ "$status" = queued ] || [ "$status" = running ]; }; then
    ok "the job stopped by SIGTERM is queued again after the restart ($status)"
else
    not_ok "the job stopped by SIGTERM is queued again after the restart ($code, '$status')" "$body"
fi
http POST "/jobs/$long_job/cancel"
stop_with_sigterm "third container"
docker rm -v "$cid" >/dev/null
cid=""

# ---------------------------------------------------------------- two replicas, one PostgreSQL

# Two containers of the image share a throwaway PostgreSQL (issue 18): a model trained through
# one is served by the other, and a job is read through either. The server runs on this host
# (scripts/pg-tmp.sh: initdb as an unprivileged user, trust authentication on 127.0.0.1); the
# containers reach it on the host network.
if scripts/pg-tmp.sh check 2>/dev/null; then
    pg_dir=/tmp/neurond-docker-pg-$$
    if pg_url=$(scripts/pg-tmp.sh start "$pg_dir" $$ 2>&1); then
        ok "a throwaway PostgreSQL on this host (${pg_url#*@})"
    else
        abort "a throwaway PostgreSQL (scripts/pg-tmp.sh start)" "$pg_url"
    fi
    port_a=$(free_port) || abort "a free port"
    port_b=$(free_port) || abort "a free port"
    for r in a b; do
        rport=$port_a
        [ "$r" = b ] && rport=$port_b
        c=$(docker run -d --name "$NAME-pg-$r" --network=host -e NEUROND_PORT="$rport" \
            -e NEUROND_API_KEY="$KEY" -e NEUROND_WORKERS=1 -e NEUROND_STORE="$pg_url" \
            "$IMAGE") || abort "replica $r starts on the PostgreSQL store"
        pg_cids="$pg_cids $c"
        cid=$c
        base_url="http://127.0.0.1:$rport"
        wait_ready "replica $r (NEUROND_STORE=postgresql://...)"
    done
    cid=""
    if docker logs "${pg_cids##* }" 2>&1 | grep -q 'ready: store postgresql'; then
        ok "the replicas say they run on the PostgreSQL store"
    else
        not_ok "the replicas say they run on the PostgreSQL store" "$(docker logs "${pg_cids##* }" 2>&1 | tail -5)"
    fi
    base_url="http://127.0.0.1:$port_a"
    http POST "/train?model=iris&epochs=200&learning_rate=0.01&seed=7" \
        -H 'Content-Type: text/csv' --data-binary @tests/data/iris_train.csv
    pg_job=$(json 'j["id"]')
    [ "$code" = 202 ] || abort "POST /train through replica a answers 202 (got $code)" "$body"
    base_url="http://127.0.0.1:$port_b"
    wait_job "$pg_job"
    if [ "$status" = succeeded ]; then
        ok "a job accepted by replica a is read as succeeded through replica b"
    else
        abort "a job accepted by replica a is read as succeeded through replica b ('$status')" "$body"
    fi
    predict "replica b (model trained through replica a)"
    labels_b=$labels
    base_url="http://127.0.0.1:$port_a"
    predict "replica a"
    if [ "$labels" = "$labels_b" ]; then
        ok "both replicas give the same predictions"
    else
        not_ok "both replicas give the same predictions" "$labels
$labels_b"
    fi
    for c in $pg_cids; do
        docker rm -fv "$c" >/dev/null 2>&1
    done
    pg_cids=""
    scripts/pg-tmp.sh destroy "$pg_dir" >/dev/null 2>&1
    pg_dir=""
    base_url="http://127.0.0.1:$port"
else
    not_ok "PostgreSQL's server is installed for the two-replica check (scripts/deps.sh test)"
fi

# ---------------------------------------------------------------- docker/compose.yaml

# compose ARGS: docker/compose.yaml under this run's project name, on this run's image.
compose() {
    NEUROND_IMAGE=$IMAGE NEUROND_API_KEY=$KEY NEUROND_PUBLISH="127.0.0.1:$port" \
        $compose_cmd -p "neurond-test-$$" -f docker/compose.yaml "$@"
}
compose_cmd=""
if docker compose version >/dev/null 2>&1; then
    compose_cmd="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=docker-compose
fi
if [ -z "$compose_cmd" ]; then
    not_ok "docker compose or docker-compose present (scripts/deps.sh docker)"
    exit 1
fi
# shellcheck disable=SC2086 # "docker compose" is two words
if out=$(env -u NEUROND_API_KEY $compose_cmd -f docker/compose.yaml config 2>&1); then
    not_ok "compose.yaml refuses to start without NEUROND_API_KEY" "$out"
else
    ok "compose.yaml refuses to start without NEUROND_API_KEY"
fi
compose_up=1
if out=$(compose up -d 2>&1); then
    ok "compose up (named volume, port published on 127.0.0.1:$port)"
else
    abort "compose up" "$out"
fi
cid=$(compose ps -q neurond)
wait_ready "compose service"
http GET /models/iris
anon=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$base_url/models")
if [ "$code" = 404 ] && [ "$anon" = 401 ]; then
    ok "compose service: the API key from the environment, a fresh volume (no model: 404)"
else
    not_ok "compose service: the API key from the environment (no key: $anon), a fresh volume\
 (GET /models/iris: $code)" "$body"
fi
cid=""
if out=$(compose down -v -t 10 2>&1); then
    compose_up=0
    ok "compose down -v"
else
    not_ok "compose down -v" "$out"
fi
