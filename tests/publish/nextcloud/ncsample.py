"""Shared by the address-book and export tests (imported by their conftest and by them): two emulated Nextclouds (no wiki) on a clock the tests move,
a config naming them, a store, and the facts of a real commune for the sample actors."""

from __future__ import annotations

import pytest

from oscartes_sync import geo
from oscartes_sync.sandbox.nextcloud_emulator import ManualClock
from oscartes_sync.sandbox.sandbox import start_sandbox
from oscartes_sync.store import Store

CLOUDS = ("polesnoe-cloud", "tel-cloud")


def commune_fields(name: str = "Les Ulis") -> dict:
    """Postcode, INSEE code and point of a commune, from the packaged reference data (never typed by hand)."""
    c = geo.commune_by_name(name)
    return {"commune": c.name, "postcode": c.postcodes[0], "insee": c.insee, "latitude": c.lat, "longitude": c.lon}


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def sandbox(clock):
    with start_sandbox(names=(), nextclouds=CLOUDS, nextcloud_clock=clock) as sb:
        yield sb


@pytest.fixture
def cfg(sandbox, tmp_path):
    return sandbox.config(store_url=f"sqlite:///{tmp_path / 'store.db'}", lock=str(tmp_path / "lock"))


@pytest.fixture
def store(cfg):
    s = Store(cfg.store_url())
    yield s
    s.close()
