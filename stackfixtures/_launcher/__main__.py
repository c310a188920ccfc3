"""`python -m stackfixtures._launcher`."""

from .entry import main

main()
