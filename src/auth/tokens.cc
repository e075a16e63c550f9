// tokens.cc — uuids, session and security tokens, token hashes (libsodium).
#include "auth/tokens.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <sodium.h>

namespace stagebridge::auth {
namespace {

constexpr std::size_t kSecurityTokenBytes = 32;
constexpr std::size_t kTokenHashBytes = crypto_generichash_BYTES;  // 32

std::string Hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace

void InitSodium() {
  // A function-local static is initialised exactly once, thread-safely.
  static const bool kInitialised = [] {
    if (sodium_init() < 0) {
      std::fputs("stagebridge: libsodium failed to initialise (no entropy source?)\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)kInitialised;
}

std::string NewUuid() {
  InitSodium();
  std::array<unsigned char, 16> b{};
  randombytes_buf(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)
  std::string hex = Hex(b.data(), b.size());
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::string NewSessionToken() {
  return "___" + NewUuid();
}

std::string NewSecurityToken() {
  InitSodium();
  std::array<unsigned char, kSecurityTokenBytes> b{};
  randombytes_buf(b.data(), b.size());
  constexpr std::size_t kEncodedSize = sodium_base64_ENCODED_LEN(kSecurityTokenBytes, sodium_base64_VARIANT_ORIGINAL);
  std::array<char, kEncodedSize> encoded{};
  sodium_bin2base64(encoded.data(), encoded.size(), b.data(), b.size(), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(b.data(), b.size());
  return "@" + std::string(encoded.data());
}

std::string HashToken(std::string_view token) {
  InitSodium();
  std::array<unsigned char, kTokenHashBytes> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     nullptr, 0);
  return Hex(digest.data(), digest.size());
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace stagebridge::auth
