"""The gateway's read cache: expiry, size, and no stale copy put back after a change."""

import pytest

from gateway.readcache import ReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_a_kept_value_is_served_until_its_time_to_live_passes(clock):
    cache = ReadCache("t", ttl=30, clock=clock)
    assert cache.get("p1") is None
    assert cache.put("p1", "v1", cache.ticket())
    clock.now += 29.9
    assert cache.get("p1") == "v1"
    clock.now += 0.2
    assert cache.get("p1") is None
    assert len(cache) == 0


def test_forget_drops_the_copy(clock):
    cache = ReadCache("t", clock=clock)
    cache.put("p1", "v1", cache.ticket())
    cache.put("p2", "v2", cache.ticket())
    cache.forget("p1")
    assert cache.get("p1") is None
    assert cache.get("p2") == "v2"


def test_a_read_that_began_before_a_change_does_not_put_its_old_copy_back(clock):
    cache = ReadCache("t", clock=clock)
    ticket = cache.ticket()  # a read asks the service...
    cache.forget("p1")  # ...the project changes meanwhile (the notice arrives first)...
    assert not cache.put("p1", "old", ticket)  # ...so what it read may be old: not kept
    assert cache.get("p1") is None
    # a change to another project does not stop it
    ticket = cache.ticket()
    cache.forget("p2")
    assert cache.put("p1", "fresh", ticket)
    assert cache.get("p1") == "fresh"


def test_a_read_that_began_after_the_change_is_kept(clock):
    cache = ReadCache("t", clock=clock)
    cache.forget("p1")
    assert cache.put("p1", "new", cache.ticket())
    assert cache.get("p1") == "new"


def test_clear_refuses_every_read_begun_before_it(clock):
    cache = ReadCache("t", clock=clock)
    cache.put("p1", "v1", cache.ticket())
    ticket = cache.ticket()
    cache.clear()
    assert cache.get("p1") is None
    assert not cache.put("p2", "old", ticket)
    assert cache.put("p2", "new", cache.ticket())


def test_the_least_recently_used_goes_first_past_the_size(clock):
    cache = ReadCache("t", size=2, clock=clock)
    cache.put("a", 1, cache.ticket())
    cache.put("b", 2, cache.ticket())
    assert cache.get("a") == 1  # b is now the least recently used
    cache.put("c", 3, cache.ticket())
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_forgetting_more_keys_than_it_remembers_stays_on_the_safe_side(clock):
    cache = ReadCache("t", size=2, clock=clock)
    ticket = cache.ticket()
    for key in ("a", "b", "c"):  # the record of "a" is dropped to keep two
        cache.forget(key)
    assert not cache.put("a", "old", ticket)  # still refused: it may have changed
    assert cache.put("a", "new", cache.ticket())


def test_a_time_to_live_of_zero_caches_nothing(clock):
    cache = ReadCache("t", ttl=0, clock=clock)
    assert not cache.put("p1", "v1", cache.ticket())
    assert cache.get("p1") is None
