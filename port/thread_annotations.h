// Clang thread-safety annotations (leveldb's port/thread_annotations.h); no-ops elsewhere.
#pragma once

#if defined(__clang__)
#define JB_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define JB_THREAD_ANNOTATION(x)
#endif

#define GUARDED_BY(x) JB_THREAD_ANNOTATION(guarded_by(x))
#define EXCLUSIVE_LOCKS_REQUIRED(...) JB_THREAD_ANNOTATION(exclusive_locks_required(__VA_ARGS__))
#define LOCKS_EXCLUDED(...) JB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
