// tokens.h — random identifiers and token hashing over libsodium: RFC 4122 v4
// uuids, session tokens ("___" + uuid), security tokens ("@" + base64) and the
// one-way hash under which tokens are stored.
//
// Every function initialises libsodium on first use (once, thread-safely) and
// aborts the process if that fails: without a working CSPRNG no token can be
// issued safely.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace stagebridge::auth {

// Calls sodium_init() once per process. Crashes loudly if libsodium cannot
// initialise (no entropy source).
void InitSodium();

// A random RFC 4122 version 4 uuid, lower-case, "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx".
std::string NewUuid();

// "___" + NewUuid(): the platform's session token shape.
std::string NewSessionToken();

// "@" + 32 random bytes in base64 (original alphabet, with padding).
std::string NewSecurityToken();

// Lower-case hex of crypto_generichash (BLAKE2b, 32 bytes) of `token`: 64
// characters. Tokens are stored only in this form.
std::string HashToken(std::string_view token);

// Constant-time equality of two strings (sodium_memcmp); strings of different
// lengths are unequal (the length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace stagebridge::auth
