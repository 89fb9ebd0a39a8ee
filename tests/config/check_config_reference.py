#!/usr/bin/python3
"""Checks README.md's configuration reference against the binaries, so that it cannot drift.

For each binary, `BINARY --helpfull` (absl's listing of every flag, its default and its help)
is compared with the README table that follows the marker `<!-- flags: BINARY -->`:
  - every flag the binary defines has a row, and every row names a flag the binary defines;
  - the row's default is the flag's default: the cell starts with the value in backquotes,
    or with "(empty" when the default is empty;
  - the env column is QUARRY_<NAME> for binaries that read every flag from the environment;
    for the others it is QUARRY_<NAME> only where the flag's help names that variable, else "-".

Usage: check_config_reference.py README.md NAME=BINARY[:all-env] ...
"""
import re
import subprocess
import sys

# Options the quarry CLI parses itself rather than through absl (--filter may be repeated).
NOT_ABSL_FLAGS = {"quarry": {"filter"}}

FLAG_RECORD = re.compile(r"^--(\w+) \((.*)\); default: (.*);$", re.S)


def helpfull_flags(binary):
    """{name: (default, help)} for the flags defined outside absl itself."""
    run = subprocess.run([binary, "--helpfull"], capture_output=True, text=True, timeout=60)
    flags = {}
    in_project_file = False
    record = None
    lines = run.stdout.splitlines() + [""]
    for line in lines:
        if line.startswith("  Flags from "):
            in_project_file = "absl/" not in line
            continue
        if line.startswith("    --") or not line.startswith("      "):
            if record is not None and in_project_file:
                match = FLAG_RECORD.match(record)
                if not match:
                    raise SystemExit(f"{binary}: cannot parse --helpfull record: {record!r}")
                name, help_text, default = match.groups()
                if default.startswith('"') and default.endswith('"'):
                    default = default[1:-1]
                flags[name] = (default, help_text)
            record = line.strip() if line.startswith("    --") else None
        elif record is not None:
            record += " " + line.strip()
    if not flags:
        raise SystemExit(f"{binary} --helpfull listed no flags:\n{run.stdout}\n{run.stderr}")
    return flags


def readme_rows(readme, name):
    """{flag: (env, default cell)} from the table after <!-- flags: name -->."""
    text = open(readme, encoding="utf-8").read()
    marker = f"<!-- flags: {name} -->"
    if marker not in text:
        raise SystemExit(f"README has no {marker} table")
    rows = {}
    table_started = False
    for line in text.split(marker, 1)[1].splitlines():
        if not line.startswith("|"):
            if table_started:
                break
            continue
        table_started = True
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`--(\w+)`", cells[0])
        if not match:
            continue  # the header and its rule
        if len(cells) != 4:
            raise SystemExit(f"{name}: row for {cells[0]} needs 4 cells (flag, env, default, meaning)")
        if match.group(1) in rows:
            raise SystemExit(f"{name}: --{match.group(1)} has two rows")
        rows[match.group(1)] = (cells[1].strip("`"), cells[2])
    return rows


def documented_default(cell):
    if cell.startswith("(empty"):
        return ""
    match = re.match(r"`([^`]*)`", cell)
    return match.group(1) if match else None


def check(readme, name, binary, all_env):
    errors = []
    flags = helpfull_flags(binary)
    rows = readme_rows(readme, name)
    for flag, (default, help_text) in sorted(flags.items()):
        if flag not in rows:
            errors.append(f"{name}: --{flag} (default {default!r}) has no row in the README table")
            continue
        env, default_cell = rows[flag]
        documented = documented_default(default_cell)
        if documented != default:
            errors.append(f"{name}: --{flag} defaults to {default!r} but the README says "
                          f"{default_cell!r}")
        variable = "QUARRY_" + flag.upper()
        expected_env = variable if all_env or variable in help_text else "-"
        if env != expected_env:
            errors.append(f"{name}: --{flag}: env column is {env!r}, expected {expected_env!r}")
    for flag in sorted(set(rows) - set(flags) - NOT_ABSL_FLAGS.get(name, set())):
        errors.append(f"{name}: the README lists --{flag}, which the binary does not define")
    return errors


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    readme = sys.argv[1]
    errors = []
    for spec in sys.argv[2:]:
        name, binary = spec.split("=", 1)
        all_env = binary.endswith(":all-env")
        binary = binary.removesuffix(":all-env")
        errors += check(readme, name, binary, all_env)
    if errors:
        print("The configuration reference in README.md is out of date:")
        print("\n".join("  " + error for error in errors))
        return 1
    print("configuration reference matches the binaries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
