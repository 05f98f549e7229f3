"""Undoing an import run (``contacts-pipeline runs revert``): pure planning in :mod:`.plan`, the API
calls in :mod:`.execute`, the journal and the CSV in :mod:`.job`."""
