#!/bin/bash
# Bash completion of vdispctl (completion/vdispctl.bash) against a running
# daemon: commands, options, and the guests' names and domN for focus and
# screenshot, asked through the control socket given with -s.
set -uo pipefail
SRC=$1 VDISPLD=$(realpath "$2") VDISPCTL=$(realpath "$3")
fail() { echo "FAIL: $*"; exit 1; }
[ -r /usr/share/bash-completion/bash_completion ] ||
  fail "bash-completion is not installed (tests/install-deps.sh installs it)"
work=$(mktemp -d)
"$VDISPLD" --config /dev/null --hypervisor sim --sim-guests 2 --sim-resolution 160x120 \
  --control-socket "$work/control" -q >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -S "$work/control" ] && break; sleep 0.1; done
mkdir "$work/bin" && ln -s "$VDISPCTL" "$work/bin/vdispctl"
# shellcheck disable=SC1091
. /usr/share/bash-completion/bash_completion
# shellcheck disable=SC1090
. "$SRC/completion/vdispctl.bash"
PATH="$work/bin:$PATH"
# complete LINE: COMPREPLY for the cursor at the end of LINE, sorted, one line.
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#COMP_LINE}
  read -ra COMP_WORDS <<<"$COMP_LINE"
  [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _vdispctl
  [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
want() { # LINE EXPECTED
  got=$(complete_line "$1")
  [ "$got" = "$2" ] || fail "\"$1\": got \"$got\", want \"$2\""
  echo "\"$1\" -> $got"
}
want "vdispctl " "focus guests screenshot status "
want "vdispctl --j" "--json "
want "vdispctl -s $work/control focus " "dom1 dom2 sim-guest-1 sim-guest-2 "
want "vdispctl -s $work/control --json focus sim-guest-" "sim-guest-1 sim-guest-2 "
want "vdispctl --socket=$work/control screenshot d" "dom1: dom2: "
want "vdispctl -s $work/control screenshot sim-guest-2:" "0 1 2 3 "
# No daemon at the default socket: no guesses, and nothing on the terminal.
want "vdispctl -s $work/none focus " ""
echo "completion: ok"
