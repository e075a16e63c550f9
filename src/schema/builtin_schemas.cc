// builtin_schemas.cc — the schemas shipped with the product, staged by default
// as on the platform: recipients, services, subscriptions, mobile registrations;
// and the subscription history the ffdaUnsubscribe workflow writes (not staged).
#include "schema/schema_set.h"

namespace stagebridge::schema {

const std::vector<SchemaSource>& BuiltinSchemaSources() {
  static const std::vector<SchemaSource> kSources = {
      {"<built-in>/nms_recipient.xml", R"xml(
<srcSchema namespace="nms" name="recipient" label="Recipients">
  <element name="recipient" label="Recipients" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="email" type="string" length="80" label="Email"/>
    <attribute name="firstName" type="string" length="64" label="First name"/>
    <attribute name="lastName" type="string" length="64" label="Last name"/>
    <attribute name="middleName" type="string" length="30" label="Middle name"/>
    <attribute name="salutation" type="string" length="16" label="Title"/>
    <attribute name="gender" type="byte" default="0" label="Gender"/>
    <attribute name="birthDate" type="date" label="Date of birth"/>
    <attribute name="company" type="string" length="80" label="Company"/>
    <attribute name="phone" type="string" length="32" label="Phone"/>
    <attribute name="mobilePhone" type="string" length="32" label="Mobile"/>
    <attribute name="language" type="string" length="16" label="Language"/>
    <attribute name="emailFormat" type="byte" default="0" label="Email format"/>
    <attribute name="blackList" type="boolean" default="false" label="No longer contact (by any channel)"/>
    <attribute name="blackListEmail" type="boolean" default="false" label="No longer contact by email"/>
    <attribute name="blackListMobile" type="boolean" default="false" label="No longer contact by SMS"/>
    <attribute name="blackListPhone" type="boolean" default="false" label="No longer contact by phone"/>
    <attribute name="blackListPostalMail" type="boolean" default="false" label="No longer contact by direct mail"/>
    <attribute name="blackListFax" type="boolean" default="false" label="No longer contact by fax"/>
    <attribute name="created" type="datetime" default="GetDate()" label="Creation date"/>
    <key name="email"><keyfield xpath="@email"/></key>
  </element>
</srcSchema>)xml"},
      {"<built-in>/nms_service.xml", R"xml(
<srcSchema namespace="nms" name="service" label="Services and subscriptions">
  <element name="service" label="Services" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="name" type="string" length="64" label="Internal name"/>
    <attribute name="label" type="string" length="128" label="Label"/>
    <attribute name="messageType" type="byte" default="0" label="Channel"/>
    <attribute name="mode" type="byte" default="0" label="Mode (0 opt-in, 1 double opt-in)"/>
    <attribute name="validityPeriod" type="long" default="0" label="Subscription validity (days, 0 = unlimited)"/>
    <attribute name="created" type="datetime" default="GetDate()" label="Creation date"/>
    <key name="name"><keyfield xpath="@name"/></key>
  </element>
</srcSchema>)xml"},
      {"<built-in>/nms_subscription.xml", R"xml(
<srcSchema namespace="nms" name="subscription" label="Subscriptions">
  <element name="subscription" label="Subscriptions" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <element name="recipient" type="link" target="nms:recipient" label="Recipient"/>
    <element name="service" type="link" target="nms:service" label="Service"/>
    <attribute name="created" type="datetime" default="GetDate()" label="Subscription date"/>
    <attribute name="expirationDate" type="datetime" label="Expiration date"/>
    <key name="recipientService"><keyfield xpath="recipient"/><keyfield xpath="service"/></key>
  </element>
</srcSchema>)xml"},
      {"<built-in>/nms_subHisto.xml", R"xml(
<srcSchema namespace="nms" name="subHisto" label="Subscription history">
  <element name="subHisto" label="Subscription history" autopk="true" autouuid="true"
           dataSource="nms:extAccount:ffda">
    <element name="recipient" type="link" target="nms:recipient" label="Recipient"/>
    <element name="service" type="link" target="nms:service" label="Service"/>
    <attribute name="serviceName" type="string" length="64" label="Service internal name ('' = every service)"/>
    <attribute name="recipientKey" type="string" length="255" label="Recipient as the request named it"/>
    <attribute name="action" type="string" length="16" label="subscribe, unsubscribe, blocklist or refused"/>
    <attribute name="origin" type="string" length="128" label="Origin of the request"/>
    <attribute name="reason" type="string" length="255" label="Why a request was refused"/>
    <attribute name="sequence" type="int64" label="Order in which the requests were received"/>
    <attribute name="requested" type="datetime" label="Request date"/>
    <attribute name="applied" type="datetime" label="Processing date"/>
  </element>
</srcSchema>)xml"},
      {"<built-in>/nms_appSubscriptionRcp.xml", R"xml(
<srcSchema namespace="nms" name="appSubscriptionRcp" label="Mobile application subscriptions">
  <element name="appSubscriptionRcp" label="Mobile application subscriptions" autopk="true" autouuid="true"
           autoStg="true" dataSource="nms:extAccount:ffda">
    <element name="mobileApp" type="link" target="nms:service" label="Mobile application"/>
    <element name="recipient" type="link" target="nms:recipient" label="Recipient"/>
    <attribute name="registrationToken" type="string" length="255" label="Registration token"/>
    <attribute name="userKey" type="string" length="128" label="User key"/>
    <attribute name="disabled" type="boolean" default="false" label="Disabled"/>
    <attribute name="created" type="datetime" default="GetDate()" label="Creation date"/>
    <key name="registration"><keyfield xpath="mobileApp"/><keyfield xpath="@registrationToken"/></key>
  </element>
</srcSchema>)xml"},
  };
  return kSources;
}

}  // namespace stagebridge::schema
