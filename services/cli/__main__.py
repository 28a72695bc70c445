"""`python -m services.cli`: what the supervisor and `tessera up` start their children with."""

from services.cli import main

main()
