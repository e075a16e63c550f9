// test_schemas.h — the schema set of the sync tests (test-only header): the
// built-ins (nms:recipient with its declared key on @email, nms:subscription with
// a two-link key, …) plus user schemas exercising what the built-ins do not:
//   dem:sampleTable  the platform documentation's sample (two strings)
//   dem:strict       a mandatory column without default, one with a default
//   dem:pair         a declared key of two attributes
#pragma once

#include <cstdlib>

#include <gtest/gtest.h>

#include "schema/schema_set.h"

namespace stagebridge::sync::test_schemas {

inline constexpr const char* kSampleSchema = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" label="Sample Table" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
  </element></srcSchema>)";

inline constexpr const char* kStrictSchema = R"(<srcSchema namespace="dem" name="strict" label="Strict">
  <element name="strict" label="Strict" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="name" type="string" length="64" notNull="true"/>
    <attribute name="note" type="string" length="64"/>
    <attribute name="level" type="long" notNull="true" default="3"/>
  </element></srcSchema>)";

inline constexpr const char* kPairSchema = R"(<srcSchema namespace="dem" name="pair" label="Pair">
  <element name="pair" label="Pair" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="left" type="string" length="32"/>
    <attribute name="right" type="string" length="32"/>
    <attribute name="value" type="string" length="64"/>
    <key name="leftRight"><keyfield xpath="@left"/><keyfield xpath="@right"/></key>
  </element></srcSchema>)";

// Built once, shared by every test of the binary (immutable).
inline const schema::SchemaSet& Schemas() {
  static const schema::SchemaSet* set = [] {
    Result<schema::SchemaSet> s = schema::SchemaSet::Load(
        {{"dem_sampleTable.xml", kSampleSchema}, {"dem_strict.xml", kStrictSchema}, {"dem_pair.xml", kPairSchema}});
    if (!s.ok()) {
      ADD_FAILURE() << s.status().ToString();
      std::abort();
    }
    return new schema::SchemaSet(std::move(s).value());
  }();
  return *set;
}

// The source schema `id` and its staging schema. REQUIRES: `id` is staged.
inline const schema::Schema& Source(const char* id) {
  const schema::Schema* s = Schemas().Find(id);
  if (s == nullptr) std::abort();
  return *s;
}
inline const schema::Schema& Staging(const char* id) {
  const schema::Schema* s = Schemas().Find(Source(id).stg_schema);
  if (s == nullptr) std::abort();
  return *s;
}

}  // namespace stagebridge::sync::test_schemas
