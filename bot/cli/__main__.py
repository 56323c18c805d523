"""`python -m bot.cli`: the same as the installed `policybot` command."""

from bot.cli import main

main()
