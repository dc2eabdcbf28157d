#pragma once

// Names the calling thread (at most 15 characters show), so top, perf and gdb tell sluice's
// threads apart.

#include <pthread.h>

#include <string>
#include <string_view>

namespace sluice {

inline void set_thread_name(std::string_view name) {
  const std::string shown(name.substr(0, 15));
  pthread_setname_np(pthread_self(), shown.c_str());
}

}  // namespace sluice
