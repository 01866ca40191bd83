// executor.cc — one thread per simulated device that runs its device work.
//
// Work from every stream of every context on the device runs here, one item at
// a time in submission order, truly asynchronous to the caller. A failed item
// sets its context's sticky error (first error wins), which is how the driver
// surfaces faults of asynchronous work at the next call.
//
// Executors are created once per process and deliberately never destroyed:
// joining a thread from a static destructor while a program exits with work in
// flight is how drivers hang at exit.
#include <condition_variable>
#include <deque>
#include <thread>

#include "sim.h"

namespace gpupool::sim {

struct DeviceExecutor::Impl {
  struct Item {
    Context* ctx;
    std::function<CUresult()> work;
  };
  std::mutex mutex;
  std::condition_variable has_work;
  std::condition_variable progressed;
  std::deque<Item> queue;
  uint64_t submitted = 0;
  std::thread thread;

  void run(DeviceExecutor* owner) {
    uint64_t seq = 0;
    for (;;) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mutex);
        has_work.wait(lock, [&] { return !queue.empty(); });
        item = std::move(queue.front());
        queue.pop_front();
      }
      ++seq;
      CUresult result = item.work();
      if (result != CUDA_SUCCESS && item.ctx != nullptr) {
        int expected = CUDA_SUCCESS;
        item.ctx->sticky_error.compare_exchange_strong(expected, result);
        note_unrecoverable(result);
      }
      {
        // Store under the lock so a waiter cannot miss the wake-up.
        std::lock_guard<std::mutex> lock(mutex);
        owner->completed_.store(seq, std::memory_order_release);
      }
      progressed.notify_all();
    }
  }
};

DeviceExecutor::DeviceExecutor(int ordinal) : impl_(new Impl) {
  impl_->thread = std::thread([this] { impl_->run(this); });
  impl_->thread.detach();
  (void)ordinal;
}

DeviceExecutor::~DeviceExecutor() = default;  // never reached; see the file comment

uint64_t DeviceExecutor::submit(Context* ctx, std::function<CUresult()> work) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    seq = ++impl_->submitted;
    impl_->queue.push_back({ctx, std::move(work)});
  }
  impl_->has_work.notify_one();
  return seq;
}

void DeviceExecutor::wait(uint64_t seq) {
  if (done(seq)) return;
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->progressed.wait(lock, [&] { return done(seq); });
}

uint64_t DeviceExecutor::last_submitted() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->submitted;
}

}  // namespace gpupool::sim
