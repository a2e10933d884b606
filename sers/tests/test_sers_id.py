import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sers.sers_id import InvalidSersId, format_sers_id, parse_sers_id, random_sers_id

CANONICAL = re.compile(r"^TP3-[0-9]{2}-[0-9]{4}$")
numbers = st.integers(min_value=0, max_value=999_999)
separators = st.sampled_from(["", " ", "-", " - ", ".", "  ", "_", "/"])


@pytest.mark.parametrize(
    "typed", ["tp3 07 4412", "TP3074412", "tp3-07-4412", " TP3-07-4412 ", "07-4412"]
)
def test_the_forms_people_type_all_mean_one_id(typed):
    assert parse_sers_id(typed) == "TP3-07-4412"


@pytest.mark.parametrize(
    "typed", ["", "TP3-07-441", "TP4-07-4412", "TP3-07-44123", "hello", "TP3-O7-4412"]
)
def test_anything_else_is_refused_with_a_message_saying_what_to_type(typed):
    with pytest.raises(InvalidSersId, match="Enter a SERS ID like TP3-07-4412"):
        parse_sers_id(typed)


@given(numbers)
def test_every_id_has_the_tp3_nn_nnnn_shape(number):
    assert CANONICAL.match(format_sers_id(number))


@given(numbers, separators, separators, st.booleans())
def test_any_spacing_and_case_parses_back_to_the_same_id(number, first_gap, second_gap, lower):
    canonical = format_sers_id(number)
    _, middle, last = canonical.split("-")
    typed = f"TP3{first_gap}{middle}{second_gap}{last}"
    if lower:
        typed = typed.lower()

    assert parse_sers_id(typed) == canonical


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_parsing_never_crashes_and_only_returns_canonical_ids(typed):
    try:
        parsed = parse_sers_id(typed)
    except InvalidSersId:
        return
    assert CANONICAL.match(parsed)


def test_generated_ids_are_random_not_sequential():
    ids = [random_sers_id() for _ in range(200)]

    assert all(CANONICAL.match(sers_id) for sers_id in ids)
    assert len(set(ids)) > 190
    numbers_in_order = [int(sers_id.replace("TP3-", "").replace("-", "")) for sers_id in ids]
    assert numbers_in_order != sorted(numbers_in_order)
