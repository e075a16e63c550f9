// schema_xml.h — renders a compiled schema as XML in the platform's style
// (<schema …><element …><attribute …/>…<key …/></element></schema>), for
// `stagebridge schema show` and for method discovery.
//
// Thread-safety: stateless.
#pragma once

#include <string>

#include <pugixml.hpp>

#include "schema/model.h"

namespace stagebridge::schema {

struct XmlOptions {
  // Show the sync's bookkeeping attributes (operators yes, API callers no).
  bool include_internal = false;
};

// Appends <schema …> for `schema` under `parent` and returns it.
pugi::xml_node AppendSchemaXml(pugi::xml_node parent, const Schema& schema, const XmlOptions& options = {});

// The whole document as indented text.
std::string SchemaToXml(const Schema& schema, const XmlOptions& options = {});

}  // namespace stagebridge::schema
