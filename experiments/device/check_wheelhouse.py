"""Check a wheelhouse for the GPU image:
`python experiments/device/check_wheelhouse.py experiments/device/wheelhouse`.

Every file is a wheel that installs on CPython 3.12 on manylinux x86_64, one version per
project; every dependency of every wheel (markers read for that interpreter and platform,
extras left out) is met by a wheel here or by a package the image holds (image-packages.txt
beside this file); every line of requirements.txt here has its wheel; and the whole fits the
limit (64 MiB: what travels to the device machine beside the working tree).
Prints one line with the count and the size; exits 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # pip always carries a copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent
LIMIT_MIB = 64
TARGET = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}
PYTHON_TAGS = {"py3", "py312", "cp312", "py2.py3"}


def installs_on_target(tag) -> bool:
    platform_ok = tag.platform == "any" or re.fullmatch(r"manylinux\w*_x86_64", tag.platform)
    abi3 = tag.abi == "abi3" and re.fullmatch(r"cp3(\d+)", tag.interpreter)
    python_ok = tag.interpreter in PYTHON_TAGS or (abi3 and int(abi3.group(1)) <= 12)
    return bool(platform_ok and python_ok)


def requirements_of(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(TARGET)]


def image_packages(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {canonicalize_name(x.strip()) for x in lines if x.strip() and not x.startswith("#")}


def problems(wheelhouse: Path, image: set[str], wanted: list[Requirement]) -> list[str]:
    found: list[str] = []
    versions: dict[str, list] = {}
    wheels = sorted(wheelhouse.iterdir())
    for path in wheels:
        if path.suffix != ".whl":
            found.append(f"{path.name}: not a wheel")
            continue
        name, version, _build, tags = parse_wheel_filename(path.name)
        versions.setdefault(name, []).append(version)
        if not any(installs_on_target(t) for t in tags):
            found.append(f"{path.name}: does not install on CPython 3.12, manylinux x86_64")
    found += [
        f"{n}: {len(v)} versions ({', '.join(map(str, v))})"
        for n, v in versions.items()
        if len(v) > 1
    ]
    for path in (p for p in wheels if p.suffix == ".whl"):
        for req in requirements_of(path):
            name = canonicalize_name(req.name)
            have = versions.get(name)
            if have and any(req.specifier.contains(v, prereleases=True) for v in have):
                continue
            if not have and name in image:
                continue
            found.append(f"{path.name} needs {req}: neither here nor in the image")
    for req in wanted:
        have = versions.get(canonicalize_name(req.name), [])
        if not any(req.specifier.contains(v, prereleases=True) for v in have):
            found.append(f"requirements.txt asks for {req}: no such wheel here")
    size = sum(p.stat().st_size for p in wheels)
    if size > LIMIT_MIB * 2**20:
        found.append(f"{size / 2**20:.1f} MiB: over the {LIMIT_MIB} MiB limit")
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheelhouse", type=Path)
    ap.add_argument("--image", type=Path, default=HERE / "image-packages.txt")
    ap.add_argument("--requirements", type=Path, default=HERE / "requirements.txt")
    args = ap.parse_args(argv)
    lines = args.requirements.read_text().splitlines()
    wanted = [Requirement(x) for x in lines if x.strip() and not x.startswith("#")]
    found = problems(args.wheelhouse, image_packages(args.image), wanted)
    for line in found:
        print(f"error: {line}", file=sys.stderr)
    wheels = list(args.wheelhouse.glob("*.whl"))
    size = sum(p.stat().st_size for p in wheels)
    print(
        f"{args.wheelhouse}: {len(wheels)} wheels, {size / 2**20:.1f} MiB (limit {LIMIT_MIB} MiB)"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
