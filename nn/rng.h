/*
 * rng: a small, seedable PRNG (xoshiro256** seeded through splitmix64) owned by the caller.
 *
 * nn/ has no global or hidden RNG: every function that needs randomness takes a
 * struct nn_rng *. Same seed, same sequence, on every platform (integer arithmetic only,
 * floats made from the top 24/53 bits).
 * Thread-safety: one struct nn_rng per thread.
 */
#ifndef NEUROND_NN_RNG_H
#define NEUROND_NN_RNG_H

#include <stddef.h>
#include <stdint.h>

struct nn_rng {
    uint64_t s[4];
};

/** Seeds the generator; any seed (0 included) gives a valid state. */
void nn_rng_seed(struct nn_rng *rng, uint64_t seed);
/** Next 64 random bits. */
uint64_t nn_rng_next(struct nn_rng *rng);
/** Uniform double in [0, 1). */
double nn_rng_uniform(struct nn_rng *rng);
/** Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t nn_rng_below(struct nn_rng *rng, uint64_t n);
/** Standard normal deviate (Box-Muller, deterministic). */
double nn_rng_normal(struct nn_rng *rng);
/** Fisher-Yates shuffle of n indices in place. */
void nn_rng_shuffle(struct nn_rng *rng, size_t *idx, size_t n);

#endif
