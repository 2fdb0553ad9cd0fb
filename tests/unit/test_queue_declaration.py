"""Two replicas declaring one new quorum queue at once: the second hears "home node ... is down
or inaccessible" while the first one's queue starts (seen in CI), and tries again."""

import amqp.exceptions
import pytest

from kit import queues

RACE = (
    "NOT_FOUND - home node 'rabbit@localhost' of durable queue 'x.retry.30s' is down or"
    " inaccessible"
)


class Channel:
    def __init__(self, log):
        self.log = log
        self.closed = False

    def close(self):
        self.closed = True
        self.log.append("closed")


class Connection:
    def __init__(self):
        self.log = []
        self.channels = []

    def channel(self):
        channel = Channel(self.log)
        self.channels.append(channel)
        return channel


def declaring(failures):
    calls = []

    def declare(channel):
        calls.append(channel)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]

    return declare, calls


def test_a_declaration_that_raced_another_is_tried_again_on_a_new_channel():
    connection = Connection()
    declare, calls = declaring([amqp.exceptions.NotFound(RACE), amqp.exceptions.NotFound(RACE)])
    queues.declare_settled(connection, declare, pause=0)
    assert len(calls) == 3 and len({id(c) for c in calls}) == 3
    assert all(channel.closed for channel in connection.channels)


def test_another_not_found_is_raised_at_once():
    connection = Connection()
    declare, calls = declaring([amqp.exceptions.NotFound("NOT_FOUND - no exchange 'x'")])
    with pytest.raises(amqp.exceptions.NotFound, match="no exchange"):
        queues.declare_settled(connection, declare, pause=0)
    assert len(calls) == 1


def test_a_race_that_does_not_settle_is_raised_after_the_last_try():
    connection = Connection()
    declare, calls = declaring([amqp.exceptions.NotFound(RACE)] * queues.DECLARE_TRIES)
    with pytest.raises(amqp.exceptions.NotFound, match="down or inaccessible"):
        queues.declare_settled(connection, declare, pause=0)
    assert len(calls) == queues.DECLARE_TRIES
