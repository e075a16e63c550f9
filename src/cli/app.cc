// app.cc — CLI11 wiring of the subcommands and the layered configuration.
#include "cli/app.h"

#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/commands_operator.h"
#include "cli/commands_query.h"
#include "cli/commands_script.h"
#include "cli/commands_service.h"
#include "cli/commands_workflow.h"
#include "cli/config.h"
#include "stagebridge_version.h"  // generated: cmake/version.h.in

namespace stagebridge::cli {

int RunCli(int argc, char** argv) {
  CLI::App app{
      "stagebridge — the API staging mechanism of a two-database marketing platform: SOAP Ingest/IngestExt "
      "into a local staging database, merged into the cloud database by technical workflows.",
      "stagebridge"};
  app.require_subcommand(1);
  app.fallthrough();  // global settings may also follow the subcommand
  app.set_version_flag("--version", STAGEBRIDGE_VERSION_LINE);

  std::string config_path;
  app.add_option("-c,--config", config_path, "TOML configuration file (env STAGEBRIDGE_CONFIG)")
      ->check(CLI::ExistingFile);
  std::map<std::string, std::string> flag_values;
  std::map<std::string, CLI::Option*> flag_options;
  for (const KeyDef& def : ConfigKeys()) {
    std::string help = fmt::format("{} [{}; env {}]", def.help, def.default_value.empty() ? "none" : def.default_value,
                                   EnvName(def.key));
    flag_options[def.key] = app.add_option(FlagName(def.key), flag_values[def.key], help)->group("Settings");
  }

  CLI::App* serve = app.add_subcommand("serve", "run the SOAP server and the workflow scheduler");

  CLI::App* schema = app.add_subcommand("schema", "schemas: apply them to the databases, show, list");
  schema->require_subcommand(1);
  SchemaApplyOptions apply_options;
  CLI::App* apply = schema->add_subcommand(
      "apply", "update database structure: create or alter cloud tables (cloud db) and staging tables (local db)");
  apply->add_option("--schemas", apply_options.schemas_dir, "directory of *.xml schemas (default: schemas_dir)");
  apply->add_flag("--force", apply_options.force,
                  "drop staging tables of schemas no longer staged even when they hold unmerged rows");
  apply->add_flag("--dry-run", apply_options.dry_run, "report what would change, change nothing");

  std::string show_id;
  std::string show_dir;
  bool show_internal = false;
  CLI::App* show = schema->add_subcommand("show", "print a compiled schema (and its derived staging schema) as XML");
  show->add_option("id", show_id, "schema id, e.g. dem:sampleTable or dem:sampleTableStg")->required();
  show->add_option("--schemas", show_dir, "directory of *.xml schemas (default: schemas_dir)");
  show->add_flag("--internal", show_internal, "also show the sync's internal bookkeeping attributes");

  std::string list_dir;
  CLI::App* list = schema->add_subcommand("list", "list every schema with its table and database");
  list->add_option("--schemas", list_dir, "directory of *.xml schemas (default: schemas_dir)");

  CLI::App* operator_cmd = app.add_subcommand("operator", "operators: the logins that may call the SOAP API");
  operator_cmd->require_subcommand(1);
  std::string op_login;
  bool op_admin = false;
  bool op_password_stdin = false;
  std::vector<std::string> op_schemas;
  CLI::App* op_add = operator_cmd->add_subcommand("add", "create an operator (password read from standard input)");
  op_add->add_option("login", op_login, "login")->required();
  op_add->add_flag("--password-stdin", op_password_stdin, "read the password from the first line of standard input")
      ->required();
  op_add->add_flag("--admin", op_admin, "all rights");
  op_add->add_option("--schema", op_schemas, "grant write rights on this schema (repeatable), e.g. dem:sampleTable");
  CLI::App* op_list = operator_cmd->add_subcommand("list", "list operators and their rights");
  CLI::App* op_disable = operator_cmd->add_subcommand("disable", "disable an operator (its sessions stop working)");
  op_disable->add_option("login", op_login, "login")->required();
  CLI::App* op_enable = operator_cmd->add_subcommand("enable", "enable a disabled operator");
  op_enable->add_option("login", op_login, "login")->required();
  CLI::App* op_password = operator_cmd->add_subcommand("password", "set an operator's password (from standard input)");
  op_password->add_option("login", op_login, "login")->required();
  op_password->add_flag("--password-stdin", op_password_stdin, "read the password from standard input")->required();

  CLI::App* workflow_cmd =
      app.add_subcommand("workflow", "technical and user workflows: run now, list, run history, log, reload");
  workflow_cmd->require_subcommand(1);
  WorkflowRunOptions wf_run;
  std::string wf_name;
  int wf_limit = 20;
  bool wf_json = false;
  CLI::App* wf_run_cmd = workflow_cmd->add_subcommand(
      "run", "run a workflow now and wait for its end (whether or not a server is running)");
  wf_run_cmd->add_option("name", wf_run.name, "ffdaReplicateStagingData, ffdaUnsubscribe or cleanup")->required();
  wf_run_cmd->add_option("--schema", wf_run.schema, "replicate only this staged schema, e.g. dem:sampleTable");
  wf_run_cmd->add_flag("--no-wait", wf_run.no_wait, "fail at once when another run of the workflow is in progress");
  wf_run_cmd->add_flag("--json", wf_run.json, "print the run as JSON");
  CLI::App* wf_list = workflow_cmd->add_subcommand("list", "list the workflows, their schedules and last runs");
  CLI::App* wf_history = workflow_cmd->add_subcommand("history", "show the newest runs of a workflow");
  wf_history->add_option("name", wf_name, "ffdaReplicateStagingData, ffdaUnsubscribe or cleanup")->required();
  wf_history->add_option("--limit", wf_limit, "how many runs (default 20)")->check(CLI::Range(1, 100000));
  wf_history->add_flag("--json", wf_json, "print the runs as JSON");
  CLI::App* wf_reload = workflow_cmd->add_subcommand(
      "reload", "check the user workflow files of workflows_dir and have the running servers reload them");
  std::int64_t wf_log_run = 0;
  CLI::App* wf_log = workflow_cmd->add_subcommand("log", "print a user workflow run's log lines");
  wf_log->add_option("name", wf_name, "the workflow's internal name")->required();
  wf_log->add_option("--run", wf_log_run, "this run (default: the newest)")->check(CLI::PositiveNumber);

  CLI::App* script_cmd = app.add_subcommand("script", "workflow JavaScript (E4X included) run from the command line");
  script_cmd->require_subcommand(1);
  ScriptRunOptions script_run;
  CLI::App* script_run_cmd =
      script_cmd->add_subcommand("run", "run a script now as one activity; its log lines on standard output");
  script_run_cmd->add_option("file", script_run.file, "FILE.js, or - for standard input")->required();
  script_run_cmd->add_option("--operator", script_run.op, "the operator it runs as (default admin)");
  script_run_cmd->add_option("--timeout", script_run.timeout, "seconds before it is stopped (default script_timeout)")
      ->check(CLI::PositiveNumber);

  CLI::App* service_cmd = app.add_subcommand("service", "subscription services (nms:service) in the cloud database");
  service_cmd->require_subcommand(1);
  ServiceAddOptions svc_add;
  CLI::App* svc_add_cmd = service_cmd->add_subcommand("add", "add a service that Subscribe/Unsubscribe may name");
  svc_add_cmd->add_option("name", svc_add.name, "internal name (what serviceName carries)")->required();
  svc_add_cmd->add_option("--label", svc_add.label, "label shown to users (default: the name)");
  svc_add_cmd->add_option("--channel", svc_add.channel, "email (default), mobile, phone, mail or fax");
  CLI::App* svc_list_cmd = service_cmd->add_subcommand("list", "list the services and their subscriber counts");

  QueryOptions query_options;
  CLI::App* query_cmd = app.add_subcommand(
      "query", "read staging or cloud rows: a queryDef document (FILE.xml or - for standard input) or a schema");
  query_cmd
      ->add_option("target", query_options.target,
                   "QUERYDEF.xml, - (standard input) or a schema, e.g. dem:sampleTableStg")
      ->required();
  query_cmd->add_option("--select", query_options.select,
                        "expressions to show, comma-separated (default: every attribute)");
  query_cmd->add_option("--where", query_options.where, "a condition, e.g. \"@testcol1 LIKE 'a%'\" (repeat: AND)");
  query_cmd->add_option("--order", query_options.order, "order by, comma-separated, each \"EXPR [desc]\"");
  query_cmd->add_option("--group", query_options.group, "group by these expressions, comma-separated");
  query_cmd->add_option("--limit", query_options.limit, "rows at most (lineCount)")->check(CLI::NonNegativeNumber);
  query_cmd->add_option("--start", query_options.start, "rows skipped first, 0-based (startLine)")
      ->check(CLI::NonNegativeNumber);
  query_cmd->add_flag("--count", query_options.count, "count the matching rows (operation count)");
  query_cmd->add_flag("--distinct", query_options.distinct, "drop duplicate rows");
  query_cmd->add_option("--operation", query_options.operation, "get, getIfExists, select (default) or count");
  query_cmd->add_option("--format", query_options.format,
                        "table (default), xml (as ExecuteQuery returns it), json, csv");

  CLI::App* config_cmd = app.add_subcommand("config", "configuration");
  config_cmd->require_subcommand(1);
  CLI::App* config_show =
      config_cmd->add_subcommand("show", "print the effective configuration and where each value comes from");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  std::map<std::string, std::string> env = ProcessEnvironment();
  if (config_path.empty()) {
    if (auto it = env.find("STAGEBRIDGE_CONFIG"); it != env.end()) config_path = it->second;
  }
  std::map<std::string, std::string> given;
  for (const auto& [key, option] : flag_options) {
    if (option->count() > 0) given[key] = flag_values[key];
  }
  Result<Config> config = LoadConfig(config_path, given, env);
  if (!config.ok()) {
    std::cerr << "stagebridge: " << config.status().message() << "\n";
    return kExitUsage;
  }
  // Logs go to stderr; stdout is for command output (and `serve`'s ready line).
  spdlog::set_default_logger(spdlog::stderr_color_mt("stagebridge"));
  spdlog::set_level(spdlog::level::from_str(config->Get("log_level")));

  if (serve->parsed()) return CmdServe(*config);
  if (apply->parsed()) return CmdSchemaApply(*config, apply_options);
  if (show->parsed()) return CmdSchemaShow(*config, show_dir, show_id, show_internal);
  if (list->parsed()) return CmdSchemaList(*config, list_dir);
  if (config_show->parsed()) return CmdConfigShow(*config);
  if (query_cmd->parsed()) return CmdQuery(*config, query_options);
  if (wf_run_cmd->parsed()) return CmdWorkflowRun(*config, wf_run);
  if (wf_list->parsed()) return CmdWorkflowList(*config);
  if (wf_history->parsed()) return CmdWorkflowHistory(*config, wf_name, wf_limit, wf_json);
  if (wf_reload->parsed()) return CmdWorkflowReload(*config);
  if (wf_log->parsed()) return CmdWorkflowLog(*config, wf_name, wf_log_run);
  if (script_run_cmd->parsed()) return CmdScriptRun(*config, script_run);
  if (svc_add_cmd->parsed()) return CmdServiceAdd(*config, svc_add);
  if (svc_list_cmd->parsed()) return CmdServiceList(*config);
  if (op_add->parsed()) return CmdOperatorAdd(*config, op_login, op_admin, op_schemas, std::cin);
  if (op_list->parsed()) return CmdOperatorList(*config);
  if (op_disable->parsed()) return CmdOperatorDisable(*config, op_login);
  if (op_enable->parsed()) return CmdOperatorEnable(*config, op_login);
  if (op_password->parsed()) return CmdOperatorPassword(*config, op_login, std::cin);
  return kExitUsage;
}

}  // namespace stagebridge::cli
