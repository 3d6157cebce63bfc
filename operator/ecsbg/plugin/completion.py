"""Shell completion for the plugin, one implementation for every shell.

kubectl (1.26+) completes `kubectl ecsrelease ...` by running `kubectl_complete-ecsrelease ARGS... PARTIAL` and
reading cobra's protocol: one candidate per line, then `:<directive>` (4: no file completion, 0: default). The
`completion bash|zsh` scripts, for the `kubectl-ecsrelease` command itself, call the same code through the
hidden `__complete` subcommand. Candidates come from the argparse parser, so they cannot go stale; release names
are listed from the cluster (errors give no names, never a message in the middle of a command line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

NO_FILES, DEFAULT = 4, 0  # cobra's ShellCompDirectiveNoFileComp and ShellCompDirectiveDefault
FILE_OPTIONS = frozenset({"-f", "--filename", "--kubeconfig", "--crd"})
NAMED = frozenset({"get", "approve", "reject", "abort", "retry", "history", "wait", "plan"})

Names = Callable[[str | None, str | None, str | None], list[str]]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings if o.startswith("--") or len(o) == 2)  # noqa: SLF001


def _value_of(words: Sequence[str], *flags: str) -> str | None:
    for i, word in enumerate(words[:-1]):
        if word in flags:
            return words[i + 1]
    return next((w.split("=", 1)[1] for w in words for f in flags if w.startswith(f + "=")), None)


def candidates(parser: argparse.ArgumentParser, words: Sequence[str], names: Names) -> tuple[list[str], int]:
    """`words`: the arguments after the command name, the last one being the word being completed ("" after a
    space). Returns the matching candidates and cobra's directive."""
    *before, partial = list(words) or [""]
    subs = _subparsers(parser)
    command = next((w for w in before if w in subs), None)
    if before and before[-1] in FILE_OPTIONS:
        return [], DEFAULT
    if before and before[-1] in ("-n", "--namespace", "--context", "--until", "--timeout", "--interval",
                                 "--attempt", "-o", "--output"):
        return _values(before[-1], partial), NO_FILES
    if partial.startswith("-"):
        options = _options(subs[command]) if command else _options(parser)
        return [o for o in options if o.startswith(partial)], NO_FILES
    if command is None:
        return [c for c in sorted(subs) if c.startswith(partial) and not c.startswith("_")], NO_FILES
    if command == "completion":
        return [s for s in ("bash", "zsh") if s.startswith(partial)], NO_FILES
    if command == "lint":
        return [], DEFAULT
    if command in NAMED and not _has_name(before, command):
        found = names(_value_of(before, "-n", "--namespace"), _value_of(before, "--kubeconfig"),
                      _value_of(before, "--context"))
        return [n for n in found if n.startswith(partial)], NO_FILES
    return [], NO_FILES


def _values(option: str, partial: str) -> list[str]:
    fixed = {"--until": ["deployed", "paused", "succeeded", "stage:BAKE_TIME", "stage:TEST_TRAFFIC_SHIFT",
                         "stage:PRODUCTION_TRAFFIC_SHIFT"], "-o": ["text", "json"], "--output": ["text", "json"]}
    return [v for v in fixed.get(option, []) if v.startswith(partial)]


def _has_name(before: Sequence[str], command: str) -> bool:
    """Whether a positional word follows the command (option values excluded)."""
    rest = list(before[before.index(command) + 1:])
    i = 0
    while i < len(rest):
        if rest[i].startswith("-"):
            i += 1 if "=" in rest[i] or rest[i] in ("-w", "--watch", "--no-assume-role", "-A",
                                                    "--all-namespaces") else 2
            continue
        return True
    return False


def cluster_names(namespace: str | None, kubeconfig: str | None, context: str | None) -> list[str]:
    from ecsbg.plugin import kube

    try:
        api, default_namespace = kube.connect(kubeconfig, context)
        return sorted(r["metadata"]["name"] for r in kube.list_releases(api, namespace or default_namespace))
    except Exception:  # noqa: BLE001 - completion must never print an error into a command line
        return []


def complete(parser: argparse.ArgumentParser, words: Sequence[str], out: TextIO, names: Names = cluster_names) -> int:
    found, directive = candidates(parser, words, names)
    out.write("".join(f"{c}\n" for c in found) + f":{directive}\n")
    return 0


BASH = """# kubectl-ecsrelease completion for bash: source <(kubectl-ecsrelease completion bash)
_kubectl_ecsrelease() {
    local cur=${COMP_WORDS[COMP_CWORD]} out directive line
    out=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:$COMP_CWORD}" 2>/dev/null) || return
    directive=${out##*:}
    COMPREPLY=()
    while IFS= read -r line; do
        [[ -n $line && $line != :* ]] && COMPREPLY+=("$line")
    done <<< "$out"
    if [[ ${#COMPREPLY[@]} -eq 0 && $directive == 0 ]]; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}
complete -F _kubectl_ecsrelease kubectl-ecsrelease
"""

ZSH = """#compdef kubectl-ecsrelease
# kubectl-ecsrelease completion for zsh: source <(kubectl-ecsrelease completion zsh)
_kubectl_ecsrelease() {
    local -a found
    local out directive
    out=$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return
    directive=${out##*:}
    found=(${(f)out})
    found=(${found:#:*})
    if (( ${#found} )); then
        compadd -a found
    elif [[ $directive == 0 ]]; then
        _files
    fi
}
compdef _kubectl_ecsrelease kubectl-ecsrelease
"""


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    del parser  # the scripts ask the program itself, so they never go stale
    return BASH if shell == "bash" else ZSH


def kubectl_main() -> int:
    """Console script `kubectl_complete-ecsrelease`: kubectl's plugin completion (kubectl >= 1.26)."""
    from ecsbg.plugin.cli import build_parser

    return complete(build_parser(), sys.argv[1:], sys.stdout)
