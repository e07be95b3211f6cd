// ckpt tag (set, delete, list) and ckpt rm.
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ckpt/store.h"
#include "commands.h"
#include "format.h"
#include "json_out.h"
#include "table.h"

namespace ckpt::cli {

namespace {

struct TagArgs {
  std::string ref;
  std::string name;
  std::string delete_name;
  bool list = false;
};

Status RunTagSet(const Context& ctx, const TagArgs& args) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  CKPT_ASSIGN_OR_RETURN(CheckpointInfo info, store->Resolve(args.ref));
  CKPT_RETURN_IF_ERROR(store->Tag(RunAtStep(info), args.name));
  if (ctx.json) {
    PrintJson({{"tag", args.name}, {"id", info.id}, {"run", info.run}, {"step", info.step}});
  } else {
    Say(ctx, fmt::format("tagged {} ({}) as {}", RunAtStep(info), ShortId(info.id), args.name));
  }
  return Status::OK();
}

Status RunTagDelete(const Context& ctx, const std::string& name) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  CKPT_RETURN_IF_ERROR(store->Untag(name));
  if (ctx.json) {
    PrintJson({{"deleted_tag", name}});
  } else {
    Say(ctx, fmt::format("deleted tag {}", name));
  }
  return Status::OK();
}

Status RunTagList(const Context& ctx) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(auto checkpoints, store->ListCheckpoints(""));
  std::vector<std::pair<std::string, const CheckpointInfo*>> tags;
  for (const auto& info : checkpoints) {
    for (const auto& tag : info.tags) tags.emplace_back(tag, &info);
  }
  std::sort(tags.begin(), tags.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [tag, info] : tags) {
      list.push_back({{"tag", tag}, {"id", info->id}, {"run", info->run}, {"step", info->step}});
    }
    PrintJson({{"tags", std::move(list)}});
    return Status::OK();
  }
  if (tags.empty()) {
    Say(ctx, "no tags");
    return Status::OK();
  }
  Table table({{"TAG"}, {"CHECKPOINT"}, {"ID"}, {"TIME"}});
  for (const auto& [tag, info] : tags) {
    table.AddRow({tag, RunAtStep(*info), ShortId(info->id), LocalTime(info->meta.wall_time_ns)});
  }
  fmt::print("{}", table.Render());
  return Status::OK();
}

struct RmArgs {
  std::string ref;
  bool force = false;
};

Status RunRm(const Context& ctx, const RmArgs& args) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  CKPT_ASSIGN_OR_RETURN(CheckpointInfo info, store->Resolve(args.ref));
  // A tag says "keep this" (gc always keeps tagged checkpoints); deleting
  // one must be deliberate.
  if (!info.tags.empty() && !args.force) {
    return Status::InvalidArgument(fmt::format(
        "{} ({}) is tagged with {}: pass --force to delete it and its tag{}", RunAtStep(info),
        ShortId(info.id), JoinOrDash(info.tags, ", "), info.tags.size() == 1 ? "" : "s"));
  }
  // Delete by RUN@STEP, which cannot be mistaken for a tag or another run.
  CKPT_RETURN_IF_ERROR(store->Delete(RunAtStep(info)));
  if (ctx.json) {
    PrintJson({{"deleted", InfoJson(info)}});
  } else {
    Say(ctx, fmt::format("deleted {} ({}); its chunks stay stored until garbage collection",
                         RunAtStep(info), ShortId(info.id)));
  }
  return Status::OK();
}

}  // namespace

void RegisterTag(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<TagArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tag", "Tag a checkpoint (tag REF NAME), delete a tag (--delete NAME), or list tags");
  cmd->add_option("ref", args->ref, kRefHelp);
  cmd->add_option("name", args->name, "Tag name: [A-Za-z0-9._-]+");
  auto* del = cmd->add_option("-d,--delete", args->delete_name, "Delete tag NAME");
  cmd->add_flag("-l,--list", args->list, "List all tags")->excludes(del);
  cmd->callback([&ctx, args, cmd] {
    bool has_ref = !args->ref.empty(), has_name = !args->name.empty();
    bool deleting = cmd->count("--delete") > 0;
    if (args->list || deleting) {
      if (has_ref) throw CLI::ValidationError("tag: --list and --delete take no REF NAME");
    } else if (!has_ref || !has_name) {
      throw CLI::ValidationError("tag: give REF NAME, --delete NAME or --list");
    }
    ctx.run = [&ctx, args, deleting] {
      if (args->list) return Finish(ctx, RunTagList(ctx));
      if (deleting) return Finish(ctx, RunTagDelete(ctx, args->delete_name));
      return Finish(ctx, RunTagSet(ctx, *args));
    };
  });

  auto untag = std::make_shared<std::string>();
  CLI::App* un = app.add_subcommand("untag", "Delete a tag (same as tag --delete NAME)");
  un->add_option("name", *untag, "Tag name")->required();
  OnRun(un, ctx, [&ctx, untag] { return RunTagDelete(ctx, *untag); });
}

void RegisterRm(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RmArgs>();
  CLI::App* cmd = app.add_subcommand("rm", "Delete a checkpoint (its chunks stay until GC)");
  cmd->add_option("ref", args->ref, kRefHelp)->required();
  cmd->add_flag("-f,--force", args->force, "Delete it even if it is tagged");
  OnRun(cmd, ctx, [&ctx, args] { return RunRm(ctx, *args); });
}

}  // namespace ckpt::cli
