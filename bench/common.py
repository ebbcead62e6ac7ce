"""Shared by the benchmarks: synthetic directories and the one-JSON-line output format of SPEC §2."""

from __future__ import annotations

import json
import random
import resource
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST = ["alex", "sam", "jo", "kim", "lee", "max", "noor", "ola", "pat", "ray", "sky", "tam", "uma", "val"]
LAST = ["smith", "jones", "garcia", "kumar", "li", "nguyen", "okafor", "silva", "tanaka", "weber"]


def emit(bench: str, value: float, unit: str, **extra: Any) -> None:
    """One figure, one JSON line on stdout."""
    print(json.dumps({"bench": bench, "value": round(value, 6), "unit": unit, **extra}), flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def directory_document(users: int, groups: int, memberships: int, seed: int = 7) -> dict[str, Any]:
    """A whole-directory JSON document: ``users`` users, ``groups`` groups, ``memberships`` memberships."""
    rng = random.Random(seed)
    user_names = [f"{rng.choice(FIRST)}.{rng.choice(LAST)}.{i:06d}" for i in range(users)]
    group_names = [f"team-{i:04d}" for i in range(groups)]
    members: dict[int, set[int]] = {g: set() for g in range(groups)}
    made = 0
    while made < memberships:
        g, u = rng.randrange(groups), rng.randrange(users)
        if u not in members[g]:
            members[g].add(u)
            made += 1
    return {
        "users": [
            {
                "userName": name,
                "displayName": name.replace(".", " ").title(),
                "email": f"{name}@example.com",
                "active": True,
            }
            for name in user_names
        ],
        "groups": [
            {
                "displayName": group_names[g],
                "description": f"Team {g}",
                "members": [user_names[u] for u in sorted(members[g])],
            }
            for g in range(groups)
        ],
    }
