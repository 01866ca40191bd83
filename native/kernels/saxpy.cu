// saxpy.cu — built-in kernel: y = a*x + y over n floats, one element per thread.
// The simulated driver runs a CPU copy of this exact computation (builtin_kernels.cc);
// on a real GPU the committed PTX (ptx/saxpy.ptx) is JIT-compiled by the driver.
extern "C" __global__ void saxpy(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
