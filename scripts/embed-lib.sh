# shellcheck shell=sh
# Sourced by scripts/embed-files.sh and scripts/embed-migrations.sh: what both write.

# embed_arrays PREFIX TYPE FILE...: one C array `static const TYPE PREFIX_i[]` per file (i from
# 0, in the order given) holding its bytes and a final 0x00, so the text is also a C string.
embed_arrays() {
    prefix=$1
    type=$2
    shift 2
    i=0
    for f in "$@"; do
        echo "static const $type ${prefix}_${i}[] = {"
        od -An -v -tx1 "$f" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
        echo "0x00};"
        i=$((i + 1))
    done
    echo
}
