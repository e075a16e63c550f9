// schema_xml.cc — compiled schema → platform-style XML.
#include "schema/schema_xml.h"

#include <sstream>

namespace stagebridge::schema {
namespace {

void SetIf(pugi::xml_node node, const char* name, const std::string& value) {
  if (!value.empty()) node.append_attribute(name) = value.c_str();
}

}  // namespace

pugi::xml_node AppendSchemaXml(pugi::xml_node parent, const Schema& schema, const XmlOptions& options) {
  pugi::xml_node root = parent.append_child("schema");
  root.append_attribute("namespace") = schema.ns.c_str();
  root.append_attribute("name") = schema.name.c_str();
  root.append_attribute("label") = schema.label.c_str();
  root.append_attribute("mappingType") = "sql";
  SetIf(root, "stgSrcSchema", schema.stg_src_schema);
  root.append_attribute("xtkschema") = "xtk:schema";

  pugi::xml_node el = root.append_child("element");
  el.append_attribute("name") = schema.name.c_str();
  el.append_attribute("label") = schema.label.c_str();
  el.append_attribute("sqltable") = schema.sql_table.c_str();
  if (schema.autopk) el.append_attribute("autopk") = "true";
  if (schema.autouuid) el.append_attribute("autouuid") = "true";
  el.append_attribute("autoStg") = schema.auto_stg ? "true" : "false";
  SetIf(el, "dataSource", schema.data_source);
  SetIf(el, "stagingSchema", schema.stg_schema);

  for (const Attribute& a : schema.attributes) {
    if (a.role == AttrRole::kInternal && !options.include_internal) continue;
    pugi::xml_node at = el.append_child("attribute");
    at.append_attribute("name") = a.name.c_str();
    at.append_attribute("type") = std::string(TypeName(a.type)).c_str();
    if (a.type == AttrType::kString || (a.type == AttrType::kUuid && a.length != 36)) {
      at.append_attribute("length") = a.length;
    }
    at.append_attribute("sqlname") = a.sql_name.c_str();
    SetIf(at, "label", a.label);
    SetIf(at, "default", a.default_expr);
    if (a.not_null) at.append_attribute("notNull") = "true";
    if (a.role == AttrRole::kInternal) at.append_attribute("internal") = "true";
  }
  for (const Link& link : schema.links) {
    pugi::xml_node ln = el.append_child("element");
    ln.append_attribute("name") = link.name.c_str();
    ln.append_attribute("type") = "link";
    ln.append_attribute("target") = link.target.c_str();
    ln.append_attribute("label") = link.label.c_str();
    pugi::xml_node join = ln.append_child("join");
    join.append_attribute("xpath-dst") = "@id";
    join.append_attribute("xpath-src") = ("@" + link.fk_attribute).c_str();
  }
  for (const Key& key : schema.keys) {
    pugi::xml_node k = el.append_child("key");
    k.append_attribute("name") = key.name.c_str();
    if (key.internal) k.append_attribute("internal") = "true";
    for (const std::string& f : key.fields) k.append_child("keyfield").append_attribute("xpath") = ("@" + f).c_str();
  }
  return root;
}

std::string SchemaToXml(const Schema& schema, const XmlOptions& options) {
  pugi::xml_document doc;
  AppendSchemaXml(doc, schema, options);
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_indent | pugi::format_no_declaration);
  return out.str();
}

}  // namespace stagebridge::schema
