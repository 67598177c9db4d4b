"""The fixtures of ncsample.py: two emulated Nextclouds on a movable clock, their config and a store."""

from ncsample import cfg, clock, sandbox, store  # noqa: F401 - fixtures
