// fill_u32.cu — built-in kernel: p[i] = v for i < n, one element per thread
// (64-bit element index, so a large grid covers more than 2^32 elements).
// The simulated driver runs a CPU copy of this exact computation (builtin_kernels.cc).
extern "C" __global__ void fill_u32(unsigned* p, unsigned v, unsigned long long n) {
  unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = v;
}
