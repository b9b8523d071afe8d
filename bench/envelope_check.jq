# Types-only envelope check, the jq comparison point for bench/envelope.sh.
# Emits a line (compact, with -c) when it is an object whose 12 envelope
# fields have the right JSON types: 10 strings, payload an object,
# attributes an object of strings. Nothing else is checked (no timestamps,
# no id rules), so jq is doing strictly less work than envelope-check.
# jq stops at the first malformed line, so feed it bad-rate 0 input only.
select(
  type == "object"
  and (.tenant_id | type) == "string"
  and (.site_id | type) == "string"
  and (.device_id | type) == "string"
  and (.device_type | type) == "string"
  and (.event_type | type) == "string"
  and (.event_id | type) == "string"
  and (.event_time_utc | type) == "string"
  and (.ingest_time_utc | type) == "string"
  and (.schema_version | type) == "string"
  and (.source_system | type) == "string"
  and (.payload | type) == "object"
  and (.attributes | type) == "object"
  and all(.attributes[]; type == "string")
)
