"""`python -m stackfixtures.control.launcher`."""

from . import main

main()
