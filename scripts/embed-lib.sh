# shellcheck shell=sh
# Sourced by scripts/embed-files.sh and scripts/embed-migrations.sh: what both write.
# (POSIX sh has no local variables: the function's own are named embed_*.)

# embed_arrays PREFIX TYPE FILE...: one C array `static const TYPE PREFIX_i[]` per file (i from
# 0, in the order given) holding its bytes and a final 0x00, so the text is also a C string.
embed_arrays() {
    embed_prefix=$1
    embed_type=$2
    shift 2
    embed_i=0
    for embed_f in "$@"; do
        echo "static const $embed_type ${embed_prefix}_${embed_i}[] = {"
        od -An -v -tx1 "$embed_f" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
        echo "0x00};"
        embed_i=$((embed_i + 1))
    done
    echo
}
