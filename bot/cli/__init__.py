"""`policybot`: the command line, one module per audience.

- `bot.cli.asking`: ask and eval (staff, and whoever tunes the answers);
- `bot.cli.knowledge`: kb validate, kb compare, kb import (HR, who keep the knowledge base), and
  `bot.cli.suggest`: kb suggest;
- `bot.cli.operations`: serve, db upgrade, purge, report (whoever runs the server).

The root group reads the settings from the environment once (`bot.cli.common.settings`) and every command
takes them from the click context. Each command is a thin wrapper over a library function, and imports what it
needs when it runs, so that `policybot ask` starts without the database, Slack or Teams libraries.
"""

from __future__ import annotations

import click

from bot.cli import asking, knowledge, operations
from bot.cli.common import OWN_PROCESS, knowledge_option, settings


@click.group()
@knowledge_option()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Policy Assistant: answers staff questions about their school's social media policy."""
    config = settings(ctx)
    # serve's --host and --port default to the settings (POLICYBOT_HOST, POLICYBOT_PORT): click looks an
    # option's default up in the context's default_map before the option's own.
    ctx.default_map = {**(ctx.default_map or {}), "serve": {"host": config.host, "port": config.port}}


for command in (
    asking.ask,
    asking.eval_command,
    knowledge.kb,
    operations.serve,
    operations.db,
    operations.purge,
    operations.report,
):
    cli.add_command(command)

serve = operations.serve  # tests/deploy reads its --port default from here


def main() -> None:
    cli(obj={OWN_PROCESS: True})


__all__ = ["cli", "main"]
