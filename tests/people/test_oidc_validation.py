"""ID token validation, the flow cookie and the mapping to a user (``core/oidc*.py``).

The keys come from the test provider's JWKS over HTTP on 127.0.0.1; the tokens are
signed here, so each check can be broken on its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from lablink.core.lab import Lab
from lablink.core.oidc import OidcClient
from lablink.core.oidc_config import Flow, OidcConfig, load_config
from lablink.core.oidc_signin import identity_of
from lablink.errors import InvalidInput, Unauthorized
from oidc_provider import CLIENT_ID, CLIENT_SECRET, KID, Person, Provider

NONCE = "n-0123456789"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    idp = Provider(Person("sub-ana", "ana@lab.org")).start()
    yield idp
    idp.stop()


@pytest.fixture
def client(provider: Provider) -> OidcClient:
    return OidcClient(OidcConfig(provider.url, CLIENT_ID, CLIENT_SECRET, "Test"))


def claims(provider: Provider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": provider.url,
        "aud": CLIENT_ID,
        "sub": "sub-ana",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "email": "ana@lab.org",
        "email_verified": True,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(provider: Provider, key: Any = None, alg: str = "RS256", **changes: Any) -> str:
    header = {"alg": alg, "kid": KID}
    return jwt.encode(header, claims(provider, **changes), key or provider.key, [alg])


def test_a_good_token_gives_its_claims(client: OidcClient, provider: Provider) -> None:
    found = client.validate(signed(provider), NONCE)
    assert found["email"] == "ana@lab.org"
    assert client.validate(signed(provider, aud=[CLIENT_ID]), NONCE)["sub"] == "sub-ana"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aud": "someone-else"}, r"meant for another client \(aud\)"),
        ({"aud": [CLIENT_ID, "other"]}, r"\(azp\)"),  # several audiences need azp = us
        ({"iss": "http://127.0.0.1:1"}, r"issued by another provider \(iss\)"),
        ({"exp": 1_000_000_000}, r"expired \(exp\)"),
        ({"nonce": "another"}, r"not the answer to this sign-in \(nonce\)"),
        ({"nonce": None}, r"nonce"),
        ({"sub": None}, r"sub"),
        ({"iat": int(time.time()) + 3600}, r"issued in the future \(iat\)"),
    ],
)
def test_each_claim_is_checked(
    client: OidcClient, provider: Provider, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(Unauthorized, match=message):
        client.validate(signed(provider, **changes), NONCE)


def test_the_signature_must_verify_with_the_providers_keys(
    client: OidcClient, provider: Provider
) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": KID})
    with pytest.raises(Unauthorized, match="signature does not verify"):
        client.validate(signed(provider, key=stranger), NONCE)
    secret = OctKey.import_key(CLIENT_SECRET.encode() * 2)
    with pytest.raises(Unauthorized, match="signed with 'HS256', not a key pair"):
        client.validate(signed(provider, key=secret, alg="HS256"), NONCE)
    parts = signed(provider).split(".")
    with pytest.raises(Unauthorized, match="signature does not verify"):
        client.validate(parts[0] + "." + parts[1] + ".AAAA", NONCE)
    with pytest.raises(Unauthorized, match="does not parse"):
        client.validate("not a token", NONCE)


def test_a_rotated_key_is_fetched_again(client: OidcClient, provider: Provider) -> None:
    client.validate(signed(provider), NONCE)  # the keys are now cached
    old = provider.key
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-2"})
    try:
        token = jwt.encode(
            {"alg": "RS256", "kid": "test-key-2"}, claims(provider), provider.key, ["RS256"]
        )
        assert client.validate(token, NONCE)["sub"] == "sub-ana"
    finally:
        provider.key = old


def test_the_flow_cookie_is_sealed_and_short_lived(provider: Provider) -> None:
    now = [1_800_000_000.0]
    client = OidcClient(
        OidcConfig(provider.url, CLIENT_ID, CLIENT_SECRET, "Test"), clock=lambda: now[0]
    )
    cookie = client.seal(Flow("s", "n", "v", "/me", now[0]))
    assert client.unseal(cookie).next == "/me"
    body, _, mac = cookie.partition(".")
    with pytest.raises(Unauthorized, match="not made by this server"):
        client.unseal(body[:-2] + "AA." + mac)
    other = OidcClient(OidcConfig(provider.url, CLIENT_ID, "another secret", "Test"))
    with pytest.raises(Unauthorized, match="not made by this server"):
        other.unseal(cookie)
    with pytest.raises(Unauthorized, match="started no single sign-on"):
        client.unseal(None)
    now[0] += 601
    with pytest.raises(Unauthorized, match="took too long"):
        client.unseal(cookie)


def test_the_configuration_is_checked(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    found = load_config("https://login.lab.org/realms/lab", "lablink", str(secret))
    assert found is not None
    assert (found.client_secret, found.name) == ("s3cret", "login.lab.org")
    assert load_config(None, None, None) is None
    with pytest.raises(InvalidInput, match="no issuer"):
        load_config(None, "lablink", None)
    with pytest.raises(InvalidInput, match="needs --oidc-client-id"):
        load_config("https://login.lab.org", None, str(secret))
    with pytest.raises(InvalidInput, match="cannot read --oidc-client-secret-file"):
        load_config("https://login.lab.org", "lablink", str(tmp_path / "missing"))
    with pytest.raises(InvalidInput, match="is not an http"):
        load_config("login.lab.org", "lablink", str(secret))
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(InvalidInput, match="client secret is empty"):
        load_config("https://login.lab.org", "lablink", str(tmp_path / "empty"))


def test_the_user_is_the_one_with_the_verified_address(lab: Lab, client: OidcClient) -> None:
    people = lab.people
    people.add_user("root", "ana", "Ana@Lab.org")
    people.add_user("root", "ci", "ci@lab.org", service=True)
    verified = {"sub": "x", "email": "ana@lab.ORG", "email_verified": True}
    assert identity_of(people, client, verified).user == "ana"
    with pytest.raises(Unauthorized, match="has not verified"):
        identity_of(people, client, {**verified, "email_verified": "true"})
    with pytest.raises(Unauthorized, match="sent no e-mail address"):
        identity_of(people, client, {"sub": "x"})
    with pytest.raises(Unauthorized, match="is a service account"):
        identity_of(people, client, {**verified, "email": "ci@lab.org"})
    people.add_user("root", "ana2", "ana@lab.org")
    with pytest.raises(Unauthorized, match=r"several lablink users .* \(ana, ana2\)"):
        identity_of(people, client, verified)
