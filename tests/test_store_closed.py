"""Using a closed store is a StoreError on both backends."""

from __future__ import annotations

import pytest

from gateway.store import StoreError, open_store


async def test_reading_a_closed_store_is_a_store_error(store_url: str) -> None:
    store = open_store(store_url)
    await store.migrate()
    await store.close()
    with pytest.raises(StoreError):
        await store.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(StoreError):
        await store.events("01ARZ3NDEKTSV4RRFFQ69G5FAV")
