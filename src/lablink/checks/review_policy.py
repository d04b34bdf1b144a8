"""The team's data-review rule from ``lablink.toml`` (pure: no I/O)::

[data]
require_review = true        # lablink.dataset() and lablink launch refuse unapproved data
reviewers = ["ana", "kenji"] # asked when `lablink review request` names nobody
approvals = 1                # distinct approvals a version needs
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lablink.errors import DatasetNotApproved, InvalidInput

MAX_APPROVALS = 10


@dataclasses.dataclass(frozen=True)
class ReviewPolicy:
    """Whether training needs approved data, whom to ask, how many approvals."""

    require_review: bool = False
    reviewers: tuple[str, ...] = ()
    approvals: int = 1

    @classmethod
    def from_config(cls, project_config: Mapping[str, Any]) -> ReviewPolicy:
        """The ``[data]`` table's review keys.

        Raises:
            InvalidInput: a key of the wrong type or out of range.
        """
        table = project_config.get("data", {})
        if not isinstance(table, Mapping):
            raise InvalidInput("[data] in lablink.toml must be a table")
        required = table.get("require_review", False)
        if not isinstance(required, bool):
            raise InvalidInput(
                f"[data] require_review must be true or false, not {required!r}",
                "write require_review = true",
            )
        reviewers = table.get("reviewers", [])
        if not isinstance(reviewers, list) or not all(isinstance(r, str) for r in reviewers):
            raise InvalidInput(
                "[data] reviewers must be a list of user names", 'write reviewers = ["ana"]'
            )
        approvals = table.get("approvals", 1)
        return cls(required, tuple(reviewers), check_approvals(approvals, "[data] approvals"))


def check_approvals(value: Any, what: str = "approvals") -> int:
    """A number of approvals from 1 to 10. Raises ``InvalidInput``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_APPROVALS:
        raise InvalidInput(
            f"{what} must be a whole number from 1 to {MAX_APPROVALS}, not {value!r}"
        )
    return value


def raise_unless_approved(ref: str, state: str | None) -> None:
    """Raise ``DatasetNotApproved`` unless ``state`` is ``approved``."""
    if state == "approved":
        return
    if state is None:
        raise DatasetNotApproved(
            f"{ref} has not been reviewed, and this lab requires approved data",
            f"request a review: lablink review request {ref} --reviewer NAME",
            state="none",
        )
    raise DatasetNotApproved(
        f"{ref} is not approved (its review is {state}), and this lab requires approved data",
        f"see the review and its discussion: lablink review show {ref}",
        state=state,
    )
