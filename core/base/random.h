#pragma once
// Cryptographically secure random bytes and the identifier shapes built from them.

#include <string>

namespace euca {

/// `n` random bytes from OpenSSL's CSPRNG. Aborts only if the CSPRNG itself fails. Small
/// requests are served from a per-thread block of CSPRNG output (each byte handed out once,
/// then wiped; a forked child discards its parent's block). Thread-safe.
std::string RandomBytes(size_t n);
/// `n_hex` lower-case hex digits of randomness.
std::string RandomHex(size_t n_hex);
/// `n` characters from [A-Z0-9] (AWS-style access key ids).
std::string RandomUpperAlnum(size_t n);
/// `n` characters from [A-Za-z0-9/+] (AWS-style secret keys).
std::string RandomSecret(size_t n);
/// `n` decimal digits, first one non-zero (account numbers).
std::string RandomDigits(size_t n);

/// Lower-case hex of bytes.
std::string HexEncode(const std::string& bytes);
/// SHA-1 of `data`, lower-case hex.
std::string Sha1Hex(const std::string& data);

}  // namespace euca
