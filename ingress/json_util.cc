#include "ingress/json_util.h"

namespace jb::oip {

using nlohmann::json;

StatusOr<json> ParseJsonBounded(std::string_view text, int max_depth, uint64_t max_values) {
  bool too_deep = false;
  bool too_many = false;
  uint64_t values = 0;
  // Returning false discards the part instead of storing it; parsing goes on (bounded by the text).
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json&) {
    if (too_deep || too_many) return false;
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      too_deep = true;
      return false;
    }
    if (event == json::parse_event_t::value && ++values > max_values) {
      too_many = true;
      return false;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> from "parse error".
    const auto pos = what.find("] ");
    return Status::InvalidArgument("malformed JSON: " + (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
  if (too_deep) return Status::InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  if (too_many) return Status::InvalidArgument("JSON has more than " + std::to_string(max_values) + " values");
  return doc;
}

std::string JsonKind(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "binary";
  }
}

const json* Member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

StatusOr<std::string> RequiredString(const json& obj, const char* key, const std::string& where, size_t max_len) {
  const json* v = Member(obj, key);
  if (!v) return Status::InvalidArgument(where + ": missing \"" + key + "\" (a string)");
  if (!v->is_string())
    return Status::InvalidArgument(where + ": \"" + key + "\" is " + JsonKind(*v) + ", expected a string");
  const auto& s = v->get_ref<const std::string&>();
  if (s.empty()) return Status::InvalidArgument(where + ": \"" + key + "\" is empty");
  if (s.size() > max_len) {
    return Status::InvalidArgument(where + ": \"" + key + "\" is " + std::to_string(s.size()) +
                                   " bytes, over the limit of " + std::to_string(max_len));
  }
  return s;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c >> 5) == 0x6) {
      n = 1;
      cp = c & 0x1fu;
    } else if ((c >> 4) == 0xe) {
      n = 2;
      cp = c & 0x0fu;
    } else if ((c >> 3) == 0x1e) {
      n = 3;
      cp = c & 0x07u;
    } else
      return false;
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63u]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63u]);
    out.push_back(kAlphabet[(v >> 12) & 63u]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63u] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace jb::oip
