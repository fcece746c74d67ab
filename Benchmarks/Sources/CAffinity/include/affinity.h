// CPU affinity for the benchmark processes (sched_setaffinity needs _GNU_SOURCE, which Swift's Glibc module lacks).
#ifndef TP_BENCH_AFFINITY_H
#define TP_BENCH_AFFINITY_H

/// The number of CPUs this process may run on, or 1 when unknown.
int tp_bench_cpu_count(void);

/// Restricts this process (and threads it starts later) to the CPUs in [first, last]; returns 0 on success.
int tp_bench_pin(int first, int last);

#endif
