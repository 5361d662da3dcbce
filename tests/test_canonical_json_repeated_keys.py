"""A key written twice in one object is refused, however the JSON is laid out.

``parse_json`` reads with the fast parser and finds a repeat by counting the
strings of the text against those read; text the count cannot judge (an
escaped quote) is read again key by key. Each layout here takes one of those
paths, and a repeat must be named on every one of them, at any depth, whatever
the value it replaced.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gateway.model.json import CanonicalJSONError, parse_json, to_json
from gateway.model.samples import example_invoice

LAYOUTS: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":")},
    "python default": {},
    "pretty": {"indent": 2},
    "spaced colons": {"separators": (" , ", " : ")},
    "tabs": {"indent": "\t"},
}


def invoice() -> dict[str, Any]:
    return to_json(example_invoice())


def with_repeat(text: str, key: str, value: str, start: int = 0) -> str:
    """``text`` with ``"key": value`` written right before the first ``key`` from ``start`` on,
    so in the same object and read first: the value lost is the one written here."""
    at = text.index(f'"{key}"', start)
    return f'{text[:at]}"{key}": {value}, {text[at:]}'


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize(("key", "value"), [
    ("number", '"other"'),            # a string replaced by a string
    ("schema_version", '"1"'),        # a number replaced: the text has two strings more
    ("name", "17"),                   # a string replaced by a number: one string more
    ("lines", "[]"),                  # a list replaced
    ("seller", '{"name": "x"}'),      # an object replaced by a smaller one
])
def test_a_repeated_key_is_refused_in_every_layout(layout: str, key: str, value: str) -> None:
    text = with_repeat(json.dumps(invoice(), **LAYOUTS[layout]), key, value)
    with pytest.raises(CanonicalJSONError, match=f"duplicate key '{key}'"):
        parse_json(text)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_document_without_repeats_reads_as_json_loads_reads_it(layout: str) -> None:
    data = invoice()
    data["notes"] = ['He said "deliver at the back" \\ gate 2', 'x": 1, "y": 2', "{\"a\": 1}"]
    text = json.dumps(data, **LAYOUTS[layout])
    assert parse_json(text) == json.loads(text)


def test_a_repeat_next_to_an_escaped_quote_is_refused() -> None:
    data = invoice()
    data["notes"] = ['a "quoted" note']
    text = with_repeat(json.dumps(data), "number", '"other"')
    with pytest.raises(CanonicalJSONError, match="duplicate key 'number'"):
        parse_json(text)


def test_keys_that_end_in_a_backslash_or_hold_quotes_are_counted_right() -> None:
    assert parse_json('{"a\\\\": 1, "a": 2}') == {"a\\": 1, "a": 2}
    assert parse_json('{"a\\"": "b", "a": "\\""}') == {'a"': "b", "a": '"'}
    with pytest.raises(CanonicalJSONError, match=r"duplicate key 'a\\\\'"):
        parse_json('{"a\\\\": 1, "a\\\\": 2}')
    with pytest.raises(CanonicalJSONError, match="duplicate key 'a\"'"):
        parse_json('{"a\\"": "b", "a\\"": "c"}')


def test_a_repeat_whose_loss_a_longer_string_elsewhere_would_hide_is_still_found() -> None:
    # Two objects: one with a repeated key, one untouched; the count is over the whole text.
    text = '[{"a": "1", "a": "2"}, {"b": ["x", "y"]}]'
    with pytest.raises(CanonicalJSONError, match="duplicate key 'a'"):
        parse_json(text)


def test_random_repeats_deep_in_random_documents_are_all_found() -> None:
    chooser = random.Random(20261130)

    def value(depth: int) -> Any:
        pick = chooser.randrange(6 if depth < 4 else 3)
        if pick == 0:
            return chooser.choice(["text", 'a "q"', "", "x\\y"])
        if pick == 1:
            return chooser.randrange(1000)
        if pick == 2:
            return None
        if pick == 3:
            return [value(depth + 1) for _ in range(chooser.randrange(4))]
        return {f"k{n}": value(depth + 1) for n in range(chooser.randrange(1, 5))}

    found = 0
    for _ in range(300):
        document = {f"k{n}": value(0) for n in range(1, 6)}
        text = json.dumps(document, **LAYOUTS[chooser.choice(sorted(LAYOUTS))])
        assert parse_json(text) == document
        # Write a key of some object in it a second time, with any value.
        keys = [n for n in range(len(text)) if text.startswith('"k', n)
                and text[n + 2:n + 3].isdigit()]
        at = chooser.choice(keys)
        key = text[at + 1:text.index('"', at + 1)]
        repeated = with_repeat(text, key, json.dumps(value(3)), start=at)
        with pytest.raises(CanonicalJSONError, match="duplicate key"):
            parse_json(repeated)
        found += 1
    assert found == 300
