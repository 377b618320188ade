"""Campaigns cannot be grabbed, on the live app through gradio_client (issue 25, point 2).

Every call here comes from 127.0.0.1, so the creator, the invited annotator and the attacker share one
address: the hardest case for a per-address limit. The live app mints freely for the other tests; these
put the default limiter in place for themselves.
"""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from core.identity import MintLimiter

PAIRS = [(f"Вопрос номер {i}?", f"Ответ номер {i}.") for i in range(1, 6)]  # 5 items x overlap 2 = 10 slots


def error_of(call) -> str:
    with pytest.raises(AppError) as caught:
        call()
    return str(caught.value)


@pytest.fixture
def default_mint_limit(live_app):
    """The app's default limit on new anonymous identities, fresh, for one test; the generous one after."""
    issuer = live_app.studio.identities
    generous = issuer.mint_limiter
    issuer.mint_limiter = MintLimiter()
    yield issuer.mint_limiter
    issuer.mint_limiter = generous


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("query,passage\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS), encoding="utf-8")
    return path


def create(client: Client, path, token: str = "") -> dict:
    return client.predict(file=handle_file(str(path)), judgment="relevance", overlap=2, token=token,
                          api_name="/create_campaign")


def test_20_tokenless_next_item_calls_from_one_address_leave_items_for_the_creator_and_an_invited_annotator(
        live_app, pairs_file, default_mint_limit):
    creator, invited, attacker = (Client(live_app.url, verbose=False) for _ in range(3))
    made = create(creator, pairs_file)
    cid, creator_token = made["campaign"], made["token"]
    first = invited.predict(cid, "", api_name="/next_item")  # the invitation: the id, and a new identity
    invited_token = first.pop("token")

    grabbed, refusals = [], []
    for _ in range(20):
        try:
            item = attacker.predict(cid, "", api_name="/next_item")
        except AppError as refused:
            refusals.append(str(refused))
            continue
        if item is not None:
            grabbed.append(item)
    # the address had minted 2 of its 5; the attacker got the other 3 identities, and one item each
    assert len(grabbed) == default_mint_limit.per_window - 2 and len(refusals) == 17
    assert all("reuse the token" in message for message in refusals)

    mine = creator.predict(cid, creator_token, api_name="/next_item")
    assert mine is not None and "token" not in mine
    answer = invited.predict(kind="relevant", anchor="", token=invited_token, campaign=cid,
                             item_id=first["item_id"], api_name="/flag")
    assert answer["token"] == invited_token
    again = invited.predict(cid, invited_token, api_name="/next_item")
    assert again is not None and again["item_id"] != first["item_id"]


def test_identities_minted_earlier_hold_at_most_the_address_share_of_a_campaign(live_app, pairs_file):
    creator, invited, attacker = (Client(live_app.url, verbose=False) for _ in range(3))
    made = create(creator, pairs_file)
    cid, creator_token = made["campaign"], made["token"]
    first = invited.predict(cid, "", api_name="/next_item")
    invited_token = first.pop("token")
    # identities the attacker's address collected over earlier hours (the live app mints freely here)
    hoard = [attacker.predict(kind="relevant", anchor="Что угодно", positive="Что-то ещё", token="", api_name="/flag")["token"]
             for _ in range(10)]
    share = live_app.studio.campaign_store().leases_per_address
    grabbed, refusals = 0, []
    for token in hoard:
        try:
            grabbed += attacker.predict(cid, token, api_name="/next_item") is not None
        except AppError as refused:
            refusals.append(str(refused))
    assert grabbed == share - 1  # the invited annotator holds one of the address's share
    assert refusals and all("the most one address gets at once" in message for message in refusals)
    assert creator.predict(cid, creator_token, api_name="/next_item") is not None  # the creator is not counted
    invited.predict(kind="relevant", anchor="", token=invited_token, campaign=cid, item_id=first["item_id"],
                    api_name="/flag")
    assert invited.predict(cid, invited_token, api_name="/next_item") is not None


def test_only_the_creator_ends_someones_leases(live_app, pairs_file):
    creator, invited, attacker = (Client(live_app.url, verbose=False) for _ in range(3))
    made = create(creator, pairs_file)
    cid, creator_token = made["campaign"], made["token"]
    item = invited.predict(cid, "", api_name="/next_item")
    # releasing nobody's items tells the creator who holds items now
    holders = creator.predict(cid, "anon:nobody", creator_token, api_name="/release_leases")["holders"]
    assert len(holders) == 1 and holders[0]["item_id"] == item["item_id"]
    invited_id = holders[0]["user"]

    attacker_token = attacker.predict(kind="relevant", anchor="Что угодно", positive="Что-то ещё", token="", api_name="/flag")["token"]
    for token in (attacker_token, item["token"], "", "forged.token"):
        message = error_of(lambda t=token: attacker.predict(cid, invited_id, t, api_name="/release_leases"))
        assert "only the campaign's creator and admins" in message or "not issued by this server" in message \
            or "no identity" in message
    assert creator.predict(cid, invited_id, creator_token, api_name="/release_leases") == {
        "released": 1, "user": invited_id, "holders": []}
    assert "name the annotator" in error_of(lambda: creator.predict(cid, " ", creator_token,
                                                                    api_name="/release_leases"))


def test_the_tabs_release_control_acts_for_the_creator_only(live_app, pairs_file):
    from core.identity import Identity
    from core.judgments import NotOwnerError
    from ui.annotate_tab import release_view

    creator = Client(live_app.url, verbose=False)
    made = create(creator, pairs_file)
    cid, creator_user = made["campaign"], made["user"]
    campaigns = live_app.studio.campaign_store()
    campaigns.next_item(cid, "anon:holder0000", address="192.0.2.1")
    with pytest.raises(NotOwnerError):
        release_view(live_app.studio, Identity("anon:attacker000"), cid, "anon:holder0000")
    assert [h["user"] for h in campaigns.lease_holders(cid, creator_user)] == ["anon:holder0000"]
    note = release_view(live_app.studio, Identity(creator_user), cid, " anon:holder0000 ")
    assert "Released 1 held item(s) of anon:holder0000" in note and "Holding items now: nobody" in note
    assert release_view(live_app.studio, Identity("auth:boss", is_admin=True), cid, "anon:holder0000").startswith(
        "Released 0")
