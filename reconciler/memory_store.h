// MemoryStore: a Store that keeps its objects in memory only (tests, benchmarks, tools), with
// exactly the semantics of FileStore (both are StoreCore): lost when destroyed.
// Thread-safety: all methods are thread-safe.
#pragma once

#include "reconciler/store_core.h"

namespace jb {

class MemoryStore : public StoreCore {
 public:
  MemoryStore();
  // Tests only: Put without the read-back check (CheckReadsBack), to seed an object that the API
  // would not load back today (an older version's data) and test what the reconciler does with it.
  // A Put from another thread meanwhile is unchecked too.
  StatusOr<Object> PutUnchecked(Object obj);
  // Tests only: false = every write skips the read-back check (skeleton fixtures).
  void CheckReadBack(bool on) { skip_read_back_ = !on; }
};

}  // namespace jb
