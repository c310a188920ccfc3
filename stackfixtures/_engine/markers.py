"""The environment markers every process a stack starts carries: how leftovers are found."""

from __future__ import annotations

STACK_ENV = "STACKFIXTURES_STACK"
"""Set in every process a stack starts: the stack's id. Leftovers are found by it."""
SERVICE_ENV = "STACKFIXTURES_SERVICE"
"""Set in every process a stack starts: the name of the service that started it."""
