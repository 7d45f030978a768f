# shellcheck shell=bash
# Sourced by the shell test scripts (tests/docker/run.sh, tests/fresh/run.sh): counts checks.
#   ok "what held"                    pass += 1, prints "ok   what held"
#   not_ok "what failed" [DETAILS]    failed += 1, prints "FAIL ..." and up to 20 detail lines
pass=0
failed=0
ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}
not_ok() {
    failed=$((failed + 1))
    echo "FAIL $1"
    if [ -n "${2:-}" ]; then
        echo "$2" | head -n 20 | sed 's/^/     /'
    fi
}
