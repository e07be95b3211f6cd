// The magics, sizes and versions that docs/format.md specifies are the ones
// the code writes; a change to either must change both. (The byte layouts
// themselves are checked against the document's golden blocks in
// tests/docs/format_doc_test.cc.)
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "ckpt/version.h"
#include "manifest/manifest_codec.h"
#include "pack/pack_format.h"
#include "test_util.h"

namespace {

std::string FormatDoc() { return ckpt::test::FormatDocText(); }

}  // namespace

TEST_CASE("documented magics and versions match the code", "[unit][format]") {
  const std::string doc = FormatDoc();
  REQUIRE_FALSE(doc.empty());
  CHECK_THAT(doc, Catch::Contains(ckpt::internal::kPackMagic));
  CHECK_THAT(doc, Catch::Contains(ckpt::internal::kPackEndMagic));
  CHECK_THAT(doc, Catch::Contains(ckpt::internal::kManifestMagic));
  CHECK(ckpt::internal::kPackVersion == static_cast<uint32_t>(ckpt::kPackFormatVersion));
  CHECK(ckpt::internal::kShardedManifestVersion ==
        static_cast<uint32_t>(ckpt::kManifestFormatVersion));
  CHECK(ckpt::internal::kPackHeaderSize == 16);
  CHECK(ckpt::internal::kPackRecordSize == 50);
  CHECK(ckpt::internal::kPackTrailerSize == 56);
  CHECK_THAT(doc, Catch::Contains("format_version=" + std::to_string(ckpt::kFormatVersion)));
  // The formats this release writes, as the document states them.
  const std::string versions = "**store format " + std::to_string(ckpt::kFormatVersion) +
                               ", pack format " + std::to_string(ckpt::kPackFormatVersion) +
                               ", manifest format " + std::to_string(ckpt::kManifestFormatVersion) +
                               "**";
  CHECK_THAT(doc, Catch::Contains(versions));
  CHECK_THAT(doc, Catch::Contains("| store (layout, config, index, codecs) | `format_version` in "
                                  "`config` | " +
                                  std::to_string(ckpt::kFormatVersion) + " |"));
}
