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
  which for an update depends on what is stored.
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
    if field == "due_date":
        return _out_of_range_date(body.get("due_date"))
    if field in ("due_before", "due_after"):
        return _out_of_range_instant(query.get(field))
    return False


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
