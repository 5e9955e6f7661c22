#include "reconciler/memory_store.h"

namespace jb {

MemoryStore::MemoryStore() : StoreCore(nullptr) {}

StatusOr<Object> MemoryStore::PutUnchecked(Object obj) {
  skip_read_back_ = true;
  auto put = Put(std::move(obj));
  skip_read_back_ = false;
  return put;
}

}  // namespace jb
