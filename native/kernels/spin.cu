// spin.cu — built-in kernel: every thread busy-waits until `nanoseconds` have
// passed on the GPU's global timer, so the device stays busy for a known time
// (time-slicing and scheduling tests). The simulated driver holds its device
// executor for the same time (builtin_kernels.cc).
extern "C" __global__ void spin(unsigned long long nanoseconds) {
  unsigned long long start;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  unsigned long long now = start;
  while (now - start < nanoseconds) {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  }
}
