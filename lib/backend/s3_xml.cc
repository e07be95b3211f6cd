#include "backend/s3_xml.h"

#include <cstdlib>
#include <ctime>
#include <pugixml.hpp>

namespace ckpt::internal {

namespace {

Result<pugi::xml_node> Root(pugi::xml_document& doc, const std::string& xml, const char* name,
                            const std::string& what) {
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size());
  if (!parsed) {
    return Status::Corruption(what + ": unparsable XML answer (" + parsed.description() + ")");
  }
  pugi::xml_node root = doc.child(name);
  if (!root) return Status::Corruption(what + ": the answer has no <" + name + "> element");
  return root;
}

bool IsTrue(const pugi::xml_node& node, const char* child) {
  return std::string(node.child(child).text().as_string()) == "true";
}

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
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
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Result<S3ListPage> ParseListObjects(const std::string& xml, const std::string& what) {
  pugi::xml_document doc;
  CKPT_ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, xml, "ListBucketResult", what));
  S3ListPage page;
  for (pugi::xml_node c : root.children("Contents")) {
    S3ListedObject object;
    object.key = c.child("Key").text().as_string();
    object.size = c.child("Size").text().as_ullong();
    if (object.key.empty()) return Status::Corruption(what + ": a listed object has no key");
    page.objects.push_back(std::move(object));
  }
  page.truncated = IsTrue(root, "IsTruncated");
  page.next_continuation_token = root.child("NextContinuationToken").text().as_string();
  if (page.truncated && page.next_continuation_token.empty()) {
    return Status::Corruption(what + ": a truncated listing without a continuation token");
  }
  return page;
}

Result<S3UploadsPage> ParseListUploads(const std::string& xml, const std::string& what) {
  pugi::xml_document doc;
  CKPT_ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, xml, "ListMultipartUploadsResult", what));
  S3UploadsPage page;
  for (pugi::xml_node u : root.children("Upload")) {
    S3Upload upload;
    upload.key = u.child("Key").text().as_string();
    upload.upload_id = u.child("UploadId").text().as_string();
    upload.initiated_ns = ParseIso8601Ns(u.child("Initiated").text().as_string());
    if (upload.key.empty() || upload.upload_id.empty() || upload.initiated_ns < 0) {
      return Status::Corruption(what + ": an upload without key, id or valid start time");
    }
    page.uploads.push_back(std::move(upload));
  }
  page.truncated = IsTrue(root, "IsTruncated");
  page.next_key_marker = root.child("NextKeyMarker").text().as_string();
  page.next_upload_id_marker = root.child("NextUploadIdMarker").text().as_string();
  return page;
}

Result<std::string> ParseUploadId(const std::string& xml, const std::string& what) {
  pugi::xml_document doc;
  CKPT_ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, xml, "InitiateMultipartUploadResult", what));
  std::string id = root.child("UploadId").text().as_string();
  if (id.empty()) return Status::Corruption(what + ": no UploadId in the answer");
  return id;
}

Result<uint64_t> ParsePartsSize(const std::string& xml, const std::string& what, bool* truncated) {
  pugi::xml_document doc;
  CKPT_ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, xml, "ListPartsResult", what));
  uint64_t total = 0;
  for (pugi::xml_node p : root.children("Part")) total += p.child("Size").text().as_ullong();
  *truncated = IsTrue(root, "IsTruncated");
  return total;
}

std::string DeleteObjectsXml(const std::vector<std::string>& keys) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
  for (const auto& key : keys) xml += "<Object><Key>" + Escape(key) + "</Key></Object>";
  xml += "</Delete>";
  return xml;
}

Status DeleteObjectsErrors(const std::string& xml, const std::string& what) {
  pugi::xml_document doc;
  CKPT_ASSIGN_OR_RETURN(pugi::xml_node root, Root(doc, xml, "DeleteResult", what));
  for (pugi::xml_node e : root.children("Error")) {
    const std::string code = e.child("Code").text().as_string();
    if (code == "NoSuchKey") continue;  // already gone: what a delete wants
    return Status::IOError(what + ": deleting " + e.child("Key").text().as_string() + ": " + code +
                           " (" + e.child("Message").text().as_string() + ")");
  }
  return Status::OK();
}

std::string CompleteUploadXml(const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + Escape(etags[i]) +
           "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  return xml;
}

int64_t ParseIso8601Ns(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return -1;
  const time_t seconds = timegm(&tm);
  if (seconds < 0) return -1;
  return static_cast<int64_t>(seconds) * 1000000000;
}

}  // namespace ckpt::internal
