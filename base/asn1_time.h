// A certificate time (OpenSSL's ASN1_TIME: notBefore/notAfter) as an RFC 3339 UTC timestamp, for
// messages about certificate validity. Header-only: base does not link OpenSSL; only the code that
// already reads certificates (and links OpenSSL) includes this.
// Thread-safety: pure function.
#pragma once

#include <openssl/asn1.h>

#include <ctime>
#include <string>

#include "base/rfc3339.h"

namespace jb {

// "2030-01-01T00:00:00Z"; "(unreadable time)" when OpenSSL cannot decode it.
inline std::string Asn1TimeRfc3339(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "(unreadable time)";
  return FormatRfc3339(timegm(&tm));
}

}  // namespace jb
