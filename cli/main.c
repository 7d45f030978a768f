/*
 * main: the `neurond` command line — dispatches to the subcommands (train, predict, eval,
 * inspect, serve). Placeholder until the subcommands land; prints usage.
 */
#include <stdio.h>
#include <string.h>

#include "server/main.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: neurond <train|predict|eval|inspect|serve> ...\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "serve") == 0) {
        return srv_main(argc - 1, argv + 1);
    }
    fprintf(stderr, "neurond: unknown command '%s'\n", argv[1]);
    return 2;
}
