// A thread that runs VDDK calls for one connection (or the library) and settles their promises on
// the JavaScript thread through a thread-safe function. Header-only; part of vddk-addon.cc.
#ifndef LIFEBOAT_VDDK_WORKER_H
#define LIFEBOAT_VDDK_WORKER_H

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include <napi.h>

namespace lifeboat_vddk {

struct Job {
  std::function<void()> work;           // on the worker thread
  std::function<void(Napi::Env)> done;  // on the JS thread; empty for fire-and-forget cleanup
};

class Worker : public std::enable_shared_from_this<Worker> {
 public:
  static std::shared_ptr<Worker> Create(Napi::Env env) {
    std::shared_ptr<Worker> w(new Worker());
    w->tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "vddk", 0, 1);
    w->tsfn_.Unref(env);
    // The running thread holds the worker, so queued work always finds it alive.
    w->thread_ = std::thread([keep = w] { keep->Loop(); });
    return w;
  }

  ~Worker() {
    if (!thread_.joinable()) return;
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // the thread's last act was dropping its own reference
    } else {
      Signal();
      thread_.join();
    }
  }

  // From the JS thread. False once the worker is stopping: nothing queued now would ever run.
  bool Post(Napi::Env env, std::shared_ptr<Job> job) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (stopping_) return false;
      queue_.push_back(job);
    }
    if (job->done && pending_++ == 0) tsfn_.Ref(env);
    wake_.notify_one();
    return true;
  }

  // From a finalizer: no promise to settle.
  void PostCleanup(std::function<void()> work) {
    auto job = std::make_shared<Job>();
    job->work = std::move(work);
    std::lock_guard<std::mutex> guard(mutex_);
    if (!stopping_) queue_.push_back(job);
    wake_.notify_one();
  }

  // From the JS thread: runs what is queued, then ends the thread.
  void Stop() {
    Signal();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    if (!released_) {
      released_ = true;
      tsfn_.Release();
    }
  }

 private:
  Worker() = default;

  void Signal() {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
  }

  void Loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> guard(mutex_);
        wake_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job->work();
      if (!job->done) continue;
      // Never the last reference while this thread runs (it holds `keep`), so never freed here.
      std::shared_ptr<Worker> self = shared_from_this();
      tsfn_.BlockingCall([self, job](Napi::Env env, Napi::Function) {
        job->done(env);
        if (--self->pending_ == 0 && !self->released_) self->tsfn_.Unref(env);
      });
    }
  }

  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  bool released_ = false;  // JS thread only
  int pending_ = 0;        // JS thread only
};

}  // namespace lifeboat_vddk

#endif  // LIFEBOAT_VDDK_WORKER_H
