// Clang thread-safety annotations (abseil/leveldb names); no-ops for other compilers. Use them on
// jb::Mutex (base/mutex.h): std::mutex is not an annotated capability, so a GUARDED_BY on a
// std::mutex checks nothing.
#pragma once

#if defined(__clang__)
#define JB_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define JB_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) JB_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY JB_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) JB_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) JB_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_AFTER(...) JB_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) JB_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define EXCLUSIVE_LOCKS_REQUIRED(...) JB_THREAD_ANNOTATION(exclusive_locks_required(__VA_ARGS__))
#define REQUIRES(...) JB_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) JB_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) JB_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) JB_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define LOCKS_EXCLUDED(...) JB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define EXCLUDES(...) JB_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) JB_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) JB_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS JB_THREAD_ANNOTATION(no_thread_safety_analysis)
