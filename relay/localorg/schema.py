"""The local org's standard objects, plus custom fields declared in ``schema_custom.toml``.

Field names, types and lengths follow the Object Reference for the Salesforce Platform
and the "Salesforce Field Reference Guide" (field tables with lengths). Only the fields
Relay, the tests and a realistic sample org need are declared; describe lists exactly
these.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from relay.localorg.ids import KEY_PREFIXES
from relay.localorg.schema_model import (
    FieldDef,
    ObjectDef,
    boolean,
    create_only,
    pick,
    readonly,
    ref,
    required,
    scalar,
    system_fields,
    text,
)

# Object Reference, Task: default TaskStatus / TaskPriority values and TaskSubtype values.
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_CLOSED_STATUSES = frozenset({"Completed"})
TASK_DEFAULT_STATUS = "Not Started"
TASK_PRIORITIES = ("High", "Normal", "Low")
TASK_HIGH_PRIORITIES = frozenset({"High"})
TASK_DEFAULT_PRIORITY = "Normal"
# Object Reference, Task: RecurrenceType values.
RECURRENCE_TYPES = (
    "RecursDaily", "RecursEveryWeekday", "RecursMonthly", "RecursMonthlyNth", "RecursWeekly",
    "RecursYearly", "RecursYearlyNth",
)  # fmt: skip
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
LEAD_CONVERTED_STATUS = "Closed - Converted"
# Object Reference, OpportunityStage: the default stages of a new org with their
# probability and forecast category; IsClosed/IsWon follow the stage.
# stage -> (probability, forecast category, closed, won)
OPPORTUNITY_STAGES: dict[str, tuple[int, str, bool, bool]] = {
    "Prospecting": (10, "Pipeline", False, False),
    "Qualification": (10, "Pipeline", False, False),
    "Needs Analysis": (20, "Pipeline", False, False),
    "Value Proposition": (50, "Pipeline", False, False),
    "Id. Decision Makers": (60, "Pipeline", False, False),
    "Perception Analysis": (70, "Pipeline", False, False),
    "Proposal/Price Quote": (75, "Pipeline", False, False),
    "Negotiation/Review": (90, "Pipeline", False, False),
    "Closed Won": (100, "Closed", True, True),
    "Closed Lost": (0, "Omitted", True, False),
}
_SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
_INDUSTRIES = (
    "Agriculture", "Banking", "Chemicals", "Communications", "Consulting", "Education",
    "Electronics", "Energy", "Engineering", "Finance", "Healthcare", "Insurance",
    "Manufacturing", "Media", "Retail", "Technology", "Transportation", "Other",
)  # fmt: skip
_EMAIL_ENCODINGS = ("UTF-8", "ISO-8859-1", "Shift_JIS", "ISO-2022-JP", "EUC-JP", "Big5", "GB2312")
_WHAT_TARGETS = ("Account", "Opportunity")
_WHO_TARGETS = ("Contact", "Lead")
_LINKABLE = ("Account", "Contact", "Lead", "Opportunity", "Task", "User")


def _address(prefix: str) -> tuple[FieldDef, ...]:
    return (
        text(f"{prefix}Street", 255, type="textarea"),
        text(f"{prefix}City", 40),
        text(f"{prefix}State", 80),
        text(f"{prefix}PostalCode", 20),
        text(f"{prefix}Country", 80),
    )


def _person(*, name_length: int = 121) -> tuple[FieldDef, ...]:
    return (
        required(text("LastName", 80)),
        text("FirstName", 40),
        readonly(text("Name", name_length, name_field=True)),
    )


_USER = (
    *system_fields(owner=False),
    required(text("Username", 80, unique=True, id_lookup=True)),
    *_person(),
    required(text("Email", 128, type="email")),
    required(text("Alias", 8)),
    text("CommunityNickname", 40, defaulted_on_create=True, nillable=False),
    required(text("TimeZoneSidKey", 40, type="picklist")),
    required(text("LocaleSidKey", 40, type="picklist")),
    required(pick("EmailEncodingKey", _EMAIL_ENCODINGS, restricted=True)),
    required(text("LanguageLocaleKey", 40, type="picklist")),
    required(ref("ProfileId", ("Profile",), "Profile")),
    boolean("IsActive", True),
    readonly(pick("UserType", ("Standard",), default="Standard", defaulted_on_create=True)),
    text("Title", 80),
    text("CompanyName", 80),
    text("Department", 80),
    text("Phone", 40, type="phone"),
    ref("ManagerId", ("User",), "Manager"),
    text("FederationIdentifier", 512, id_lookup=True),
)
_PROFILE = (
    *system_fields(owner=False),
    required(text("Name", 255, name_field=True)),
    readonly(pick("UserType", ("Standard",), default="Standard", defaulted_on_create=True)),
    text("Description", 255),
    # Object Reference, Profile: the Permissions* fields; Relay's console reads this one
    # to tell an admin (docs/design.md §10).
    readonly(boolean("PermissionsModifyAllData")),
)
_ORGANIZATION = tuple(
    readonly(f)
    for f in (
        *system_fields(owner=False),
        text("Name", 80, name_field=True),
        text("Division", 80),
        text("Country", 80),
        text("OrganizationType", 40, type="picklist"),
        text("InstanceName", 5),
        boolean("IsSandbox"),
        text("DefaultLocaleSidKey", 40, type="picklist"),
        text("TimeZoneSidKey", 40, type="picklist"),
        text("LanguageLocaleKey", 40, type="picklist"),
        text("NamespacePrefix", 15),
    )
)
_ACCOUNT = (
    *system_fields(),
    required(text("Name", 255, name_field=True)),
    pick("Type", ("Prospect", "Customer - Direct", "Customer - Channel",
                  "Channel Partner / Reseller", "Installation Partner", "Technology Partner",
                  "Other")),
    ref("ParentId", ("Account",), "Parent"),
    text("AccountNumber", 40),
    text("Site", 80),
    *_address("Billing"),
    *_address("Shipping"),
    text("Phone", 40, type="phone"),
    text("Fax", 40, type="phone"),
    text("Website", 255, type="url"),
    pick("Industry", _INDUSTRIES),
    scalar("AnnualRevenue", "currency", precision=18, scale=0),
    scalar("NumberOfEmployees", "int"),
    text("Description", 32000, type="textarea"),
    readonly(scalar("LastActivityDate", "date")),
)  # fmt: skip
_CONTACT = (
    *system_fields(),
    ref("AccountId", ("Account",), "Account"),
    *_person(),
    pick("Salutation", _SALUTATIONS),
    text("Email", 80, type="email"),
    text("Phone", 40, type="phone"),
    text("MobilePhone", 40, type="phone"),
    text("Title", 128),
    text("Department", 80),
    ref("ReportsToId", ("Contact",), "ReportsTo"),
    pick("LeadSource", _LEAD_SOURCES),
    *_address("Mailing"),
    boolean("HasOptedOutOfEmail"),
    readonly(boolean("IsEmailBounced")),
    text("Description", 32000, type="textarea"),
    readonly(scalar("LastActivityDate", "date")),
)
_LEAD = (
    *system_fields(),
    *_person(),
    pick("Salutation", _SALUTATIONS),
    required(text("Company", 255)),
    text("Email", 80, type="email"),
    text("Phone", 40, type="phone"),
    text("MobilePhone", 40, type="phone"),
    text("Title", 128),
    text("Website", 255, type="url"),
    pick("Status", LEAD_STATUSES, nillable=False, defaulted_on_create=True,
         default="Open - Not Contacted"),
    pick("LeadSource", _LEAD_SOURCES),
    pick("Industry", _INDUSTRIES),
    pick("Rating", ("Hot", "Warm", "Cold")),
    *_address(""),
    boolean("HasOptedOutOfEmail"),
    text("Description", 32000, type="textarea"),
    # Object Reference, Lead: IsConverted is "Create, Defaulted on create"; the
    # Converted* fields are read-only and set by convertLead().
    create_only(boolean("IsConverted")),
    readonly(scalar("ConvertedDate", "date")),
    readonly(ref("ConvertedAccountId", ("Account",), "ConvertedAccount")),
    readonly(ref("ConvertedContactId", ("Contact",), "ConvertedContact")),
    readonly(ref("ConvertedOpportunityId", ("Opportunity",), "ConvertedOpportunity")),
    readonly(scalar("LastActivityDate", "date")),
)  # fmt: skip
_OPPORTUNITY = (
    *system_fields(),
    required(text("Name", 120, name_field=True)),
    ref("AccountId", ("Account",), "Account"),
    ref("ContactId", ("Contact",), "Contact"),
    required(pick("StageName", tuple(OPPORTUNITY_STAGES))),
    required(scalar("CloseDate", "date")),
    scalar("Amount", "currency", precision=18, scale=2),
    scalar("Probability", "percent", precision=3, defaulted_on_create=True),
    pick("Type", ("Existing Customer - Upgrade", "Existing Customer - Replacement",
                  "Existing Customer - Downgrade", "New Customer")),
    pick("LeadSource", _LEAD_SOURCES),
    text("NextStep", 255),
    text("Description", 32000, type="textarea"),
    readonly(boolean("IsClosed")),
    readonly(boolean("IsWon")),
    readonly(pick("ForecastCategory", ("Omitted", "Pipeline", "BestCase", "Forecast", "Closed"))),
    pick("ForecastCategoryName", ("Omitted", "Pipeline", "Best Case", "Commit", "Closed"),
         defaulted_on_create=True),
    readonly(scalar("LastActivityDate", "date")),
)  # fmt: skip
_OPPORTUNITY_CONTACT_ROLE = (
    *system_fields(owner=False),
    create_only(required(ref("OpportunityId", ("Opportunity",), "Opportunity"))),
    required(ref("ContactId", ("Contact",), "Contact")),
    pick("Role", ("Business User", "Decision Maker", "Economic Buyer", "Economic Decision Maker",
                  "Evaluator", "Executive Sponsor", "Influencer", "Technical Buyer", "Other")),
    boolean("IsPrimary"),
)  # fmt: skip
_TASK = (
    *system_fields(),
    ref("WhoId", _WHO_TARGETS, "Who", label="Name ID"),
    ref("WhatId", _WHAT_TARGETS, "What", label="Related To ID"),
    text("Subject", 255, type="combobox"),
    # Object Reference, Task.ActivityDate: a date, "Label is Due Date".
    scalar("ActivityDate", "date", label="Due Date"),
    pick("Status", TASK_STATUSES, restricted=True, nillable=False, defaulted_on_create=True,
         default=TASK_DEFAULT_STATUS),
    pick("Priority", TASK_PRIORITIES, restricted=True, nillable=False, defaulted_on_create=True,
         default=TASK_DEFAULT_PRIORITY),
    readonly(boolean("IsHighPriority")),
    # Salesforce Field Reference Guide, activity fields (ActivityHistory, OpenActivity):
    # Description is labelled "Comments", textarea, 32,000 characters.
    text("Description", 32000, type="textarea", label="Comments"),
    pick("Type", ("Call", "Email", "Meeting", "Other")),
    # Object Reference, Task: TaskSubtype is "Create, Filter, Group, Nillable,
    # Restricted picklist, Sort": set on create, never updated.
    create_only(pick("TaskSubtype", TASK_SUBTYPES, restricted=True)),
    readonly(boolean("IsClosed")),
    readonly(ref("AccountId", ("Account",), "Account")),
    readonly(scalar("CompletedDateTime", "datetime")),
    readonly(scalar("WhoCount", "int")),
    readonly(scalar("WhatCount", "int")),
    boolean("IsReminderSet"),
    scalar("ReminderDateTime", "datetime"),
    scalar("CallDurationInSeconds", "int"),
    pick("CallType", ("Internal", "Inbound", "Outbound")),
    text("CallDisposition", 255),
    text("CallObject", 255),
    # Object Reference, Task: IsArchived is read-only; archived activities are hidden
    # from query() and returned by queryAll() (SOAP API Developer Guide, queryAll()).
    readonly(boolean("IsArchived")),
    # Object Reference, Task, recurrence fields: IsRecurrence is set on create only
    # (Create, Defaulted on create); RecurrenceActivityId is read-only.
    create_only(boolean("IsRecurrence")),
    readonly(ref("RecurrenceActivityId", ("Task",), "RecurrenceActivity")),
    scalar("RecurrenceStartDateOnly", "date"),
    scalar("RecurrenceEndDateOnly", "date"),
    pick("RecurrenceType", RECURRENCE_TYPES, restricted=True),
    scalar("RecurrenceInterval", "int"),
    scalar("RecurrenceDayOfWeekMask", "int"),
    scalar("RecurrenceDayOfMonth", "int"),
    text("RecurrenceTimeZoneSidKey", 40, type="picklist"),
    # Object Reference, Task: TaskWhoIds (JunctionIdList, API 38.0+) lists up to 50
    # contacts or one lead; the first becomes WhoId. Shared Activities only.
    FieldDef("TaskWhoIds", "junctionidlist", write_only=True),
)  # fmt: skip
_TASK_RELATION = (
    *system_fields(owner=False),
    create_only(required(ref("TaskId", ("Task",), "Task"))),
    create_only(required(ref("RelationId", (*_WHO_TARGETS, *_WHAT_TARGETS), "Relation"))),
    readonly(ref("AccountId", ("Account",), "Account")),
    create_only(boolean("IsWhat")),
)  # fmt: skip
# Object Reference, TaskStatus / TaskPriority: one row per picklist value; the API can
# describe, query and retrieve them, never write them (values change in Setup).
_PICKLIST_VALUE = (
    *system_fields(owner=False),
    readonly(text("ApiName", 255, id_lookup=True)),
    readonly(text("MasterLabel", 255, name_field=True)),
    readonly(scalar("SortOrder", "int")),
    readonly(boolean("IsDefault")),
)
_TASK_STATUS = (*_PICKLIST_VALUE, readonly(boolean("IsClosed")))
_TASK_PRIORITY = (*_PICKLIST_VALUE, readonly(boolean("IsHighPriority")))
_EMAIL_SERVICES_FUNCTION = (
    *system_fields(owner=False),
    required(text("FunctionName", 64, name_field=True)),
    boolean("IsActive", True),
    text("AuthorizedSenders", 32000, type="textarea"),
    boolean("IsAuthenticationRequired"),
    boolean("IsTlsRequired"),
    pick("AttachmentOption", ("None", "TextOnly", "BinaryOnly", "All", "NoContent"),
         restricted=True),
    text("ErrorRoutingAddress", 270, type="email"),
    boolean("IsErrorRoutingEnabled"),
)  # fmt: skip
_EMAIL_SERVICES_ADDRESS = (
    *system_fields(owner=False),
    required(text("LocalPart", 64)),
    # Object Reference, EmailServicesAddress: EmailDomainName is generated by Salesforce.
    readonly(text("EmailDomainName", 255)),
    required(ref("RunAsUserId", ("User",), "RunAsUser")),
    required(ref("FunctionId", ("EmailServicesFunction",), "Function")),
    boolean("IsActive", True),
    text("AuthorizedSenders", 32000, type="textarea"),
    text("DeveloperName", 80),
)
_CONTENT_VERSION = (
    *system_fields(),
    text("Title", 255, name_field=True, nillable=False, defaulted_on_create=True),
    required(text("PathOnClient", 500)),
    create_only(scalar("VersionData", "base64")),
    create_only(ref("ContentDocumentId", ("ContentDocument",), "ContentDocument")),
    create_only(ref("FirstPublishLocationId", _LINKABLE, "FirstPublishLocation")),
    text("Description", 1000, type="textarea"),
    readonly(scalar("ContentSize", "int")),
    readonly(text("FileType", 20)),
    readonly(text("FileExtension", 40)),
    readonly(text("Checksum", 50)),
    readonly(boolean("IsLatest")),
    readonly(text("VersionNumber", 20)),
    pick("ContentLocation", ("S", "E", "L"), restricted=True, nillable=False,
         defaulted_on_create=True, default="S"),
    pick("Origin", ("C", "H"), restricted=True, nillable=False, defaulted_on_create=True,
         default="C"),
)  # fmt: skip
_CONTENT_DOCUMENT = (
    *system_fields(),
    text("Title", 255, name_field=True, nillable=False),
    text("Description", 1000, type="textarea"),
    readonly(ref("LatestPublishedVersionId", ("ContentVersion",), "LatestPublishedVersion")),
    readonly(scalar("ContentSize", "int")),
    readonly(text("FileType", 20)),
    readonly(text("FileExtension", 40)),
)
_CONTENT_DOCUMENT_LINK = (
    *system_fields(owner=False),
    create_only(
        required(ref("ContentDocumentId", ("ContentDocument",), "ContentDocument"))),
    create_only(required(ref("LinkedEntityId", _LINKABLE, "LinkedEntity"))),
    # Object Reference, ContentDocumentLink: V (viewer), C (collaborator), I (inferred).
    pick("ShareType", ("V", "C", "I"), restricted=True, nillable=False,
         defaulted_on_create=True, default="V"),
    pick("Visibility", ("AllUsers", "InternalUsers", "SharedUsers"), restricted=True,
         nillable=False, defaulted_on_create=True, default="AllUsers"),
)  # fmt: skip


def _object(name: str, fields: tuple[FieldDef, ...], label: str, plural: str,
            **kw: Any) -> ObjectDef:  # fmt: skip
    return ObjectDef(name, KEY_PREFIXES[name], fields, label=label, label_plural=plural, **kw)


def _standard_objects() -> list[ObjectDef]:
    return [
        _object("User", _USER, "User", "Users", deletable=False),
        _object("Profile", _PROFILE, "Profile", "Profiles", createable=False, deletable=False),
        _object("Organization", _ORGANIZATION, "Organization", "Organizations",
                createable=False, updateable=False, deletable=False),
        _object("Account", _ACCOUNT, "Account", "Accounts"),
        _object("Contact", _CONTACT, "Contact", "Contacts"),
        _object("Lead", _LEAD, "Lead", "Leads"),
        _object("Opportunity", _OPPORTUNITY, "Opportunity", "Opportunities"),
        _object("OpportunityContactRole", _OPPORTUNITY_CONTACT_ROLE, "Contact Role",
                "Contact Roles"),
        _object("Task", _TASK, "Task", "Tasks"),
        _object("TaskRelation", _TASK_RELATION, "Task Relation", "Task Relations",
                updateable=False),
        _object("TaskStatus", _TASK_STATUS, "Task Status Value", "Task Status Values",
                createable=False, updateable=False, deletable=False),
        _object("TaskPriority", _TASK_PRIORITY, "Task Priority Value", "Task Priority Values",
                createable=False, updateable=False, deletable=False),
        _object("EmailServicesFunction", _EMAIL_SERVICES_FUNCTION, "Email Service",
                "Email Services"),
        _object("EmailServicesAddress", _EMAIL_SERVICES_ADDRESS, "Email Services Address",
                "Email Services Addresses"),
        _object("ContentVersion", _CONTENT_VERSION, "Content Version", "Content Versions",
                deletable=False),
        _object("ContentDocument", _CONTENT_DOCUMENT, "Content Document", "Content Documents",
                createable=False),
        _object("ContentDocumentLink", _CONTENT_DOCUMENT_LINK, "Content Document Link",
                "Content Document Links", updateable=False),
    ]  # fmt: skip


def _custom_field(spec: dict[str, Any]) -> FieldDef:
    """A custom field from one ``[[Object.fields]]`` table of the schema file."""
    name = str(spec["name"])
    if not name.endswith("__c"):
        raise ValueError(f"custom field {name!r} must end with __c")
    return FieldDef(
        name,
        str(spec.get("type", "string")),
        label=str(spec.get("label", "")),
        length=int(spec.get("length", 0)),
        nillable=not bool(spec.get("required", False)),
        picklist=tuple(spec.get("values", ())),
        restricted=bool(spec.get("restricted", False)),
        external_id=bool(spec.get("external_id", False)),
        unique=bool(spec.get("unique", False)),
        case_sensitive=bool(spec.get("case_sensitive", False)),
        id_lookup=bool(spec.get("external_id", False)),
        custom=True,
    )


def load_custom_fields(text_: str) -> dict[str, tuple[FieldDef, ...]]:
    """Parse a schema file: ``[[<Object>]]``-free TOML with ``[Object] fields = [...]``."""
    data = tomllib.loads(text_)
    return {
        obj: tuple(_custom_field(f) for f in spec.get("fields", ())) for obj, spec in data.items()
    }


def build_schema(custom_toml: str | None = None) -> dict[str, ObjectDef]:
    """Every object of the org by canonical name, custom fields added."""
    if custom_toml is None:
        custom_toml = resources.files("relay.localorg").joinpath("schema_custom.toml").read_text()
    custom = load_custom_fields(custom_toml)
    objects = {}
    for obj in _standard_objects():
        objects[obj.name] = obj.with_fields(custom.get(obj.name, ()))
    unknown = set(custom) - set(objects)
    if unknown:
        raise ValueError(f"schema file names unknown objects: {sorted(unknown)}")
    return objects
