#include "reconciler/store.h"

#include <utility>

namespace jb {

Subscription::Subscription(Subscription&& other) noexcept : cancel_(std::exchange(other.cancel_, nullptr)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    cancel_ = std::exchange(other.cancel_, nullptr);
  }
  return *this;
}

void Subscription::Reset() {
  // Cleared before the call, so a Reset from inside `cancel` (or a second Reset) is a no-op.
  std::function<void()> cancel = std::exchange(cancel_, nullptr);
  if (cancel) cancel();
}

}  // namespace jb
