#ifndef TP_CRC32C_H
#define TP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Extends the CRC32C (Castagnoli) `crc` over `length` bytes at `data`. Start with 0; the result is the final value
/// (the pre- and post-inversion are applied inside). Uses the SSE4.2 `crc32` instruction when the CPU has it.
uint32_t tp_crc32c_update(uint32_t crc, const void *data, size_t length);

/// Whether the hardware instruction is used.
int tp_crc32c_hardware(void);

#endif
