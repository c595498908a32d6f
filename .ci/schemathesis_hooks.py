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
"""

import schemathesis

# What the service trims: Rust's `char::is_whitespace` (Unicode White_Space).
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
TITLE_MAX_CHARS = 200


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
    return False


def _refused_fields(response):
    """The fields a 422 problem names, or None."""
    if response.status_code != 422:
        return None
    try:
        return [error["field"] for error in response.json()["errors"]]
    except (ValueError, KeyError, TypeError):
        return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    return not _explained_by_trimming(failure, case, response)
