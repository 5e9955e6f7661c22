#include "reconciler/memory_store.h"

namespace jb {

MemoryStore::MemoryStore() : StoreCore(nullptr) {}

}  // namespace jb
