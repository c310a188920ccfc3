"""`python -m stackfixtures._launcher`."""

from .._startup import hold

hold()  # (until the first spawn: _startup.py)

from .entry import main  # noqa: E402  (after the hold: its imports are the start's)

main()
