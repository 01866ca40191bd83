// host_func.cc — see host_func.h.
#include "host_func.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "remote.h"

namespace gpupool::remote {
namespace {

struct Pending {
  CUhostFn fn;
  void* data;
};

struct HostFuncs {
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t next_id = 1;
  std::map<uint64_t, Pending> waiting;          // gates sent, not reached yet
  std::deque<std::pair<uint64_t, Pending>> ready;  // reached: run in this order
  int wake_fd = -1;  // wakes the thread's poll when something is queued
  bool started = false;
};

HostFuncs& state() {
  static HostFuncs* s = new HostFuncs;  // never destroyed: its thread runs until exit
  return *s;
}

void wake(HostFuncs& s) {
  s.changed.notify_all();
  if (s.wake_fd >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(s.wake_fd, &one, sizeof one);
  }
}

// Blocks until the wake fd (and, unless a call is reading, the socket) is readable.
void wait_for_input(HostFuncs& s, bool socket) {
  pollfd fds[2] = {{s.wake_fd, POLLIN, 0}, {conn().fd(), POLLIN, 0}};
  if (::poll(fds, socket ? 2 : 1, -1) > 0 && (fds[0].revents & POLLIN)) {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(s.wake_fd, &count, sizeof count);
  }
}

void run_host_functions() {
  HostFuncs& s = state();
  for (;;) {
    std::unique_lock<std::mutex> lock(s.mutex);
    if (!s.ready.empty()) {
      auto [id, p] = s.ready.front();
      s.ready.pop_front();
      lock.unlock();
      p.fn(p.data);
      conn().send_host_func_done(id);
      continue;
    }
    if (conn().broken()) {
      s.waiting.clear();  // no notice will come: nothing of them can run
      s.changed.wait(lock, [&] { return !s.ready.empty(); });
      continue;
    }
    if (s.waiting.empty()) {
      s.changed.wait(lock, [&] { return !s.ready.empty() || !s.waiting.empty(); });
      continue;
    }
    lock.unlock();
    // Gates are out and nothing is ready: read the notices that arrived. A
    // call in progress reads them itself, and wakes this thread when it ends.
    bool pumped = conn().pump_notices(s.wake_fd);
    lock.lock();
    bool idle = s.ready.empty() && !s.waiting.empty() && !conn().broken();
    lock.unlock();
    if (idle) wait_for_input(s, pumped);
  }
}

}  // namespace

CUresult launch_host_func(uint64_t remote_stream, CUhostFn fn, void* data) {
  HostFuncs& s = state();
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.started) {
      s.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (s.wake_fd < 0) return CUDA_ERROR_OPERATING_SYSTEM;
      std::thread(run_host_functions).detach();
      s.started = true;
    }
    id = s.next_id++;
    s.waiting[id] = Pending{fn, data};
  }
  wire::Writer w;
  w.u64(1, remote_stream);
  w.u64(2, id);
  CUresult r = conn().post(wire::kLaunchHostFunc, w);
  if (r == CUDA_SUCCESS) r = conn().flush();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (r != CUDA_SUCCESS) {
    s.waiting.erase(id);
    return r;
  }
  wake(s);
  return CUDA_SUCCESS;
}

void host_func_ready(uint64_t id, CUresult result) {
  HostFuncs& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.waiting.find(id);
  if (it == s.waiting.end()) return;  // not ours (or already dropped): nothing to run
  if (result == CUDA_SUCCESS) s.ready.emplace_back(id, it->second);
  s.waiting.erase(it);
  wake(s);
}

}  // namespace gpupool::remote
