"""Secrets found by detect-secrets are replaced in diffs, command lines and configs."""

from __future__ import annotations

import threading

import pytest

from lablink.sdk.redact import REDACTED, redact_argv, redact_config, redact_diff, redact_text

# Well-known example credentials (AWS's documented example key, a made-up GitHub token).
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + ("a1B2c3D4e5F6g7H8i9J0" * 2)[:36]
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
KEY_BODY = ["MIIEpAIBAAKCAQEA7bq98LNIGHTSECRETxyz", "q2hV3BODYLINETWOabcdefghij"]
PEM = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *KEY_BODY, "-----END RSA PRIVATE KEY-----"])


def test_argv_tokens_and_secret_flags() -> None:
    argv = ["python", "train.py", "--lr", "0.3", "--db-password", "hunter22"]
    argv += ["--api-key=abcdef123", "--token", GITHUB, f"--aws={AWS_KEY}", "--tokenizer", "bert"]
    clean, kinds = redact_argv(argv)
    assert clean == [
        "python",
        "train.py",
        "--lr",
        "0.3",
        "--db-password",
        REDACTED,
        f"--api-key={REDACTED}",
        "--token",
        REDACTED,
        f"--aws={REDACTED}",
        "--tokenizer",
        "bert",
    ]
    assert kinds == {"Secret Keyword", "GitHub Token", "AWS Access Key"}


def test_argv_without_secrets_is_unchanged() -> None:
    argv = ["python", "-m", "train", "--epochs", "3", "--out=runs/a", "--passes", "2"]
    assert redact_argv(argv) == (argv, set())


def test_config_values_nested_and_in_lists() -> None:
    config = {
        "lr": 0.3,
        "db": {"password": "hunter22", "host": "db.lab"},
        "urls": ["https://bob:s3cretpass@data.lab/x", "https://data.lab/y"],
        "auth": JWT,
        "tokenizer": "bert-base",
        "layers": [64, 128],
    }
    clean, kinds = redact_config(config)
    assert clean == {
        "lr": 0.3,
        "db": {"password": REDACTED, "host": "db.lab"},
        "urls": [f"https://bob:{REDACTED}@data.lab/x", "https://data.lab/y"],
        "auth": REDACTED,  # the whole token, signature included
        "tokenizer": "bert-base",
        "layers": [64, 128],
    }
    assert kinds == {"Secret Keyword", "Basic Auth Credentials", "JSON Web Token"}


def test_diff_keeps_its_shape() -> None:
    diff = "\n".join(
        [
            "diff --git a/.env b/.env",
            "--- a/.env",
            "+++ b/.env",
            "@@ -1 +1,3 @@",
            " MODE=dev",
            f"+AWS_ACCESS_KEY_ID={AWS_KEY}",
            "+DB_PASSWORD=hunter22",  # unquoted counts in a dotenv file
            "diff --git a/key.pem b/key.pem",
            "+++ b/key.pem",
            "@@ -0,0 +1,4 @@",
            *("+" + line for line in PEM.splitlines()),
            "diff --git a/train.py b/train.py",
            "+++ b/train.py",
            "@@ -1 +1,3 @@",
            '+password = "hunter22"',
            "+password = read_password()",  # code, not a literal: left alone
            "-lr = 0.1",
            "+lr = 0.3",
            "",
        ]
    )
    clean, kinds = redact_diff(diff.encode())
    text = clean.decode()
    for secret in (AWS_KEY, "hunter22", *KEY_BODY):
        assert secret not in text
    assert f"+AWS_ACCESS_KEY_ID={REDACTED}\n" in text
    assert f"+DB_PASSWORD={REDACTED}\n" in text
    assert f"+-----BEGIN RSA PRIVATE KEY-----\n+{REDACTED}\n+{REDACTED}\n+-----END" in text
    assert f'+password = "{REDACTED}"\n' in text
    assert "+password = read_password()\n-lr = 0.1\n+lr = 0.3\n" in text
    assert len(text.splitlines()) == len(diff.splitlines())  # hunk line counts still hold
    assert kinds == {"AWS Access Key", "Secret Keyword", "Private Key"}


def test_a_clean_diff_is_returned_as_it_is() -> None:
    diff = b"diff --git a/x b/x\n+++ b/x\n+print('\xff')\n+sha = 'e83c5163316f89bfbde7d9ab23ca2e25604af290'\n"
    assert redact_diff(diff) == (diff, set())


def test_text_without_a_trailing_newline() -> None:
    assert redact_text(f"key {AWS_KEY}") == (f"key {REDACTED}", {"AWS Access Key"})


def test_threads_redact_at_once() -> None:
    argv = ["train.py", "--password", "hunter22", AWS_KEY]
    results: list[tuple[list[str], set[str]]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(redact_argv(argv))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 160
    assert all(
        r == (["train.py", "--password", REDACTED, REDACTED], results[0][1]) for r in results
    )


@pytest.mark.parametrize(
    "secret",
    [
        "xoxb-123456789012-abcdefghijklmnop",  # Slack
        "sk_live_" + "a" * 24,  # Stripe
        "glpat-" + "x1y2z3" * 4,  # GitLab
    ],
)
def test_well_known_tokens(secret: str) -> None:
    clean, kinds = redact_text(f'client = Client("{secret}")\n')
    assert clean == f'client = Client("{REDACTED}")\n' and kinds
