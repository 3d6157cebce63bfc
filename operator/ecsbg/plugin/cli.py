"""`kubectl ecsrelease`: see and steer EcsBlueGreenReleases (console script kubectl-ecsrelease).

    kubectl ecsrelease get NAME [--watch]     live view: phase, stage, attempt, traffic, hooks, stages, events
    kubectl ecsrelease get wave NAME [--watch]          an EcsReleaseWave: its waves, gates and targets as a tree
    kubectl ecsrelease approve|abort wave NAME          approve the waiting gate (--wave W), abort the attempt
    kubectl ecsrelease list [-A]              every release of the namespace (or of all namespaces)
    kubectl ecsrelease approve|reject NAME    continue or roll back the paused hooks of the current attempt
    kubectl ecsrelease abort NAME             roll back the current attempt's deployment
    kubectl ecsrelease retry NAME             start the rolled-back, failed or drifted attempt again
    kubectl ecsrelease history NAME           the stages of the current attempt and the attempts' events
    kubectl ecsrelease wait NAME --until deployed|paused|succeeded|stage:STAGE [--timeout S]
    kubectl ecsrelease plan NAME | -f FILE    what the next attempt would register and send to ECS (reads only)
    kubectl ecsrelease lint FILE...           check release files offline (CRD schema, CEL rules, the parser)
    kubectl ecsrelease completion bash|zsh    a shell completion script
    kubectl ecsrelease version                the plugin's version and the API it speaks

Requests set the ecsbg.dev/<request> annotation to the attempt they apply to (docs/design.md "Operations").
Exit codes: 0 done; 1 error or refused request (and `get --watch` ending in anything but Succeeded, `wait`
when the release rolls back or fails first); 2 usage; 3 `wait` timed out; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from ecsbg.domain.model import RequestKind
from ecsbg.plugin import kube, render, waiting
from ecsbg.plugin.operations import decide

CLEAR_SCREEN = "\x1b[H\x1b[2J"


def _common(parser: argparse.ArgumentParser, *, default: object) -> None:
    """Connection options; accepted before and after the subcommand, like kubectl's global flags."""
    parser.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's)")
    parser.add_argument("--kubeconfig", default=default, help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--context", default=default, help="kubeconfig context (default: the current one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl ecsrelease", description="Inspect and steer EcsBlueGreenReleases."
    )
    _common(parser, default=None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _common(common, default=argparse.SUPPRESS)

    get = sub.add_parser("get", parents=[common], help="show a release")
    get.add_argument("name")
    get.add_argument("wave_name", nargs="?", metavar="WAVE", help="with NAME `wave`: the EcsReleaseWave to show")
    get.add_argument("-w", "--watch", action="store_true", help="refresh until the attempt ends")
    get.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default 2)")
    get.add_argument("--timeout", type=float, default=None, help="give up watching after this many seconds")
    lst = sub.add_parser("list", parents=[common], help="list releases")
    lst.add_argument("-A", "--all-namespaces", action="store_true")
    for kind, text in ((RequestKind.APPROVE, "approve the paused lifecycle hooks of the current attempt"),
                       (RequestKind.REJECT, "reject the paused hooks: ECS rolls back"),
                       (RequestKind.ABORT, "stop the current attempt's deployment: ECS rolls back"),
                       (RequestKind.RETRY, "start the rolled-back or failed attempt again")):  # fmt: skip
        request = sub.add_parser(kind.value, parents=[common], help=text)
        request.add_argument("name")
        if kind in (RequestKind.APPROVE, RequestKind.ABORT):  # `approve wave NAME`: a wave's gate or attempt
            request.add_argument("wave_name", nargs="?", metavar="WAVE", help="with NAME `wave`: an EcsReleaseWave")
        if kind is RequestKind.APPROVE:
            request.add_argument("--wave", default=None, help="with `wave`: the wave whose gate to approve "
                                 "(default: the one waiting)")
        request.add_argument(
            "--attempt", type=int, default=None, help="the attempt meant (default: the current)"
        )
    hist = sub.add_parser("history", parents=[common], help="stages and attempts of a release")
    hist.add_argument("name")
    wait = sub.add_parser("wait", parents=[common], help="wait until the current attempt reaches a point")
    wait.add_argument("name")
    wait.add_argument("--until", required=True, help="deployed, paused, succeeded or stage:<ECS stage>, "
                      "e.g. stage:BAKE_TIME")
    wait.add_argument("--timeout", type=float, default=None, help="give up after this many seconds (exit 3)")
    wait.add_argument("--interval", type=float, default=2.0, help="seconds between reads (default 2)")
    plan = sub.add_parser("plan", parents=[common], help="what the next attempt would do, without writing anything")
    plan.add_argument("name", nargs="?", help="the release (in the cluster, or the one of that name in FILE)")
    plan.add_argument("-f", "--filename", default=None, help="a YAML file holding the release (what Git holds)")
    plan.add_argument("--no-assume-role", action="store_true", help="use your own AWS credentials, not "
                      "spec.target.roleArn")
    plan.add_argument("-o", "--output", choices=("text", "json"), default="text")
    sub.add_parser("version", parents=[common], help="print the plugin's version")
    lint = sub.add_parser("lint", parents=[common], help="check release files offline")
    lint.add_argument("files", nargs="+", help="YAML files holding EcsBlueGreenReleases")
    lint.add_argument("--crd", default=None, help="CRD file to check against (default: the plugin's own copy)")
    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=("bash", "zsh"))
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__complete"]:  # the completion scripts' callback (ecsbg.plugin.completion)
        from ecsbg.plugin import completion

        return completion.complete(parser, argv[1:], out)
    args = parser.parse_args(argv)
    if args.command == "version":
        return cmd_version(out)
    if args.command == "lint":
        return cmd_lint(args, out)
    if args.command == "completion":
        return cmd_completion(parser, args, out)
    if args.command == "plan" and not args.name and not args.filename:
        parser.error("plan needs NAME or -f FILE")
    try:
        if args.command == "wait":
            args.until = waiting.parse_until(args.until)
    except waiting.UsageError as error:
        parser.error(str(error))
    try:
        try:
            api, default_namespace = kube.connect(args.kubeconfig, args.context)
        except kube.PluginError:
            if args.command != "plan" or not args.filename:
                raise
            api, default_namespace = None, "default"  # a plan of a file needs no cluster
        namespace = args.namespace or default_namespace
        return COMMANDS[args.command](api, namespace, args, out)
    except kube.PluginError as error:
        print(f"error: {error}", file=err)
        return 1
    except KeyboardInterrupt:
        return 130


def _now() -> datetime:
    return datetime.now(UTC)


def _wave(args: argparse.Namespace) -> str | None:
    """NAME of `... wave NAME` (None: a release command)."""
    if getattr(args, "wave_name", None) is None:
        return None
    if args.name != "wave":
        raise kube.PluginError(f"unexpected {args.wave_name!r}: did you mean `{args.command} wave {args.wave_name}`?")
    return args.wave_name


def cmd_get_wave(api, namespace: str, name: str, args: argparse.Namespace, out: TextIO, *,
                 clock: Callable[[], float] = time.monotonic, sleep=time.sleep) -> int:
    from ecsbg.plugin import waves

    deadline = None if args.timeout is None else clock() + args.timeout
    last = None
    while True:
        wave = kube.get_wave(api, namespace, name).obj
        if not args.watch:
            out.write(waves.render_wave(wave, _now()))
            return 0
        if wave["metadata"].get("resourceVersion") != last:
            out.write(waves.render_wave(wave, _now()) + "\n")
            out.flush()
            last = wave["metadata"].get("resourceVersion")
        if waves.done(wave):
            return 0 if wave["status"]["phase"] == "Succeeded" else 1
        if deadline is not None and clock() >= deadline:
            raise kube.PluginError(f"timed out after {args.timeout:g}s waiting for {name} to finish")
        sleep(args.interval)


def cmd_wave_request(api, namespace: str, name: str, args: argparse.Namespace, out: TextIO) -> int:
    from ecsbg.plugin import waves

    wave = kube.get_wave(api, namespace, name)
    if args.command == "approve":
        request = waves.approve(wave.obj, args.wave, args.attempt)
    else:
        request = waves.abort(wave.obj, args.attempt)
    if not request.ok:
        raise kube.PluginError(request.message)
    kube.annotate(wave, request.annotation, request.value)
    out.write(request.message + "\n")
    return 0


def cmd_get(api, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
    if (wave := _wave(args)) is not None:
        return cmd_get_wave(api, namespace, wave, args, out)
    release = kube.get_release(api, namespace, args.name)
    if not args.watch:
        out.write(render.render_release(release.obj, kube.events_of(api, release), _now()))
        return 0
    return watch(lambda: kube.get_release(api, namespace, args.name), lambda r: kube.events_of(api, r), out,
                 interval=args.interval, timeout=args.timeout)  # fmt: skip


def watch(
    read: Callable[[], kube.EcsBlueGreenRelease],
    events_of: Callable,
    out: TextIO,
    *,
    interval: float,
    timeout: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep=time.sleep,
) -> int:
    """Print a frame whenever the release or its events change (every interval on a terminal, so ages move);
    stop when the attempt of the observed spec has ended: 0 if it Succeeded, 1 otherwise or on timeout."""
    deadline = None if timeout is None else clock() + timeout
    tty, last = out.isatty(), None
    while True:
        release = read()
        events = events_of(release)
        state = (release.obj["metadata"].get("resourceVersion"), len(events),
                 max((render.event_time(e) for e in events), default=None))  # fmt: skip
        if tty or state != last:
            frame = render.render_release(release.obj, events, _now())
            out.write(CLEAR_SCREEN + frame if tty else frame + "\n")
            out.flush()
            last = state
        if render.done(release.obj):
            return 0 if release.obj["status"]["phase"] == "Succeeded" else 1
        if deadline is not None and clock() >= deadline:
            raise kube.PluginError(f"timed out after {timeout:g}s waiting for {release.name} to finish")
        sleep(interval)


def cmd_version(out: TextIO) -> int:
    from ecsbg import __version__

    out.write(f"kubectl-ecsrelease {__version__}\nAPI: {kube.GROUP_VERSION} {kube.EcsBlueGreenRelease.kind}\n")
    return 0


def cmd_lint(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from ecsbg.plugin import lint

    crd = Path(args.crd) if args.crd else lint.CRD
    failed = False
    for file in args.files:
        for name, problems in lint.lint_file(Path(file), crd):
            failed = failed or bool(problems)
            out.write(f"{file}: {name}: ok\n" if not problems else
                      "".join(f"{file}: {name}: {problem}\n" for problem in problems))
    return 1 if failed else 0


def cmd_wait(api, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
    return wait_for(lambda: kube.get_release(api, namespace, args.name).obj, args.until, out, sys.stderr,
                    interval=args.interval, timeout=args.timeout)


def wait_for(read: Callable[[], dict], until: waiting.Until, out: TextIO, err: TextIO, *, interval: float,
             timeout: float | None, clock: Callable[[], float] = time.monotonic, sleep=time.sleep) -> int:
    """Poll until the verdict is reached (0) or failed (1, the reason on stderr); 3 after the timeout.
    Each change of state is printed once, so a CI log shows the way there."""
    deadline = None if timeout is None else clock() + timeout
    last = None
    while True:
        verdict = waiting.judge(read(), until)
        if verdict.state == "reached":
            out.write(verdict.reason + "\n")
            return 0
        if verdict.state == "failed":
            print(f"error: {verdict.reason}", file=err)
            return 1
        if verdict.reason != last:
            out.write(verdict.reason + "\n")
            out.flush()
            last = verdict.reason
        if deadline is not None and clock() >= deadline:
            print(f"error: timed out after {timeout:g}s waiting for {until}; last: {verdict.reason}", file=err)
            return 3
        sleep(interval)


def cmd_plan(api, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from ecsbg.plugin import planning

    if args.filename:
        body = planning.release_from_file(Path(args.filename), args.name)
        meta = body.get("metadata") or {}
        try:  # the release as the cluster has it, for its status: is this spec new?
            if api is None:
                raise kube.PluginError("no cluster")
            live = kube.get_release(api, meta.get("namespace") or namespace, meta.get("name", "")).obj
            body = {**body, "status": live.get("status") or {}}
        except kube.PluginError:
            pass
    else:
        body = kube.get_release(api, namespace, args.name).obj
    spec, plan = planning.plan_release(body, assume_role=not args.no_assume_role)
    planning.render_plan(body, spec, plan, out, as_json=args.output == "json")
    return 0


def cmd_completion(parser: argparse.ArgumentParser, args: argparse.Namespace, out: TextIO) -> int:
    from ecsbg.plugin import completion

    out.write(completion.script(parser, args.shell))
    return 0


def cmd_list(api, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
    releases = kube.list_releases(api, None if args.all_namespaces else namespace)
    out.write(render.render_list(releases, _now(), all_namespaces=args.all_namespaces))
    return 0


def cmd_history(api, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
    release = kube.get_release(api, namespace, args.name)
    out.write(render.render_history(release.obj, kube.events_of(api, release), _now()))
    return 0


def _request(kind: RequestKind) -> Callable[..., int]:
    def command(api, namespace: str, args: argparse.Namespace, out: TextIO) -> int:
        if (wave := _wave(args)) is not None:
            return cmd_wave_request(api, namespace, wave, args, out)
        release = kube.get_release(api, namespace, args.name)
        decision = decide(kind, release.obj, args.attempt)
        if not decision.ok:
            raise kube.PluginError(decision.message)
        if not decision.already:
            kube.annotate(release, decision.annotation, str(decision.attempt))
        out.write(decision.message + "\n")
        return 0

    return command


COMMANDS: dict[str, Callable[..., int]] = {
    "get": cmd_get,
    "list": cmd_list,
    "history": cmd_history,
    "wait": cmd_wait,
    "plan": cmd_plan,
    **{kind.value: _request(kind) for kind in RequestKind},
}


if __name__ == "__main__":
    sys.exit(main())
