#include "bundles/manifest.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <pugixml.hpp>

#include "bundles/crypto.h"
#include "core/base/pki.h"
#include "core/base/random.h"

namespace euca::bundles {
namespace {

// Bounds on what a manifest's deflate index may say (a 64 MiB block is the largest the
// bundler makes; 2^24 blocks of it cover far more than any image).
constexpr uint64_t kMaxDeflateIndexBlock = 64 << 20;
constexpr uint64_t kMaxDeflateIndexCount = 1 << 24;

Status ManifestError(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message), "InvalidManifest");
}

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or -1 for
// a malformed byte (taken as Latin-1 so that nothing is lost).
long NextCodePoint(const std::string& s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  int extra = c >= 0xf0 && c < 0xf8 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
  if (c < 0x80 || extra == 0 || c >= 0xf8 || i + static_cast<size_t>(extra) >= s.size()) {
    ++i;
    return c;
  }
  long cp = c & (0x3f >> extra);
  for (int k = 1; k <= extra; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) {
      ++i;
      return c;
    }
    cp = (cp << 6) | (d & 0x3f);
  }
  i += static_cast<size_t>(extra) + 1;
  return cp;
}

// Text for an ASCII XML document: markup characters escaped, anything outside ASCII as a
// decimal character reference (what lxml writes for encoding='ASCII').
std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        default:
          out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    long cp = NextCodePoint(s, i);
    out += "&#" + std::to_string(cp) + ";";
  }
  return out;
}

void Element(std::string& out, const char* name, const std::string& text) {
  out += "<";
  out += name;
  out += ">";
  out += Escape(text);
  out += "</";
  out += name;
  out += ">";
}

std::string MachineConfigurationXml(const Manifest& m) {
  std::string out = "<machine_configuration>";
  Element(out, "architecture", m.architecture);
  if (!m.block_device_mappings.empty()) {
    std::vector<BlockDeviceMapping> sorted = m.block_device_mappings;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.virtual_name < b.virtual_name; });
    out += "<block_device_mapping>";
    for (const auto& bdm : sorted) {
      out += "<mapping>";
      Element(out, "virtual", bdm.virtual_name);
      Element(out, "device", bdm.device);
      out += "</mapping>";
    }
    out += "</block_device_mapping>";
  }
  if (!m.product_codes.empty()) {
    out += "<product_codes>";
    for (const auto& code : m.product_codes) Element(out, "product_code", code);
    out += "</product_codes>";
  }
  if (!m.kernel_id.empty()) Element(out, "kernel_id", m.kernel_id);
  if (!m.ramdisk_id.empty()) Element(out, "ramdisk_id", m.ramdisk_id);
  out += "</machine_configuration>";
  return out;
}

std::string ImageXml(const Manifest& m) {
  std::string out = "<image>";
  Element(out, "name", m.name);
  Element(out, "user", m.user);
  Element(out, "type", m.type);
  if (!m.ancestor_ami_ids.empty()) {
    out += "<ancestry>";
    for (const auto& id : m.ancestor_ami_ids) Element(out, "ancestor_ami_id", id);
    out += "</ancestry>";
  }
  out += "<digest algorithm=\"SHA1\">" + Escape(m.digest) + "</digest>";
  Element(out, "size", std::to_string(m.size));
  Element(out, "bundled_size", std::to_string(m.bundled_size));
  out += "<ec2_encrypted_key algorithm=\"AES-128-CBC\">" + Escape(m.ec2_encrypted_key) + "</ec2_encrypted_key>";
  out += "<user_encrypted_key algorithm=\"AES-128-CBC\">" + Escape(m.user_encrypted_key) + "</user_encrypted_key>";
  Element(out, "ec2_encrypted_iv", m.ec2_encrypted_iv);
  Element(out, "user_encrypted_iv", m.user_encrypted_iv);
  out += "<parts count=\"" + std::to_string(m.parts.size()) + "\">";
  for (size_t i = 0; i < m.parts.size(); ++i) {
    out += "<part index=\"" + std::to_string(i) + "\">";
    Element(out, "filename", m.parts[i].filename);
    out += "<digest algorithm=\"SHA1\">" + Escape(m.parts[i].sha1) + "</digest>";
    out += "</part>";
  }
  out += "</parts>";
  if (!m.deflate_index.empty()) {
    out += "<deflate_index block_size=\"" + std::to_string(m.deflate_index.block_size) + "\" count=\"" +
           std::to_string(m.deflate_index.sizes.size()) + "\">" + DeflateIndexText(m.deflate_index) +
           "</deflate_index>";
  }
  out += "</image>";
  return out;
}

Result<uint64_t> ParseUint(const std::string& text, const std::string& what) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end)
    return ManifestError("manifest " + what + " '" + text + "' is not a number");
  return v;
}

std::string Text(const pugi::xml_node& node) {
  std::string s = node.child_value();
  // Pretty-printed manifests may wrap values in whitespace.
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

bool IsSha1Algorithm(const pugi::xml_node& digest) {
  std::string alg = digest.attribute("algorithm").value();
  std::transform(alg.begin(), alg.end(), alg.begin(), [](unsigned char c) { return std::toupper(c); });
  return alg.empty() || alg == "SHA1" || alg == "SHA-1";
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// [begin, end) of the element `name` that pugixml found at `node` in `xml`.
Result<std::pair<size_t, size_t>> ElementSpan(const std::string& xml, const pugi::xml_node& node,
                                              const std::string& name) {
  ptrdiff_t off = node.offset_debug();
  if (off <= 0 || static_cast<size_t>(off) > xml.size() || xml[static_cast<size_t>(off) - 1] != '<' ||
      xml.compare(static_cast<size_t>(off), name.size(), name) != 0)
    return ManifestError("cannot locate <" + name + "> in the manifest text");
  size_t begin = static_cast<size_t>(off) - 1;
  size_t tag_end = xml.find('>', begin);
  if (tag_end == std::string::npos) return ManifestError("unterminated <" + name + "> in the manifest");
  if (xml[tag_end - 1] == '/') return std::make_pair(begin, tag_end + 1);
  std::string close = "</" + name;
  size_t c = xml.find(close, tag_end);
  if (c == std::string::npos) return ManifestError("no </" + name + "> in the manifest");
  size_t end = xml.find('>', c);
  if (end == std::string::npos) return ManifestError("unterminated </" + name + "> in the manifest");
  return std::make_pair(begin, end + 1);
}

Result<pugi::xml_document*> Load(pugi::xml_document& doc, const std::string& xml) {
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r)
    return ManifestError(std::string("manifest is not valid XML: ") + r.description() + " at byte " +
                         std::to_string(r.offset));
  if (!doc.child("manifest")) return ManifestError("manifest has no <manifest> root element");
  return &doc;
}

}  // namespace

std::string DeflateIndexText(const DeflateIndex& index) {
  std::string out;
  const auto& s = index.sizes;
  for (size_t i = 0; i < s.size();) {
    size_t j = i + 1;
    while (j < s.size() && s[j] == s[i]) ++j;
    if (!out.empty()) out += ' ';
    out += std::to_string(s[i]);
    if (j - i > 1) out += "*" + std::to_string(j - i);
    i = j;
  }
  return out;
}

Result<std::vector<uint32_t>> ParseDeflateIndexText(const std::string& text, uint64_t count) {
  std::vector<uint32_t> sizes;
  size_t pos = 0;
  auto number = [&](uint64_t max, uint64_t* v) -> bool {
    size_t start = pos;
    *v = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      *v = *v * 10 + static_cast<uint64_t>(text[pos] - '0');
      if (*v > max) return false;
      ++pos;
    }
    return pos > start;
  };
  while (true) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos == text.size()) break;
    uint64_t size = 0, run = 1;
    if (!number(UINT32_MAX, &size) || size == 0)
      return InvalidArgument("bad block size at character " + std::to_string(pos));
    if (pos < text.size() && text[pos] == '*') {
      ++pos;
      if (!number(count, &run) || run == 0)
        return InvalidArgument("bad run length at character " + std::to_string(pos));
    }
    if (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos])))
      return InvalidArgument("unexpected character at " + std::to_string(pos));
    if (run > count - sizes.size())
      return InvalidArgument("more than the " + std::to_string(count) + " blocks its count says");
    sizes.insert(sizes.end(), run, static_cast<uint32_t>(size));
  }
  if (sizes.size() != count)
    return InvalidArgument(std::to_string(sizes.size()) + " blocks listed, its count says " + std::to_string(count));
  return sizes;
}

std::string ManifestSignedText(const Manifest& manifest) {
  return MachineConfigurationXml(manifest) + ImageXml(manifest);
}

std::string ManifestToXml(const Manifest& m) {
  std::string out = "<?xml version='1.0' encoding='ASCII'?><manifest>";
  Element(out, "version", kManifestVersion);
  out += "<bundler>";
  Element(out, "name", m.bundler_name);
  Element(out, "version", m.bundler_version);
  Element(out, "release", m.bundler_release);
  out += "</bundler>";
  out += MachineConfigurationXml(m);
  out += ImageXml(m);
  Element(out, "signature", m.signature);
  out += "</manifest>";
  return out;
}

Result<std::string> SignedManifestXml(Manifest manifest, const std::string& private_key_pem) {
  if (private_key_pem.empty()) {
    manifest.signature = kUnsigned;
  } else {
    EUCA_ASSIGN_OR_RETURN(std::string sig, SignRsaSha1(private_key_pem, ManifestSignedText(manifest)));
    manifest.signature = HexEncode(sig);
  }
  return ManifestToXml(manifest);
}

Result<Manifest> ParseManifest(const std::string& xml) {
  pugi::xml_document doc;
  EUCA_RETURN_IF_ERROR(Load(doc, xml).status());
  pugi::xml_node root = doc.child("manifest");
  Manifest m;
  std::string version = Text(root.child("version"));
  if (version != kManifestVersion)
    return Status(Code::kUnsupported,
                  "manifest version '" + version + "' is not supported; expected '" + kManifestVersion + "'",
                  "InvalidManifest");
  pugi::xml_node bundler = root.child("bundler");
  m.bundler_name = Text(bundler.child("name"));
  m.bundler_version = Text(bundler.child("version"));
  m.bundler_release = Text(bundler.child("release"));

  pugi::xml_node mc = root.child("machine_configuration");
  if (!mc) return ManifestError("manifest has no <machine_configuration>");
  m.architecture = Text(mc.child("architecture"));
  // euca2ools 3 reads <block_device_mappings> (plural); accept both spellings.
  for (const char* list : {"block_device_mapping", "block_device_mappings"}) {
    for (pugi::xml_node map : mc.child(list).children("mapping"))
      m.block_device_mappings.push_back({Text(map.child("virtual")), Text(map.child("device"))});
  }
  for (pugi::xml_node code : mc.child("product_codes").children("product_code")) m.product_codes.push_back(Text(code));
  m.kernel_id = Text(mc.child("kernel_id"));
  m.ramdisk_id = Text(mc.child("ramdisk_id"));

  pugi::xml_node image = root.child("image");
  if (!image) return ManifestError("manifest has no <image>");
  m.name = Text(image.child("name"));
  m.user = Text(image.child("user"));
  m.type = Text(image.child("type"));
  if (m.type.empty()) {
    std::string k = Lower(m.kernel_id), r = Lower(m.ramdisk_id);
    m.type = (k == "true" || k == "yes") ? "kernel" : (r == "true" || r == "yes") ? "ramdisk" : "machine";
  }
  for (pugi::xml_node a : image.child("ancestry").children("ancestor_ami_id")) m.ancestor_ami_ids.push_back(Text(a));
  pugi::xml_node digest = image.child("digest");
  if (!digest) return ManifestError("manifest has no <image><digest>");
  if (!IsSha1Algorithm(digest))
    return ManifestError(std::string("manifest image digest algorithm '") + digest.attribute("algorithm").value() +
                         "' is not SHA1");
  m.digest = Lower(Text(digest));
  if (!IsHex(m.digest, 40)) return ManifestError("manifest image digest '" + m.digest + "' is not a SHA-1 in hex");
  EUCA_ASSIGN_OR_RETURN(m.size, ParseUint(Text(image.child("size")), "image size"));
  if (image.child("bundled_size")) {
    EUCA_ASSIGN_OR_RETURN(m.bundled_size, ParseUint(Text(image.child("bundled_size")), "bundled size"));
  }
  m.ec2_encrypted_key = Lower(Text(image.child("ec2_encrypted_key")));
  m.user_encrypted_key = Lower(Text(image.child("user_encrypted_key")));
  m.ec2_encrypted_iv = Lower(Text(image.child("ec2_encrypted_iv")));
  m.user_encrypted_iv = Lower(Text(image.child("user_encrypted_iv")));
  if ((m.ec2_encrypted_key.empty() || m.ec2_encrypted_iv.empty()) &&
      (m.user_encrypted_key.empty() || m.user_encrypted_iv.empty()))
    return ManifestError("manifest has neither an ec2_encrypted nor a user_encrypted key and IV");

  pugi::xml_node parts = image.child("parts");
  std::map<uint64_t, ManifestPart> by_index;
  for (pugi::xml_node part : parts.children("part")) {
    EUCA_ASSIGN_OR_RETURN(uint64_t index, ParseUint(part.attribute("index").value(), "part index"));
    ManifestPart p{Text(part.child("filename")), Lower(Text(part.child("digest")))};
    if (!IsPlainFileName(p.filename))
      return ManifestError("manifest part file name '" + p.filename + "' is not a plain file name");
    if (!IsSha1Algorithm(part.child("digest")) || !IsHex(p.sha1, 40))
      return ManifestError("manifest digest '" + p.sha1 + "' of part '" + p.filename + "' is not a SHA-1 in hex");
    if (!by_index.emplace(index, p).second)
      return ManifestError("manifest lists part index '" + std::to_string(index) + "' twice");
  }
  if (by_index.empty()) return ManifestError("manifest lists no parts");
  uint64_t expect = 0;
  for (auto& [index, part] : by_index) {
    if (index != expect) return ManifestError("manifest part index '" + std::to_string(expect) + "' is missing");
    m.parts.push_back(std::move(part));
    ++expect;
  }
  if (parts.attribute("count")) {
    EUCA_ASSIGN_OR_RETURN(uint64_t count, ParseUint(parts.attribute("count").value(), "parts count"));
    if (count != m.parts.size())
      return ManifestError("manifest parts count '" + std::to_string(count) + "' does not match the " +
                           std::to_string(m.parts.size()) + " parts listed");
  }
  if (pugi::xml_node di = image.child("deflate_index")) {
    EUCA_ASSIGN_OR_RETURN(m.deflate_index.block_size,
                          ParseUint(di.attribute("block_size").value(), "deflate_index block_size"));
    EUCA_ASSIGN_OR_RETURN(uint64_t count, ParseUint(di.attribute("count").value(), "deflate_index count"));
    if (m.deflate_index.block_size == 0 || m.deflate_index.block_size > kMaxDeflateIndexBlock)
      return ManifestError("manifest deflate_index block_size '" + std::to_string(m.deflate_index.block_size) +
                           "' is out of range");
    if (count == 0 || count > kMaxDeflateIndexCount)
      return ManifestError("manifest deflate_index count '" + std::to_string(count) + "' is out of range");
    auto sizes = ParseDeflateIndexText(Text(di), count);
    if (!sizes.ok()) return ManifestError("manifest deflate_index: " + sizes.status().message());
    m.deflate_index.sizes = std::move(sizes).value();
  }
  m.signature = Text(root.child("signature"));
  if (m.signature != kUnsigned) m.signature = Lower(m.signature);
  return m;
}

Result<std::string> ExtractSignedText(const std::string& xml) {
  pugi::xml_document doc;
  EUCA_RETURN_IF_ERROR(Load(doc, xml).status());
  pugi::xml_node root = doc.child("manifest");
  pugi::xml_node mc = root.child("machine_configuration");
  pugi::xml_node image = root.child("image");
  if (!mc || !image) return ManifestError("manifest lacks <machine_configuration> or <image>");
  EUCA_ASSIGN_OR_RETURN(auto mc_span, ElementSpan(xml, mc, "machine_configuration"));
  EUCA_ASSIGN_OR_RETURN(auto image_span, ElementSpan(xml, image, "image"));
  return xml.substr(mc_span.first, mc_span.second - mc_span.first) +
         xml.substr(image_span.first, image_span.second - image_span.first);
}

Status VerifyManifestSignature(const std::string& xml, const std::string& cert_pem) {
  auto info = InspectCertificate(cert_pem);
  std::string cn = info.ok() ? info->subject_cn : "(unreadable)";
  EUCA_ASSIGN_OR_RETURN(std::string signed_text, ExtractSignedText(xml));
  pugi::xml_document doc;
  EUCA_RETURN_IF_ERROR(Load(doc, xml).status());
  std::string sig_hex = Text(doc.child("manifest").child("signature"));
  if (sig_hex.empty() || sig_hex == kUnsigned)
    return Status(Code::kUnauthenticated,
                  "manifest is unsigned, so it cannot be checked against certificate '" + cn + "'", "InvalidManifest");
  auto sig = HexDecode(sig_hex);
  if (!sig.ok() || !VerifyRsaSha1(cert_pem, signed_text, *sig).ok()) {
    if (!info.ok()) return info.status().WithContext("check the manifest signature");
    return Status(Code::kUnauthenticated,
                  "manifest signature does not match certificate '" + cn +
                      "': the manifest was changed after signing, or signed with another key",
                  "InvalidManifest");
  }
  return Status::Ok();
}

}  // namespace euca::bundles
