"""`python -m stackfixtures.launcher`."""

from .entry import main

main()
