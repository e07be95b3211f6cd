#include "table.h"

#include <algorithm>
#include <cassert>

namespace ckpt::cli {

// Terminal columns taken by `s`: counts code points, not bytes, so that
// UTF-8 names (tags, metrics) keep the columns aligned.
static size_t DisplayWidth(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  assert(cells.size() == columns_.size());
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render(size_t indent) const {
  std::vector<size_t> widths;
  for (const auto& c : columns_) widths.push_back(DisplayWidth(c.header));
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }

  std::string out;
  auto append_line = [&](const std::vector<std::string>& cells) {
    std::string line(indent, ' ');
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += "  ";
      std::string pad(widths[i] - DisplayWidth(cells[i]), ' ');
      line += columns_[i].align == Align::kRight ? pad + cells[i] : cells[i] + pad;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  };
  std::vector<std::string> headers;
  for (const auto& c : columns_) headers.push_back(c.header);
  append_line(headers);
  for (const auto& row : rows_) append_line(row);
  return out;
}

}  // namespace ckpt::cli
