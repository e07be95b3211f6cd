// Table: rows of text printed in aligned columns, like `ls -l`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ckpt::cli {

class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string header;
    Align align = Align::kLeft;
  };

  explicit Table(std::vector<Column> columns);

  // REQUIRES: cells.size() equals the number of columns.
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // Renders the header and rows, columns separated by two spaces, with no
  // trailing blanks; `indent` spaces start each line.
  std::string Render(size_t indent = 0) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ckpt::cli
