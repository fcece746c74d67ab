#define _GNU_SOURCE
#include <sched.h>

#include "affinity.h"

int tp_bench_cpu_count(void)
{
    cpu_set_t set;
    if (0 != sched_getaffinity(0, sizeof(set), &set))
    {
        return 1;
    }
    return CPU_COUNT(&set);
}

int tp_bench_pin(int first, int last)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu = first; cpu <= last; cpu++)
    {
        CPU_SET(cpu, &set);
    }
    return sched_setaffinity(0, sizeof(set), &set);
}
