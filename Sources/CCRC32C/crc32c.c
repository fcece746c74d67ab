#include "tp_crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define TP_CRC32C_X86 1
#endif

static uint32_t table[256];
static int table_ready;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    table_ready = 1;
}

static uint32_t software(uint32_t crc, const unsigned char *p, size_t n) {
    if (!table_ready) build_table();
    while (n--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

#if TP_CRC32C_X86
__attribute__((target("sse4.2"))) static uint32_t hardware(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

int tp_crc32c_hardware(void) {
#if TP_CRC32C_X86
    return __builtin_cpu_supports("sse4.2");
#else
    return 0;
#endif
}

uint32_t tp_crc32c_update(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = ~crc;
#if TP_CRC32C_X86
    if (tp_crc32c_hardware()) return ~hardware(c, p, length);
#endif
    return ~software(c, p, length);
}
