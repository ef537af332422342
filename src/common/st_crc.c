/*
 * st_crc: CRC32C through ISA-L. crc32_iscsi() takes and returns the raw
 * register (no final inversion), so the standard value is
 * ~crc32_iscsi(p, n, ~0); continuing means feeding the un-inverted value.
 */
#include "common/st_crc.h"

#include <isa-l/crc.h>
#include <limits.h>

uint32_t st_crc32c_update(uint32_t crc, const void *p, size_t n)
{
    uint32_t reg = ~crc;
    const unsigned char *b = p;
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        reg = crc32_iscsi((unsigned char *)b, chunk, reg);
        b += chunk;
        n -= (size_t)chunk;
    }
    return ~reg;
}

uint32_t st_crc32c(const void *p, size_t n)
{
    return st_crc32c_update(0, p, n);
}
