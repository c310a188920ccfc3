"""`python -m stackfixtures.control.launcher`."""

from .entry import main

main()
