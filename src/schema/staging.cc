// staging.cc — the staging schema derivation of SPEC §2.
#include "schema/staging.h"

#include <cassert>

namespace stagebridge::schema {
namespace {

Attribute MakeAttr(std::string name, AttrType type, std::string sql_name, AttrRole role, std::string default_expr,
                   std::string label) {
  Attribute a;
  a.name = std::move(name);
  a.type = type;
  a.sql_name = std::move(sql_name);
  a.role = role;
  a.default_expr = std::move(default_expr);
  a.not_null = true;
  a.label = std::move(label);
  return a;
}

}  // namespace

Schema DeriveStagingSchema(const Schema& src) {
  assert(src.auto_stg && src.autouuid);
  Schema stg;
  stg.ns = src.ns;
  stg.name = src.name + "Stg";
  stg.label = src.label + " (Staging)";
  stg.source = src.source;
  stg.sql_table = src.sql_table + "Stg";
  stg.autopk = true;
  stg.autouuid = true;
  stg.auto_stg = false;
  stg.stg_src_schema = src.id();
  stg.attributes = src.attributes;  // the primary key and every business attribute
  stg.keys = src.keys;              // @id unique, declared keys unique
  stg.links = src.links;
  // Business columns are nullable in staging: an IngestExt names only some of them.
  for (Attribute& a : stg.attributes) {
    if (a.role != AttrRole::kBusiness) continue;
    a.not_null = false;
    a.default_expr.clear();  // defaults apply in the cloud, to fields no write named
  }
  stg.attributes.push_back(
      MakeAttr(kDeleteAttr, AttrType::kBoolean, "iDelete", AttrRole::kTombstone, "false", "Delete"));
  stg.attributes.push_back(MakeAttr(kLastModifiedAttr, AttrType::kDatetime, "tsLastModified", AttrRole::kLastModified,
                                    "GetDate()", "Last modified"));
  stg.attributes.push_back(
      MakeAttr(kStgSeqAttr, AttrType::kInt64, "iStgSeq", AttrRole::kInternal, "0", "Change sequence"));
  stg.attributes.push_back(
      MakeAttr(kStgKeyAttr, AttrType::kShort, "iStgKey", AttrRole::kInternal, "0", "Reconciliation key"));
  stg.attributes.push_back(MakeAttr(kStgOpAttr, AttrType::kShort, "iStgOp", AttrRole::kInternal, "0", "Operation"));
  return stg;
}

}  // namespace stagebridge::schema
