// The magics and versions that docs/design.md documents are the ones the
// code writes; a change to either must change both.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "ckpt/version.h"
#include "manifest/manifest_codec.h"
#include "pack/pack_format.h"

namespace {

std::string DesignDoc() {
  std::ifstream in(std::string(CKPT_SOURCE_DIR) + "/docs/design.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("documented magics and versions match the code", "[unit][format]") {
  const std::string doc = DesignDoc();
  REQUIRE_FALSE(doc.empty());
  CHECK_THAT(doc, Catch::Contains(ckpt::internal::kPackMagic));
  CHECK_THAT(doc, Catch::Contains(ckpt::internal::kPackEndMagic));
  CHECK_THAT(doc, Catch::Contains(ckpt::internal::kManifestMagic));
  CHECK(ckpt::internal::kPackVersion == static_cast<uint32_t>(ckpt::kPackFormatVersion));
  CHECK(ckpt::internal::kManifestVersion == static_cast<uint32_t>(ckpt::kManifestFormatVersion));
  CHECK(ckpt::internal::kPackHeaderSize == 16);
  CHECK(ckpt::internal::kPackRecordSize == 50);
  CHECK(ckpt::internal::kPackTrailerSize == 56);
  CHECK_THAT(doc, Catch::Contains("format_version=" + std::to_string(ckpt::kFormatVersion)));
}
