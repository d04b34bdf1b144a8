"""Property tests: metric values, unicode keys and tags survive both transports."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdk_support import Sdk

EDGES = [
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    0.0,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    2.0**53,
    -(2.0**53),
]
VALUES = st.lists(
    st.one_of(st.sampled_from(EDGES), st.floats(), st.integers(-(2**53), 2**53)),
    min_size=1,
    max_size=40,
)
# Text the store takes as a key: not blank, no control characters, at most 250.
KEYS = st.text(
    st.characters(min_codepoint=32, exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=250
).filter(str.strip)
# Tags: no whitespace at all, at most 200.
TAGS = st.lists(
    st.text(
        st.characters(min_codepoint=33, exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
        min_size=1,
        max_size=200,
    ).filter(lambda t: not any(ch.isspace() for ch in t)),
    max_size=4,
)
PROPERTY = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def same(a: float, b: float) -> bool:
    """Equal to the bit, sign of zero included; NaN equals NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@PROPERTY
@given(values=VALUES, key=KEYS, tags=TAGS)
def test_values_keys_and_tags_round_trip(
    sdk: Sdk, values: list[float], key: str, tags: list[str]
) -> None:
    with sdk.init(tags=tags) as run:
        for value in values:
            run.log({key: value})
        run.summary[key] = values[-1] if math.isfinite(values[-1]) else 0.0
    history = sdk.client.history(run.id, key)
    assert history.steps == list(range(len(values)))
    assert len(history.values) == len(values)
    for got, sent in zip(history.values, values, strict=True):
        assert same(got, float(sent)), (got, sent)
    stored = sdk.client.run(run.id)
    assert set(stored.tags) == set(tags)
    assert key in stored.summary


# Configs: JSON objects with unicode keys, nested a little, numbers at their edges.
CONFIG_KEYS = KEYS.filter(lambda k: "." not in k and len(k) < 60)
CONFIGS = st.dictionaries(
    CONFIG_KEYS,
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=False),
            st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30),
        ),
        lambda inner: st.dictionaries(CONFIG_KEYS, inner, max_size=3),
        max_leaves=6,
    ),
    max_size=5,
)


@PROPERTY
@given(configs=st.lists(st.tuples(CONFIGS, TAGS), min_size=1, max_size=5))
def test_a_run_created_in_a_batch_reads_back_as_one_created_alone(
    sdk: Sdk, configs: list[tuple[dict[str, object], list[str]]]
) -> None:
    transport = sdk.transport()
    ids = sdk.client.create_runs(
        [{"project": "batch", "config": c, "tags": t, "name": "same"} for c, t in configs]
    )
    for run_id, (config, tags) in zip(ids, configs, strict=True):
        alone = transport.create_run("batch", "same", config, tags, None, {})
        batched = sdk.client.run(run_id)
        assert (batched.config, batched.params) == (alone.config, alone.params)
        assert (batched.name, sorted(batched.tags)) == (alone.name, sorted(alone.tags))
        assert (batched.status, batched.user) == (alone.status, alone.user)
