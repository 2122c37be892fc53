"""Tests of domains/qa."""
