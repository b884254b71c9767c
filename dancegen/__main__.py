"""`python -m dancegen`."""

from dancegen.console import exit_quietly_on_signals_while_starting

exit_quietly_on_signals_while_starting()

from dancegen.cli import main  # noqa: E402  (after the handlers: importing takes a while)

main()
