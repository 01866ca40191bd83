// vector_add.cu — built-in kernel: c = a + b over n floats, one element per thread.
// The simulated driver runs a CPU copy of this exact computation (builtin_kernels.cc).
extern "C" __global__ void vector_add(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}
