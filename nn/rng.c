/*
 * rng: xoshiro256** (Blackman and Vigna), seeded with splitmix64. Deterministic everywhere.
 */
#include "nn/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void nn_rng_seed(struct nn_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    int i;

    for (i = 0; i < 4; i++) {
        rng->s[i] = splitmix64(&x);
    }
}

uint64_t nn_rng_next(struct nn_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double nn_rng_uniform(struct nn_rng *rng)
{
    return (double)(nn_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t nn_rng_below(struct nn_rng *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;

    do {
        r = nn_rng_next(rng);
    } while (r >= limit);
    return r % n;
}

double nn_rng_normal(struct nn_rng *rng)
{
    double u1 = 1.0 - nn_rng_uniform(rng); /* (0, 1] so log is finite */
    double u2 = nn_rng_uniform(rng);

    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void nn_rng_shuffle(struct nn_rng *rng, size_t *idx, size_t n)
{
    size_t i;

    for (i = n; i > 1; i--) {
        size_t j = (size_t)nn_rng_below(rng, i);
        size_t t = idx[i - 1];

        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
