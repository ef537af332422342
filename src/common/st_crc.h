/*
 * st_crc: CRC32C (Castagnoli), the checksum of record batches, computed by
 * ISA-L's crc32_iscsi (hardware-accelerated where the CPU allows). Owns
 * nothing but the convention: standard CRC32C, initial value and final xor
 * 0xFFFFFFFF, so st_crc32c("123456789") == 0xE3069283.
 */
#ifndef ST_CRC_H
#define ST_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of n bytes at p. */
uint32_t st_crc32c(const void *p, size_t n);
/* Continue a CRC: st_crc32c_update(st_crc32c(a), b) == st_crc32c(a||b). */
uint32_t st_crc32c_update(uint32_t crc, const void *p, size_t n);

#endif
