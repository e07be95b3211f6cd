// ckpt policy set|show|unset: the retention policies that `ckpt gc` applies.
// A run's own policy wins over the store-wide default (run ""); a run with
// neither keeps every checkpoint.
#include <fmt/core.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "ckpt/store.h"
#include "commands.h"
#include "json_out.h"
#include "policy_flags.h"
#include "table.h"

namespace ckpt::cli {

namespace {

// RUN or --default; `run` stays "" for the default, as the API spells it.
struct Target {
  std::string run;
  bool is_default = false;
};

std::string Describe(const std::string& run) {
  return run.empty() ? "the store default" : "run " + run;
}

std::string PolicyOf(const std::string& run) {
  return run.empty() ? "the store-wide default policy" : "the policy of run " + run;
}

// Adds RUN and --default to `cmd`. With `required`, exactly one must be given.
void AddTarget(CLI::App* cmd, Target& target, bool required) {
  auto* run = cmd->add_option("run", target.run, "Run name");
  cmd->add_flag("--default", target.is_default,
                "The store-wide default, for runs without a policy of their own")
      ->excludes(run);
  if (!required) return;
  std::string name = cmd->get_name();
  cmd->parse_complete_callback([cmd, name, &target] {
    if (target.run.empty() && !target.is_default) {
      throw CLI::ValidationError(fmt::format("policy {}: give RUN or --default", name));
    }
  });
}

struct SetArgs {
  Target target;
  KeepFlags keep;
};

Status RunPolicySet(const Context& ctx, const SetArgs& args) {
  // Parse every flag before opening the store, so bad input changes nothing.
  CKPT_ASSIGN_OR_RETURN(RetentionPolicy policy, ParseKeepFlags(args.keep));
  if (policy.empty()) {
    return Status::InvalidArgument(
        "policy set: give at least one --keep-* rule (see ckpt policy set --help)");
  }
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  const std::string& run = args.target.run;
  CKPT_RETURN_IF_ERROR(store->SetPolicy(run, policy));
  if (ctx.json) {
    PrintJson({{"run", run}, {"default", run.empty()}, {"policy", PolicyJson(policy)}});
  } else {
    Say(ctx, fmt::format("set {}: {}", PolicyOf(run), policy.ToString()));
  }
  return Status::OK();
}

// The policy stored for `run`, or nullopt if there is none.
Result<std::optional<RetentionPolicy>> StoredPolicy(Store& store, const std::string& run) {
  auto policy = store.GetPolicy(run);
  if (policy.ok()) return std::optional<RetentionPolicy>(std::move(*policy));
  if (policy.status().code() == Code::kNotFound) return std::optional<RetentionPolicy>();
  return policy.status();
}

Status RunPolicyList(const Context& ctx, Store& store) {
  CKPT_ASSIGN_OR_RETURN(auto policies, store.ListPolicies());
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [run, policy] : policies) {
      list.push_back({{"run", run}, {"default", run.empty()}, {"policy", PolicyJson(policy)}});
    }
    PrintJson({{"policies", std::move(list)}});
    return Status::OK();
  }
  if (policies.empty()) {
    fmt::print("no policies: gc keeps every checkpoint\n");
    return Status::OK();
  }
  Table table({{"RUN"}, {"POLICY"}});
  for (const auto& [run, policy] : policies) {
    table.AddRow({run.empty() ? "(default)" : run, policy.ToString()});
  }
  fmt::print("{}", table.Render());
  return Status::OK();
}

// One run's effective policy (its own, else the default), or the default.
Status RunPolicyShowOne(const Context& ctx, Store& store, const std::string& run) {
  CKPT_ASSIGN_OR_RETURN(auto policy, StoredPolicy(store, run));
  std::string source = policy ? (run.empty() ? "default" : "run") : "none";
  if (!policy && !run.empty()) {
    CKPT_ASSIGN_OR_RETURN(policy, StoredPolicy(store, ""));
    if (policy) source = "default";
  }
  if (ctx.json) {
    PrintJson({{"run", run},
               {"default", run.empty()},
               {"source", source},
               {"policy", policy ? PolicyJson(*policy) : nlohmann::json(nullptr)}});
    return Status::OK();
  }
  if (source == "none") {
    fmt::print("{}: no policy{}: gc keeps every checkpoint{}\n", Describe(run),
               run.empty() ? "" : " and no store default",
               run.empty() ? " of runs without one" : "");
  } else if (source == "default" && !run.empty()) {
    fmt::print("{}: no policy of its own; the store default applies: {}\n", Describe(run),
               policy->ToString());
  } else {
    fmt::print("{}: {}\n", Describe(run), policy->ToString());
  }
  return Status::OK();
}

Status RunPolicyShow(const Context& ctx, const Target& target) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  if (target.run.empty() && !target.is_default) return RunPolicyList(ctx, *store);
  return RunPolicyShowOne(ctx, *store, target.run);
}

Status RunPolicyUnset(const Context& ctx, const Target& target) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  CKPT_RETURN_IF_ERROR(store->UnsetPolicy(target.run));
  if (ctx.json) {
    PrintJson({{"unset", target.run}, {"default", target.run.empty()}});
  } else {
    Say(ctx, fmt::format("removed {}", PolicyOf(target.run)));
  }
  return Status::OK();
}

}  // namespace

void RegisterPolicy(CLI::App& app, Context& ctx) {
  CLI::App* policy =
      app.add_subcommand("policy", "Set, show or unset the retention policies gc applies");
  policy->require_subcommand(1);

  auto set = std::make_shared<SetArgs>();
  CLI::App* set_cmd = policy->add_subcommand(
      "set", "Store the retention policy of RUN (or --default); replaces any earlier one");
  AddTarget(set_cmd, set->target, /*required=*/true);
  AddKeepFlags(set_cmd, set->keep);
  OnRun(set_cmd, ctx, [&ctx, set] { return RunPolicySet(ctx, *set); });

  auto show = std::make_shared<Target>();
  CLI::App* show_cmd = policy->add_subcommand(
      "show", "Show the policy that applies to RUN, or --default, or (neither) list all");
  AddTarget(show_cmd, *show, /*required=*/false);
  OnRun(show_cmd, ctx, [&ctx, show] { return RunPolicyShow(ctx, *show); });

  auto unset = std::make_shared<Target>();
  CLI::App* unset_cmd = policy->add_subcommand("unset", "Remove the policy of RUN (or --default)");
  AddTarget(unset_cmd, *unset, /*required=*/true);
  OnRun(unset_cmd, ctx, [&ctx, unset] { return RunPolicyUnset(ctx, *unset); });
}

}  // namespace ckpt::cli
