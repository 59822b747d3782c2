"""Shared fixtures: a tiny real index built once per session with the real bundled model."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"



def bench_module(name: str):
    """A script from bench/ as a module (the load test and the browser tests share bench/load.py's app launcher)."""
    mod_name = f"bench_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


# Every high byte over and over: no encoding reads that as text (each leaves some of these bytes undefined).
UNREADABLE = bytes(range(0x80, 0x100)) * 20
TINY_ARTICLE = """Home | World | Sport
Subscribe to our newsletter

Lake Balkhash water levels fall to a ten-year low

By Jane Example March 3, 2023

Water levels in Lake Balkhash fell to their lowest point in ten years this spring, the regional water authority said on Friday.

Officials blamed a dry winter and heavy upstream irrigation along the Ili River for the decline.

Fishermen in the town of Balkhash said their catches had halved since last year, and several small harbours are now unusable.

The authority plans to release more water from the Kapchagay reservoir in May.

Leave a comment
"""

# a page sharing no line with the others, so adding it changes no other page's cleaning
HARBOUR_ARTICLE = """Harbour dredging to start in spring

By Sam Writer, April 2, 2023

The port authority will begin dredging the old harbour in spring, its director said on Tuesday.

Work is expected to take eight months and cost about four million dollars, paid from the regional budget.

Ferry services will keep running during the works, although two berths will close in turn.

Local fishermen welcomed the plan, saying silt had made the inner basin too shallow for larger boats.
"""

# A headline whose words its text never repeats: "riverside", "cycleway" and "approved" are only in the headline.
CYCLEWAY_ARTICLE = """Riverside cycleway approved

By Ana Writer, May 5, 2023

The town council voted on Monday to build a four-kilometre route for bicycles along the bank of the river.

Construction is expected to begin in the autumn and take a year, the mayor's office said.
"""

# An article whose text names that headline's words, under a headline of its own.
STATION_ARTICLE = """Station car park to be rebuilt

By Lee Writer, June 1, 2023

Residents of the Riverside estate asked the council again for a cycleway to the station, and the request was approved in part.

The car park beside the station will be rebuilt with a covered shelter for bicycles, the rail company said.
"""


@pytest.fixture(scope="session", autouse=True)
def seeds_index(tmp_path_factory) -> Path:
    """The seeds' index, built once per session by this code and made the default ($QA_INDEX_DIR, inherited by the
    app servers the tests start): the tests never depend on the committed embeddings/ being current."""
    import qa

    out = tmp_path_factory.mktemp("seeds-index")
    qa.build(SEEDS, out)
    old = os.environ.get("QA_INDEX_DIR")
    os.environ["QA_INDEX_DIR"] = str(out)
    yield out
    if old is None:
        os.environ.pop("QA_INDEX_DIR", None)
    else:
        os.environ["QA_INDEX_DIR"] = old


@pytest.fixture(scope="session")
def tiny_seeds(tmp_path_factory) -> Path:
    """Two real seeds plus one small article in another site's layout."""
    d = tmp_path_factory.mktemp("seeds")
    for name in ("000_6870258d6367f5ae.txt", "003_a38c060e4e498b4b.txt"):
        shutil.copy(SEEDS / name, d / name)
    (d / "lake.txt").write_text(TINY_ARTICLE, encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def tiny_index(tiny_seeds, tmp_path_factory) -> Path:
    import qa

    out = tmp_path_factory.mktemp("index")
    qa.build(tiny_seeds, out)
    return out


def require_cluster_extra(*modules: str) -> None:
    """Skip (or, with QA_REQUIRE_CLUSTER=1 as in CI, fail) when the optional [cluster] extra is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"the optional cluster extra is not installed ({', '.join(missing)} missing): run `make install-cluster`"
        if os.environ.get("QA_REQUIRE_CLUSTER") == "1":
            pytest.fail(reason + " (QA_REQUIRE_CLUSTER=1)")
        pytest.skip(reason)
