// The Aeron C client and C media driver APIs, installed by Tools/aeron/install.sh.
// pkg-config (package `aeron`) supplies the include path and the static link flags.
#ifndef CAERON_SHIM_H
#define CAERON_SHIM_H

#include <aeronc.h>
#include <aeronmd.h>

#endif
