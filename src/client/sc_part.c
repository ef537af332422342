/*
 * sc_part: murmur2 as in Kafka's org.apache.kafka.common.utils.Utils
 * (32-bit MurmurHash2, little-endian 4-byte blocks, seed 0x9747b28c) and
 * the sticky choice for keyless records.
 */
#include "client/sc_part.h"

int32_t sc_murmur2(const void *data, size_t len)
{
    const uint8_t *d = data;
    const uint32_t seed = 0x9747b28cu;
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t n4 = len / 4;
    for (size_t i = 0; i < n4; i++) {
        const uint8_t *b = d + i * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *t = d + n4 * 4;
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)t[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)t[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)t[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t sc_part_for_key(const void *key, size_t len, int32_t n_partitions)
{
    if (n_partitions <= 0)
        return -1;
    uint32_t pos = (uint32_t)sc_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(pos % (uint32_t)n_partitions);
}

static uint32_t sc_sticky_rand(sc_sticky_t *s)
{
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return (uint32_t)(x >> 32);
}

void sc_sticky_init(sc_sticky_t *s, uint64_t seed)
{
    s->current = -1;
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

int32_t sc_sticky_get(sc_sticky_t *s, int32_t n_partitions)
{
    if (n_partitions <= 0)
        return -1;
    if (s->current < 0 || s->current >= n_partitions)
        s->current = (int32_t)(sc_sticky_rand(s) % (uint32_t)n_partitions);
    return s->current;
}

void sc_sticky_batch_closed(sc_sticky_t *s, int32_t closed, int32_t n_partitions)
{
    if (closed != s->current || n_partitions <= 1)
        return;
    int32_t next = (int32_t)(sc_sticky_rand(s) % (uint32_t)(n_partitions - 1));
    if (next >= closed)
        next++;
    s->current = next;
}
