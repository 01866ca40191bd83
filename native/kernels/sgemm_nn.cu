// sgemm_nn.cu — built-in kernel: C = alpha*A*B + beta*C for row-major A (m x k),
// B (k x n), C (m x n); one element of C per thread, the row from y and the
// column from x. Deliberately naive: it exists to give tests real work with a
// result they can check, not to be fast.
// The simulated driver runs a CPU copy of this exact computation (builtin_kernels.cc),
// accumulating in the same order with fused multiply-adds as the PTX does.
extern "C" __global__ void sgemm_nn(int m, int n, int k, float alpha, const float* A,
                                    const float* B, float beta, float* C) {
  int row = blockIdx.y * blockDim.y + threadIdx.y;
  int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (row < m && col < n) {
    float acc = 0.0f;
    for (int i = 0; i < k; ++i) acc = fmaf(A[row * k + i], B[i * n + col], acc);
    C[row * n + col] = alpha * acc + beta * C[row * n + col];
  }
}
