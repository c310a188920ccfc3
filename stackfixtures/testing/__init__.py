"""Helpers of the pytest front door: where the stack runs for a session, and what reports show."""
