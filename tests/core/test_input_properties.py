"""Properties of the input parsers, checked over generated values (hypothesis).

Whatever arrives, each parser either returns a value of the promised kind or raises
its own clear error; nothing else escapes (no RecursionError, OverflowError, ...).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from remediation.errors import BadRequest
from remediation.jsonapi import MAX_PAGE_NUMBER, parse_filters, parse_page
from trustconsole.core.api.pagination import PagePagination
from trustconsole.lib import jsonbody
from trustconsole.lib.params import MAX_PARAMETER_LENGTH, parameter_problem
from trustconsole.lib.phones import PhoneNumberError, phone_normalise

# Deterministic in CI; the bound keeps the run short.
PROPERTY = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DEPTH = 32

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
scalars |= st.floats(allow_nan=False, allow_infinity=False)


def nested(max_leaves: int = 30) -> st.SearchStrategy:
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# --- JSON bodies -------------------------------------------------------------------


@PROPERTY
@given(nested())
def test_any_json_within_the_limits_reads_back_as_sent(value) -> None:
    raw = json.dumps(value).encode()
    if jsonbody.depth_of(value) <= DEPTH:
        assert jsonbody.parse(raw, depth=DEPTH, size=10**7) == value


@PROPERTY
@given(st.integers(min_value=DEPTH + 1, max_value=200_000), st.sampled_from("[{"))
def test_json_nested_beyond_the_limit_is_a_400_at_any_depth(depth, bracket) -> None:
    if bracket == "[":
        raw = "[" * depth + "]" * depth
    else:
        raw = '{"a":' * depth + "1" + "}" * depth
    with pytest.raises(jsonbody.JsonBodyError) as refused:
        jsonbody.parse(raw.encode(), depth=DEPTH, size=10**7)
    assert refused.value.status == 400
    assert f"deeper than {DEPTH} levels" in refused.value.reason


@PROPERTY
@given(st.integers(min_value=1, max_value=DEPTH))
def test_nesting_up_to_the_limit_is_accepted(depth) -> None:
    value = jsonbody.parse(("[" * depth + "]" * depth).encode(), depth=DEPTH)
    assert jsonbody.depth_of(value) == depth


@PROPERTY
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_parse_or_give_a_clear_error(raw) -> None:
    try:
        value = jsonbody.parse(raw, depth=DEPTH)
    except jsonbody.JsonBodyError as exc:
        assert exc.status == 400 and exc.reason
    else:
        assert jsonbody.depth_of(value) <= DEPTH
        # What is accepted can be written back as standard JSON.
        json.dumps(value, allow_nan=False)


@PROPERTY
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_only_finite_numbers_are_accepted(number) -> None:
    raw = json.dumps({"n": number}).encode()
    if math.isfinite(number):
        assert jsonbody.parse(raw)["n"] == number
    else:
        with pytest.raises(jsonbody.JsonBodyError):
            jsonbody.parse(raw)


@PROPERTY
@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=2, max_value=64))
def test_bodies_over_the_size_limit_are_a_413(extra, limit) -> None:
    raw = b'"' + b"x" * (limit + extra) + b'"'
    with pytest.raises(jsonbody.JsonBodyError) as refused:
        jsonbody.parse(raw, size=limit)
    assert refused.value.status == 413


# --- Query parameters --------------------------------------------------------------


@PROPERTY
@given(
    st.dictionaries(
        st.text(max_size=10),
        st.lists(st.text(max_size=40) | st.just("a\x00b"), min_size=1, max_size=3),
        max_size=5,
    )
)
def test_the_query_guard_flags_exactly_nul_bytes_and_overlong_values(params) -> None:
    query = QueryDict(mutable=True)
    for name, values in params.items():
        query.setlist(name, values)
    found = parameter_problem(query)
    bad = {
        name
        for name, values in params.items()
        if "\x00" in name
        or any("\x00" in v or len(v) > MAX_PARAMETER_LENGTH for v in values)
    }
    assert (found is not None) == bool(bad)


@pytest.mark.django_db
@PROPERTY
@given(st.text(max_size=30), st.sampled_from(["page", "page_size"]))
def test_page_parameters_are_a_whole_number_in_range_or_a_400(raw, name) -> None:
    drf_request = Request(APIRequestFactory().get("/", {name: raw}))
    pagination = PagePagination()
    try:
        if name == "page_size":
            value = pagination.get_page_size(drf_request)
            assert 1 <= value <= pagination.max_page_size
        else:
            value = pagination.get_page_number(drf_request, None)
            assert 1 <= value <= pagination.max_page
    except exceptions.ValidationError as exc:
        assert name in exc.detail
    else:
        assert str(value) == raw.strip()


@PROPERTY
@given(st.text(max_size=40))
def test_v2_page_numbers_are_bounded_or_refused(raw) -> None:
    try:
        page = parse_page({"page[number]": raw})
    except BadRequest as exc:
        assert exc.problems[0].parameter == "page[number]"
    else:
        assert 1 <= page.number <= MAX_PAGE_NUMBER
        assert page.offset < 2**63


timestamps = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)
).map(lambda d: d.isoformat())
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
)


@PROPERTY
@given(
    st.text(max_size=40)
    | timestamps
    | st.tuples(timestamps, offsets).map("".join)
    | st.just("4555-11-19T14:30:14-18:09")
)
def test_v2_timestamp_filters_are_utc_or_refused(raw) -> None:
    try:
        filters = parse_filters({"filter[created_at][lte]": raw})
    except BadRequest as exc:
        assert exc.problems[0].parameter == "filter[created_at][lte]"
    else:
        value = filters.created_lte
        assert value is None or value.utcoffset() == dt.timedelta(0)


# --- Phone numbers -----------------------------------------------------------------


@PROPERTY
@given(
    st.text(max_size=30)
    | st.from_regex(re.compile(r"\+?[0-9 ()\-]{1,20}"), fullmatch=True)
)
def test_phone_numbers_normalise_to_e164_or_give_a_reason(raw) -> None:
    try:
        e164 = phone_normalise(raw, region="US")
    except PhoneNumberError as exc:
        assert exc.reason
    else:
        assert re.fullmatch(r"\+[1-9][0-9]{6,14}", e164)
        assert phone_normalise(e164) == e164
