// statfs/fstatfs and the file-system magic numbers, which the Swift Glibc module does not import.
#pragma once
#if defined(__linux__)
#include <sys/vfs.h>
#include <linux/magic.h>
#endif
