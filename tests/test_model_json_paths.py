"""Error paths from the cached JSON readers: each part of the path is added on the way out."""

from __future__ import annotations

import pytest

from gateway.model import Quantity
from gateway.model.json import CanonicalJSONError, from_json, record_from_json, to_json
from gateway.model.samples import example_invoice


def test_a_caller_given_path_prefixes_the_fault() -> None:
    with pytest.raises(CanonicalJSONError) as caught:
        record_from_json(Quantity, {"value": 1.5, "unit_code": "EA"}, "lines[3].quantity")
    assert caught.value.path == "lines[3].quantity.value"
    with pytest.raises(CanonicalJSONError) as caught:
        record_from_json(Quantity, [], "lines[3].quantity")
    assert str(caught.value) == "lines[3].quantity: expected a JSON object, got []"
    with pytest.raises(CanonicalJSONError) as caught:
        record_from_json(Quantity, [])
    assert str(caught.value) == "(root): expected a JSON object, got []"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["lines"][1]["item"].update(name=7),
     "lines[1].item.name: expected a string, got 7"),
    (lambda d: d["lines"][0].update(vat_category="Q"),
     "lines[0].vat_category: expected one of"),
    (lambda d: d["attachments"][0].update(content="@@"),
     "attachments[0].content: expected base64 text"),
    (lambda d: d.update(issue_date="2024-3-1"),
     "issue_date: expected a date YYYY-MM-DD, got '2024-3-1'"),
    (lambda d: d["lines"].append([]), "lines[3]: expected a JSON object, got []"),
])
def test_faults_at_every_depth_name_their_path(change: object, message: str) -> None:
    data = to_json(example_invoice())
    assert callable(change)
    change(data)
    with pytest.raises(CanonicalJSONError) as caught:
        from_json(data)
    assert str(caught.value).startswith(message), str(caught.value)
