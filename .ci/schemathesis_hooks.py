"""Schemathesis hooks for .ci/fuzz.sh: reports that follow from what JSON
Schema cannot say, and that are therefore not faults of the service, are
dropped. Everything else fails the run.

- A task's title is trimmed before it is checked ("trimmed; 1 to 200
  characters"). The document can only give `minLength` 1 and `maxLength` 200
  of the string as sent, so a padded title over 200 characters that is 200 or
  fewer once trimmed is rightly accepted, and a whitespace-only title is
  rightly refused as blank.
- HTTP strips spaces and tabs around a header value (RFC 9110, section 5.5),
  so an `Idempotency-Key` sent with them arrives without them, valid.
- A tag is trimmed too, and duplicates (ignoring case) collapse before the
  limit of 20 counts; a blank tag is refused.
- `time_zone` takes the names of the IANA database, a list the document
  does not repeat: any other string is refused.
- A due time needs a due date on the task as it would be after the write,
  which for an update depends on what is stored; so do a recurrence (a due
  date) and reminders (a due time).
- `recurrence` takes the contract's subset of RFC 5545 `RRULE` (which
  parts, with which frequency, each once): a grammar JSON Schema cannot
  state. A refusal of a string that is not such a rule is expected.
- A batch applied operation by operation (`"atomic": false`) answers 200
  with each operation's own result: an operation whose task breaks the
  schema is refused in its result (a 422 there), not by the batch's status.
- Due dates run from 0001-01-01 to 9999-12-30 and `due_before`/`due_after`
  lie within the years 0001 to 9999 in UTC; JSON Schema's `date` and
  `date-time` formats reach further.
"""

import datetime
import zoneinfo

import schemathesis

# What the service trims: Rust's `char::is_whitespace` (Unicode White_Space).
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
TITLE_MAX_CHARS = 200
TAG_MAX_CHARS = 40
TAGS_PER_TASK = 20
ZONES = zoneinfo.available_timezones()


def _title(case):
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("title"), str):
        return body["title"]
    return None


def _explained_by_trimming(failure, case, response):
    title = _title(case)
    if failure.code == "ST201":
        if title is not None and "maxLength" in failure.message and "title" in failure.message:
            trimmed = title.strip(WHITESPACE)
            if len(title) > TITLE_MAX_CHARS and 0 < len(trimmed) <= TITLE_MAX_CHARS:
                return True
        key = (case.headers or {}).get("Idempotency-Key")
        if isinstance(key, str) and "Idempotency-Key" in failure.message:
            stripped = key.strip(" \t")
            if stripped != key and stripped and all("!" <= c <= "~" for c in stripped):
                return True
    if failure.code == "ST202" and title and not title.strip(WHITESPACE):
        return _refused_fields(response) == ["title"]
    if failure.code == "ST201" and "tags" in failure.message:
        tags = _body(case).get("tags")
        if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
            trimmed = [tag.strip(WHITESPACE) for tag in tags]
            distinct = {tag.lower() for tag in trimmed}
            if all(0 < len(tag) <= TAG_MAX_CHARS for tag in trimmed) and len(distinct) <= TAGS_PER_TASK:
                return True
    if failure.code == "ST202":
        refused = _refused_fields(response)
        return bool(refused) and all(_explained_refusal(field, case) for field in refused)
    return False


def _body(case):
    return case.body if isinstance(case.body, dict) else {}


def _blank_or_long(tag):
    trimmed = tag.strip(WHITESPACE)
    return not trimmed or len(trimmed) > TAG_MAX_CHARS


def _out_of_range_date(text):
    try:
        date = datetime.date.fromisoformat(text)
    except (TypeError, ValueError):
        return False
    return date > datetime.date(9999, 12, 30)


def _out_of_range_instant(text):
    try:
        at = datetime.datetime.fromisoformat(str(text).replace("z", "Z").replace("Z", "+00:00"))
        return not 1 <= at.astimezone(datetime.timezone.utc).year <= 9999
    except (OverflowError, ValueError):
        return True


def _explained_refusal(field, case):
    """Whether refusing `field` of this schema-valid request follows from a
    rule the document cannot state (see the module's docstring)."""
    body, query = _body(case), case.query or {}
    if field == "time_zone":
        zone = body.get("time_zone")
        return isinstance(zone, str) and zone not in ZONES
    if field == "tags":
        tags = body.get("tags")
        return isinstance(tags, list) and any(isinstance(t, str) and _blank_or_long(t) for t in tags)
    if field == "tag":
        tags = query.get("tag")
        tags = tags if isinstance(tags, list) else [tags]
        return any(isinstance(t, str) and _blank_or_long(t) for t in tags)
    if field == "due_time":
        return body.get("due_date") is None
    if field == "recurrence":
        return body.get("due_date") is None or not _valid_rule(body.get("recurrence"))
    if field == "reminders":
        return body.get("due_time") is None
    if field == "due_date":
        return _out_of_range_date(body.get("due_date"))
    if field in ("due_before", "due_after"):
        return _out_of_range_instant(query.get(field))
    return False


RULE_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "COUNT", "UNTIL"}
WEEKDAYS = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}


def _ascii_int(text, low, high):
    return text.isascii() and text.isdigit() and low <= int(text) <= high


def _signed_int(text, low, high):
    sign, digits = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    return _ascii_int(digits, low, high) if digits else False


def _valid_until(text):
    try:
        if len(text) == 8 and text.isdigit():
            datetime.datetime.strptime(text, "%Y%m%d")
            return True
        if len(text) == 16 and text.endswith("Z"):
            datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ")
            return True
    except ValueError:
        pass
    return False


def _valid_rule(rule):
    """Whether `rule` is in the contract's RRULE subset, as strictly as the
    service reads it (stricter where unsure, so no refusal is excused that
    the service should not have made)."""
    if not isinstance(rule, str) or not rule.isascii() or not 0 < len(rule) <= 500:
        return False
    parts = {}
    for part in rule.split(";"):
        name, equals, value = part.partition("=")
        name, value = name.upper(), value.upper()
        if not equals or name in parts or name not in RULE_PARTS:
            return False
        parts[name] = value
    freq = parts.get("FREQ")
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        return False
    if "INTERVAL" in parts and not _ascii_int(parts["INTERVAL"], 1, 999):
        return False
    if "COUNT" in parts and ("UNTIL" in parts or not _ascii_int(parts["COUNT"], 1, 2**32 - 1)):
        return False
    if "UNTIL" in parts and not _valid_until(parts["UNTIL"]):
        return False
    if "BYMONTHDAY" in parts:
        days = parts["BYMONTHDAY"].split(",")
        if freq != "MONTHLY" or len(set(days)) < len(days):
            return False
        if not all(_signed_int(day, 1, 31) for day in days):
            return False
    if "BYDAY" in parts:
        days = parts["BYDAY"].split(",")
        if freq == "YEARLY" or len(set(days)) < len(days):
            return False
        for day in days:
            ordinal, name = day[:-2], day[-2:]
            if name not in WEEKDAYS:
                return False
            if (freq == "MONTHLY") != bool(ordinal):
                return False
            if ordinal and (ordinal[0] == "+" and ordinal[1:2] == "-" or not _signed_int(ordinal, 1, 5)):
                return False
    return True


def _refused_fields(response):
    """The fields a 422 problem names, or None."""
    if response.status_code != 422:
        return None
    try:
        return [error["field"] for error in response.json()["errors"]]
    except (ValueError, KeyError, TypeError):
        return None


def _refused_per_operation(failure, case, response):
    """A non-atomic batch whose invalid operations were refused in their
    own results, as the contract says."""
    body = _body(case)
    if failure.code != "ST201" or body.get("atomic") is not False or response.status_code != 200:
        return False
    paths = [line for line in failure.message.splitlines() if "violates" in line]
    if not paths or not all("/properties/operations/items/" in line for line in paths):
        return False
    try:
        results = response.json()["results"]
    except (ValueError, KeyError, TypeError):
        return False
    return any(result.get("status") == 422 for result in results)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    return not (
        _explained_by_trimming(failure, case, response)
        or _refused_per_operation(failure, case, response)
    )
