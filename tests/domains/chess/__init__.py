"""Tests of domains/chess."""
