// executor.cc — one thread per simulated device that runs its device work.
//
// Work from every stream of every context on the device runs here, one item at
// a time in submission order, truly asynchronous to the caller. A failed item
// sets its context's sticky error (first error wins), which is how the driver
// surfaces faults of asynchronous work at the next call.
//
// Idling like a GPU, not like a thread pool: a GPU's front end keeps polling
// its push buffer, so submitting work costs the host a memory write, never a
// system call. Here the executor, once its queue is empty, polls the queue for
// kPollNs before it blocks, and submit() signals the condition variable only
// when the executor is blocked. Without that, a program that submits work a
// microsecond apart (a stream of launches arriving over a network, say) paid a
// futex wake and two context switches per launch, which a real driver never
// pays. The poll is short (submissions further apart than that pay the wake
// as before) and spins without system calls, so an executor idling between
// large copies costs little CPU. It changes only how the idle executor waits,
// never what runs when or in which order.
//
// Executors are created once per process and deliberately never destroyed:
// joining a thread from a static destructor while a program exits with work in
// flight is how drivers hang at exit.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

#include "sim.h"

namespace gpupool::sim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::nanoseconds kPollNs{10'000};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

struct DeviceExecutor::Impl {
  struct Item {
    Context* ctx;
    std::function<CUresult()> work;
  };
  std::mutex mutex;
  std::condition_variable has_work;
  std::condition_variable progressed;
  std::deque<Item> queue;                  // guarded by mutex
  uint64_t submitted = 0;                  // guarded by mutex
  bool blocked = false;                    // the executor waits on has_work; guarded by mutex
  std::atomic<uint64_t> queued_seq{0};     // == submitted, readable without the lock (polling)
  std::atomic<int> waiters{0};             // threads blocked (or about to block) in wait()
  std::thread thread;

  // Waits until the queue holds something: polls, then blocks. Returns with the lock held.
  void await_work(std::unique_lock<std::mutex>& lock, uint64_t taken) {
    if (!queue.empty()) return;
    lock.unlock();
    auto deadline = Clock::now() + kPollNs;
    for (unsigned i = 1; queued_seq.load(std::memory_order_acquire) == taken; ++i) {
      cpu_relax();
      if (i % 64 == 0 && Clock::now() >= deadline) break;  // the clock costs more than a look at the queue
    }
    lock.lock();
    while (queue.empty()) {
      blocked = true;
      has_work.wait(lock);
      blocked = false;
    }
  }

  void run(DeviceExecutor* owner) {
    uint64_t seq = 0;
    for (;;) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mutex);
        await_work(lock, seq);
        item = std::move(queue.front());
        queue.pop_front();
      }
      ++seq;
      CUresult result = item.work();
      item.work = nullptr;  // the closure's captures go now, before the waiters are told
      if (result != CUDA_SUCCESS && item.ctx != nullptr) {
        int expected = CUDA_SUCCESS;
        item.ctx->sticky_error.compare_exchange_strong(expected, result);
        note_unrecoverable(result);
      }
      // seq_cst store, then seq_cst load of waiters: a waiter either sees this
      // store in its predicate or is counted here (wait() mirrors the order).
      owner->completed_.store(seq, std::memory_order_seq_cst);
      if (waiters.load(std::memory_order_seq_cst) > 0) {
        // Through the lock, so a waiter between its predicate and its sleep
        // cannot miss the notification.
        { std::lock_guard<std::mutex> lock(mutex); }
        progressed.notify_all();
      }
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
  bool wake;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    seq = ++impl_->submitted;
    impl_->queue.push_back({ctx, std::move(work)});
    impl_->queued_seq.store(seq, std::memory_order_release);
    wake = impl_->blocked;
  }
  if (wake) impl_->has_work.notify_one();
  return seq;
}

void DeviceExecutor::wait(uint64_t seq) {
  if (done(seq)) return;
  std::unique_lock<std::mutex> lock(impl_->mutex);
  impl_->waiters.fetch_add(1, std::memory_order_seq_cst);
  impl_->progressed.wait(lock, [&] { return completed_.load(std::memory_order_seq_cst) >= seq; });
  impl_->waiters.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t DeviceExecutor::last_submitted() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->submitted;
}

}  // namespace gpupool::sim
