"""IdentityIssuer: signed anonymous tokens, one-way pseudonyms, logins first, admins by name."""

from __future__ import annotations

import os
import stat

import pytest

from core.identity import KEY_FILENAME, IdentityIssuer, load_or_create_key


@pytest.fixture
def issuer(tmp_path) -> IdentityIssuer:
    return IdentityIssuer(load_or_create_key(tmp_path), admins=["root", " alice "])


def test_key_is_created_once_private_and_reused(tmp_path):
    key = load_or_create_key(tmp_path)
    assert len(key) == 32 and load_or_create_key(tmp_path) == key
    assert stat.S_IMODE(os.stat(tmp_path / KEY_FILENAME).st_mode) == 0o600
    (tmp_path / KEY_FILENAME).write_bytes(b"short")
    with pytest.raises(ValueError, match="is damaged"):
        load_or_create_key(tmp_path)


def test_a_token_gives_the_same_pseudonym_across_restarts(tmp_path, issuer):
    token = issuer.issue_token()
    user = issuer.pseudonym(token)
    assert user.startswith("anon:") and len(user) == len("anon:") + 12
    restarted = IdentityIssuer(load_or_create_key(tmp_path))
    assert restarted.pseudonym(token) == user
    assert issuer.identify(token=token).user == user


def test_tokens_are_unique_and_pseudonyms_reveal_nothing(issuer):
    tokens = {issuer.issue_token() for _ in range(200)}
    users = {issuer.pseudonym(t) for t in tokens}
    assert len(tokens) == len(users) == 200
    for token in list(tokens)[:5]:
        user = issuer.pseudonym(token)
        assert user[5:] not in token  # the displayed id is not part of the secret


@pytest.mark.parametrize("forged", [
    "", "anon:0123456789ab", "0123456789ab", "abc.def", "a" * 24 + "." + "b" * 22, "x" * 500, "..", None, 42,
])
def test_forged_tokens_are_refused(issuer, forged):
    assert not issuer.is_valid(forged)
    if forged:
        with pytest.raises(ValueError, match="not issued by this server"):
            issuer.identify(token=forged if isinstance(forged, str) else str(forged))


def test_a_token_from_another_server_or_tampered_is_refused(tmp_path, issuer):
    other = IdentityIssuer(load_or_create_key(tmp_path / "other"))
    token = other.issue_token()
    assert other.is_valid(token) and not issuer.is_valid(token)
    mine = issuer.issue_token()
    nonce, mac = mine.split(".")
    flipped = ("A" if nonce[0] != "A" else "B") + nonce[1:]
    assert not issuer.is_valid(f"{flipped}.{mac}")


def test_logins_come_first_and_admins_are_named(issuer):
    token = issuer.issue_token()
    assert issuer.identify(hf_username="root", token=token).user == "hf:root"
    assert issuer.identify(hf_username="root").is_admin
    assert issuer.identify(auth_username="alice").is_admin and issuer.identify(auth_username="alice").user == "auth:alice"
    assert not issuer.identify(auth_username="bob").is_admin
    assert not issuer.identify(token=token).is_admin  # an anonymous user is never an admin


def test_no_token_is_an_error_unless_asked_to_issue(issuer):
    with pytest.raises(ValueError, match="no identity"):
        issuer.identify()
    fresh = issuer.identify(issue=True)
    assert fresh.token and issuer.pseudonym(fresh.token) == fresh.user
    assert issuer.identify(issue=True).user != fresh.user


def test_browser_state_secret_is_stable_per_key(tmp_path, issuer):
    assert issuer.browser_state_secret() == IdentityIssuer(load_or_create_key(tmp_path)).browser_state_secret()
    assert issuer.browser_state_secret() != IdentityIssuer(b"k" * 32).browser_state_secret()


def test_a_reply_never_echoes_a_token_the_server_did_not_issue(tmp_path, issuer):
    """A logged-in caller's token is not checked on the way in (the login identifies them), so the reply
    must not send back whatever string they wrote."""
    from core.identity import Identity
    from ui.common import token_for_reply

    class Studio:
        identities = issuer

    valid = issuer.issue_token()
    logged_in = issuer.identify(auth_username="bob", token="<script>forged</script>")
    assert token_for_reply(Studio, logged_in, "<script>forged</script>") is None
    assert token_for_reply(Studio, logged_in, valid) == valid
    other_server = IdentityIssuer(load_or_create_key(tmp_path / "other")).issue_token()
    assert token_for_reply(Studio, logged_in, other_server) is None
    fresh = issuer.identify(issue=True)
    assert token_for_reply(Studio, fresh, "") == fresh.token and issuer.is_valid(fresh.token)
    assert token_for_reply(Studio, Identity("anon:x"), None) is None
