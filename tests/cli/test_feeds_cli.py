"""``exec-assistant feeds``: add, list, remove — the secret address is never printed back."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_cli_feeds_add_list_remove_never_print_the_address(cli: Cli) -> None:
    cli("users", "add", "usr-ceo", "--name", "Ada", "--timezone", "Europe/London")
    secret = "https://calendar.example.com/calendar/ical/secret-token-9f8e/basic.ics"
    added = cli("feeds", "add", secret, "--user", "usr-ceo")
    assert added.exit_code == 0, added.output
    assert "secret-token-9f8e" not in added.output
    listed = cli("feeds", "list", "--json")
    assert "secret-token-9f8e" not in listed.output
    assert '"source": "https://calendar.example.com/' in listed.output
    feed_id = added.output.split()[1]
    assert cli("feeds", "remove", feed_id).exit_code == 0
    assert cli("feeds", "remove", feed_id).exit_code != 0
