"""`python -m stackfixtures.cli`: what `stack up` starts detached."""

from . import main

main()
