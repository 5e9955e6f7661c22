// MemoryStore: a Store that keeps its objects in memory only (tests, benchmarks, tools), with
// exactly the semantics of FileStore (both are StoreCore): lost when destroyed.
// Thread-safety: all methods are thread-safe.
#pragma once

#include "reconciler/store_core.h"

namespace jb {

class MemoryStore : public StoreCore {
 public:
  MemoryStore();
};

}  // namespace jb
