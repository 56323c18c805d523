"""The seed policy texts, line by line after the scoring normalisation, for checking that expected quotes are real."""

from __future__ import annotations

import pytest

from bot.evaluation import normalise_for_scoring
from tests.conftest import SHARED

SEEDS = SHARED / "seeds"
SEED_FILES = {
    "howitt": "howitt-primary-derbyshire-2018.txt",
    "wolverhampton": "wolverhampton-connected-2022.txt",
    "crynallt": "neath-port-talbot-crynallt.txt",
    "rutland": "rutland-county-council-2017.txt",
    "reading": "reading-borough-school.txt",
}


@pytest.fixture(scope="session")
def seed_lines() -> dict[str, list[str]]:
    if not SEEDS.exists():
        pytest.skip("shared/seeds is not beside this checkout")
    return {
        school: [
            normalise_for_scoring(line) for line in (SEEDS / name).read_text(encoding="utf-8").splitlines()
        ]
        for school, name in SEED_FILES.items()
    }
