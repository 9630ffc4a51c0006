"""The connection commands' scripted exchanges (connection_scenarios.py) against the target:
tiercache-l2, and redis-server 7.0 as the reference (TIERCACHE_TEST_TARGET=redis), so that each
expected reply is checked against redis-server itself. The sidecar plays the same scenarios in
sidecar/test_connection_commands_sidecar.py."""

import pytest

import connection_scenarios as cs


@pytest.mark.parametrize("name", sorted(cs.SCENARIOS))
def test_scenario(server_factory, name):
    flags, steps = cs.SCENARIOS[name]
    cs.play(server_factory(**flags).raw(), steps)


@pytest.mark.parametrize("name", sorted(cs.COMMAND_FLAGS))
def test_command_info_flags(raw, name):
    """COMMAND INFO's flags of the connection and transaction commands are Redis 7.0's (the
    ones the table models): QUIT is noscript, no command here is no_multi, WATCH's keys are
    1 -1 1."""
    [entry] = raw.cmd("COMMAND", "INFO", name)
    assert cs.flags_of(entry) == cs.COMMAND_FLAGS[name], entry
    if name == "watch":
        assert entry[3:6] == [1, -1, 1], entry


def test_client_list_shows_each_clients_last_command(server):
    """CLIENT LIST's cmd= is the client's last request's command, as redis-server shows it."""
    requests = [req for req, _ in cs.LAST_COMMANDS]
    assert cs.last_commands(server.raw(), server.raw(), requests) == \
        [shown for _, shown in cs.LAST_COMMANDS]
