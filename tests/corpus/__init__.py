"""Damaged datastores for the bad-input tests (issue 12), made from real fixture runs."""
