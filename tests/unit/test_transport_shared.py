"""Second review of issue 8, finding 6: a transport says whether it sees all the card's
traffic.  A PC/SC connection in shared mode does not (another process may select another
application between our transactions), so the card layer must not trust its selection from
one transaction to the next.  Old code: no ``sees_all_traffic`` / ``transaction_count``,
and the channel trusted a shared connection's selection across operations.
"""

from __future__ import annotations

from test_transport_pcsc import SHARING, FakeScard, make

from jukicard.card import CardChannel


def test_an_exclusive_pcsc_connection_sees_all_traffic() -> None:
    t, _api, _clock = make()
    assert t.share_mode == "exclusive" and t.sees_all_traffic is True
    assert CardChannel.of(t).tracks_traffic


def test_a_shared_pcsc_connection_does_not() -> None:
    """``share="auto"`` falls back to shared mode when another process holds the card."""
    api = FakeScard()
    api.script["connect"].append((SHARING, None, 0))
    t, _api, _clock = make(api)
    assert t.share_mode == "shared" and t.sees_all_traffic is False
    assert not CardChannel.of(t).tracks_traffic
    shared, _api, _clock = make(share="shared")
    assert shared.sees_all_traffic is False


def test_outermost_transactions_are_counted() -> None:
    t, _api, _clock = make()
    assert t.transaction_count == 0
    with t.transaction():
        with t.transaction():
            assert t.transaction_count == 1
    with t.transaction():
        assert t.transaction_count == 2
