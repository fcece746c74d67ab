// The Aeron C client and C media driver APIs, installed by Tools/aeron/install.sh.
// pkg-config (package `aeron`) supplies the include path and the static link flags.
#ifndef CAERON_SHIM_H
#define CAERON_SHIM_H

#include <aeronc.h>
#include <aeronmd.h>

// Exported by the library (util/aeron_error.h) but not declared in the public headers. Aeron's C code sets an error
// only when the thread has none pending and otherwise appends to it, so a caller that reports errors clears the
// thread's error state before each call whose failure it reports.
void aeron_err_clear(void);

#endif
