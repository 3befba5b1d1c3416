"""Tests of flowscope.datastore: logs, artifacts, cards and their safety."""
