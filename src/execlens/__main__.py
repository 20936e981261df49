"""Allow `python -m execlens`."""

from execlens.cli import main

main()
