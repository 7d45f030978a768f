/*
 * bench_clock: the two clocks every C benchmark reads — wall time (CLOCK_MONOTONIC) and the
 * process's CPU time (CLOCK_PROCESS_CPUTIME_ID, steadier on a shared machine), in seconds.
 * Header-only (static): each benchmark is one .c file.
 */
#ifndef NEUROND_BENCH_CLOCK_H
#define NEUROND_BENCH_CLOCK_H

#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
