#!/usr/bin/env python3
"""The options each program's parser knows (its getopt_long table and short
option string) are the options its --help, its man page and, for vdispld, the
README's command-line table name: none missing, none that the parser lacks."""
import re, subprocess, sys

SRC, VDISPLD, VDISPCTL = sys.argv[1:4]
failed = []


def parser_options(path):
    """--long names in the longopts table, -x letters of the getopt_long string."""
    text = open(path).read()
    table = text[text.index("struct option longopts[]"):]
    table = table[:table.index("{0}")]
    longs = set(re.findall(r'\{"([a-z][a-z-]*)",\s*(?:required|no)_argument', table))
    shorts = re.search(r'getopt_long\(argc, argv, "([^"]*)"', text).group(1)
    return {"--" + o for o in longs} | {"-" + c for c in shorts if c != ":"}


def named(text):
    """Options named in plain text: --long and, at the start of an item, -x."""
    longs = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))
    shorts = set(re.findall(r"(?:^|\s)(-[a-zA-Z])(?=[,\s]|$)", text, re.M))
    return longs | shorts


def help_options(binary):
    p = subprocess.run([binary, "--help"], capture_output=True, text=True)
    if p.returncode != 0:
        failed.append(f"{binary} --help: exit {p.returncode}")
    return named(p.stdout)


def man_options(path):
    """Options in the tags of the man page's items (the line after each .TP)."""
    lines = open(path).read().splitlines()
    tags = " ".join(lines[i + 1] for i, l in enumerate(lines[:-1]) if l.startswith(".TP"))
    return named(tags.replace("\\-", "-").replace('"', " "))


def readme_options(path):
    """Options in the first column of the README's "Command line" table."""
    text = open(path).read()
    section = text[text.index("## Command line"):]
    section = section[:section.index("\n## ", 3)]
    cells = re.findall(r"^\| (.*?) \|", section, re.M)
    return named(" ".join(c.replace("`", " ") for c in cells))


def compare(program, known, where, found, extra_ok=()):
    missing = sorted(known - found)
    unknown = sorted(found - known - set(extra_ok))
    if missing:
        failed.append(f"{where} lacks {program}'s {' '.join(missing)}")
    if unknown:
        failed.append(f"{where} names {' '.join(unknown)}, which {program} does not know")
    print(f"{program}: {len(known)} options, {where}: "
          f"{'ok' if not missing and not unknown else 'differs'}")


vdispld = parser_options(f"{SRC}/src/main.c")
compare("vdispld", vdispld, "vdispld --help", help_options(VDISPLD))
compare("vdispld", vdispld, "vdispld(8)", man_options(f"{SRC}/docs/man/vdispld.8"))
compare("vdispld", vdispld, "README.md", readme_options(f"{SRC}/README.md"))
vdispctl = parser_options(f"{SRC}/src/ctl/vdispctl.c")
compare("vdispctl", vdispctl, "vdispctl --help", help_options(VDISPCTL))
compare("vdispctl", vdispctl, "vdispctl(1)", man_options(f"{SRC}/docs/man/vdispctl.1"))
for f in failed:
    print("FAIL:", f)
sys.exit(1 if failed else 0)
