"""Top functions of a py-spy profile in its raw (collapsed stacks) format, inclusive and self.

    .venv/bin/python bench/profile_top.py PROFILE.txt [--top 40] [--match switchboard] [--packages]

``py-spy record --format raw`` writes one line per distinct stack: frames from the
outermost to the innermost, ``;``-separated, then the number of samples. A
function's inclusive share counts every sample with it anywhere on the stack (once
per sample, however deep it recurses); its self share only the samples where it
is the innermost frame. Line numbers are dropped so that a function is one row.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
_LINENO = re.compile(r":\d+\)$")


@dataclass(frozen=True)
class Profile:
    samples: int
    inclusive: Counter[str]
    own: Counter[str]


def frame_name(frame: str) -> str:
    """``resolve (strawberry/x.py:12)`` -> ``resolve (strawberry/x.py)``, shortened to the package path."""
    frame = _LINENO.sub(")", frame)
    return re.sub(r"\(.*?site-packages/", "(", frame)


def read(path: Path) -> Profile:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        frames = [frame_name(f) for f in match.group(1).split(";") if f]
        count = int(match.group(2))
        samples += count
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    return Profile(samples, inclusive, own)


def table(profile: Profile, top: int, match: str | None) -> list[str]:
    lines = [f"{profile.samples} samples (busy threads only)", "inclusive%  self%  function"]
    for name, count in profile.inclusive.most_common():
        if match and match not in name:
            continue
        share = 100 * count / max(1, profile.samples)
        mine = 100 * profile.own.get(name, 0) / max(1, profile.samples)
        lines.append(f"{share:9.1f}  {mine:5.1f}  {name}")
        if len(lines) >= top + 2:
            break
    return lines


def packages(profile: Profile) -> list[str]:
    """Self samples by top-level package (where the CPU is actually spent)."""
    by_package: Counter[str] = Counter()
    for name, count in profile.own.items():
        path = name.rsplit("(", 1)[-1]
        by_package[path.split("/", 1)[0] if "/" in path else path.rstrip(")")] += count
    lines = ["self%  package"]
    for package, count in by_package.most_common():
        lines.append(f"{100 * count / max(1, profile.samples):5.1f}  {package}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", help="only functions whose name or file contains this")
    parser.add_argument("--packages", action="store_true", help="self samples by package instead")
    args = parser.parse_args()
    profile = read(args.profile)
    lines = packages(profile) if args.packages else table(profile, args.top, args.match)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
