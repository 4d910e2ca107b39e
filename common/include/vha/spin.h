/* SPDX-License-Identifier: MIT */
/*
 * Busy polling's one primitive, for the backend's workers and libvhafront
 * (--poll-us, opts.poll_us): a hint to the CPU that this thread spins on
 * memory another one writes (x86 PAUSE, arm64 YIELD), which saves power
 * and lets a sibling hyperthread run. Not installed.
 */
#ifndef VHA_SPIN_H
#define VHA_SPIN_H

static inline void vha_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif
