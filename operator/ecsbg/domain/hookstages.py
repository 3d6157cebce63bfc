"""Which stage (and Linear/Canary step) each hook execution belongs to.

ECS's lifecycleHookDetails carries no stage, and the stage current when the operator first sees a hook is not
its stage: a hook may be first seen a poll later, and ECS keeps listing finished hooks after the deployment moved
on. The stage comes from the spec and the stage order instead. Each spec hook runs once at each of its stages
on the deployment's path (stagepath.stage_path), and at PRE_/PRODUCTION_TRAFFIC_SHIFT once per Linear/Canary
step: those are the *slots*. A hook execution seen for the first time takes a free slot of its kind (PAUSE, or
AWS_LAMBDA with the same function) between the position of the previous poll and this one, the latest ones first
(lifecycleHookDetails lists "each active hook" [doc: Lifecycle hooks for Amazon ECS service deployments,
"Lifecycle hook details"], i.e. the current stage's; an operator or ECS that lags may see one a stage late), in the
order ECS lists them. Runs of one spec hook keep the order in which they were first seen (`_in_sight_order`). While ECS rolls back it re-invokes
the hooks of TEST_/PRODUCTION_TRAFFIC_SHIFT [doc: Lambda hooks for Amazon ECS service deployments]: a hook that
fits no free slot is filed under the stage ECS is rolling back through, when the spec has a hook of its kind
there. Only when no slot fits at all does the stage stay unknown (None): a hook the spec does not declare
(configured outside the release) is never guessed. A hook ECS stops listing while it was running, once the
deployment moved on past its stage, has ended (`_settled`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

from ecsbg.domain.model import HookDetail, HookSpec, StepInfo
from ecsbg.domain.observation import ObservedDeployment
from ecsbg.domain.stagepath import ROLLBACK_STATUSES, Position

MAX_HOOKS = 50  # ECS allows 10 pause + 10 Lambda hooks, several executions each for linear/canary steps
ACTIVE = frozenset({"IN_PROGRESS", "AWAITING_ACTION"})


@dataclass(frozen=True)
class _Slot:
    index: int  # position in the stage path
    target_type: str
    target_arn: str | None
    stage: str
    step: StepInfo | None

    @property
    def key(self) -> tuple[str, str | None, str, int | None]:
        return (self.target_type, self.target_arn, self.stage, self.step.number if self.step else None)


def attribute(known: tuple[HookDetail, ...], d: ObservedDeployment, hooks: tuple[HookSpec, ...],
              path: tuple[Position, ...], *, before: int, after: int, reconcile: bool,
              now: datetime) -> tuple[HookDetail, ...]:
    """The attempt's hooks after this poll: `known` (status) updated with what ECS lists now. `before` and `after`
    are the path positions of the previous poll and of this one (stagepath.position)."""
    listed = {h.hook_id for h in d.hooks}
    by_id = {h.hook_id: h if h.hook_id in listed else _settled(h, d, path, after, now) for h in known}
    order = [h.hook_id for h in known]
    new: list[HookDetail] = []
    for hook in d.hooks:
        seen = by_id.get(hook.hook_id)
        if seen is None:
            order.append(hook.hook_id)
        if seen is None or seen.stage is None:
            new.append(hook)
        else:  # attributed before: ECS's news, the attribution kept
            by_id[hook.hook_id] = replace(hook, stage=seen.stage, step=seen.step)
    free = _free_slots(_slots(hooks, path, reconcile), [h for h in known if h.stage is not None])
    for hook_id, slot in _assign(new, free, d, hooks, before=before, after=after).items():
        hook = next(h for h in new if h.hook_id == hook_id)
        by_id[hook_id] = replace(hook, stage=slot.stage if slot else None, step=slot.step if slot else None)
    out = [by_id[i] for i in order]
    if d.status not in ROLLBACK_STATUSES:  # (a rollback's re-invocations come after every forward run)
        out = _in_sight_order(out, path)
    return tuple(out)[-MAX_HOOKS:]


def _in_sight_order(hooks: list[HookDetail], path: tuple[Position, ...]) -> list[HookDetail]:
    """The runs of one spec hook happen in stage order, so they are first seen in that order. A run first seen
    while ECS still listed it after the next stage began takes that later stage's slot; when the later run shows
    up and only the earlier slot is left, the two attributions are swapped back into sight order."""
    out = list(hooks)
    kinds: dict[tuple[str, str | None], list[int]] = {}
    for i, hook in enumerate(out):
        if _index(path, hook) is not None:
            kinds.setdefault((hook.target_type, hook.target_arn if hook.target_type == "AWS_LAMBDA" else None),
                             []).append(i)
    for members in kinds.values():
        places = [(_index(path, out[i]), out[i].stage, out[i].step) for i in members]
        for i, (_, stage, step) in zip(members, sorted(places, key=lambda p: p[0]), strict=True):
            out[i] = replace(out[i], stage=stage, step=step)
    return out


def _index(path: tuple[Position, ...], hook: HookDetail) -> int | None:
    number = hook.step.number if hook.step else None
    return next((i for i, p in enumerate(path)
                 if p.stage == hook.stage and (p.step.number if p.step else None) == number), None)


def _settled(hook: HookDetail, d: ObservedDeployment, path: tuple[Position, ...], after: int,
             now: datetime) -> HookDetail:
    """A hook ECS no longer lists, last seen running, whose stage the deployment has left going forward: "the
    deployment proceeds only when all hooks complete" [doc: Lambda hooks], so it ended. It SUCCEEDED unless it
    may have timed out with action CONTINUE (then its end is unknown and the last status ECS gave stays)."""
    if hook.status not in ACTIVE or d.status not in ("IN_PROGRESS", "SUCCESSFUL") or hook.stage is None:
        return hook
    index = _index(path, hook)
    if index is None or (after <= index and d.status != "SUCCESSFUL"):
        return hook
    could_time_out = hook.timeout_action == "CONTINUE" and (hook.expires_at is None or hook.expires_at <= now)
    return hook if could_time_out else replace(hook, status="SUCCEEDED")


def ecs_type(hook: HookSpec) -> str:
    return "PAUSE" if hook.type == "Pause" else "AWS_LAMBDA"


def _slots(hooks: tuple[HookSpec, ...], path: tuple[Position, ...], reconcile: bool) -> list[_Slot]:
    out = []
    for index, pos in enumerate(path):
        if pos.optional and not reconcile:
            continue
        for hook in hooks:
            if pos.stage in hook.stages:
                out.append(_Slot(index, ecs_type(hook), hook.function_arn if hook.type == "Lambda" else None,
                                 pos.stage, pos.step))
    return out


def _free_slots(slots: list[_Slot], attributed: list[HookDetail]) -> list[_Slot]:
    taken = Counter((h.target_type, h.target_arn if h.target_type == "AWS_LAMBDA" else None, h.stage,
                     h.step.number if h.step else None) for h in attributed)
    out = []
    for slot in slots:
        if taken[slot.key] > 0:
            taken[slot.key] -= 1
        else:
            out.append(slot)
    return out


def _assign(new: list[HookDetail], free: list[_Slot], d: ObservedDeployment, hooks: tuple[HookSpec, ...], *,
            before: int, after: int) -> dict[str, _Slot | None]:
    out: dict[str, _Slot | None] = {}
    low, high = max(before, 0), max(after, before, 0)
    rolling_back = d.status in ROLLBACK_STATUSES
    for group in _groups(new):
        fitting = [s for s in free if _fits(group[0], s)]
        chosen = [s for s in fitting if low <= s.index <= high][-len(group):]
        # outside the window: the nearest earlier slots first, then later ones (ECS listed a hook early)
        outside = sorted((s for s in fitting if s.index < low), key=lambda s: -s.index)
        outside += [s for s in fitting if s.index > high]
        if not rolling_back:
            chosen += outside[:len(group) - len(chosen)]
        chosen.sort(key=lambda s: s.index)
        for slot in chosen:
            free.remove(slot)
        for i, hook in enumerate(group):
            slot = chosen[i] if i < len(chosen) else _rollback_slot(hook, d, hooks)
            if slot is None and rolling_back:
                slot = next((s for s in outside if s in free), None)
                if slot is not None:
                    free.remove(slot)
            out[hook.hook_id] = slot
    return out


def _groups(new: list[HookDetail]) -> list[list[HookDetail]]:
    """New hooks grouped by kind (type, and the function for Lambda hooks), in the order ECS lists them."""
    groups: dict[tuple[str, str | None], list[HookDetail]] = {}
    for hook in new:
        kind = (hook.target_type, hook.target_arn if hook.target_type == "AWS_LAMBDA" else None)
        groups.setdefault(kind, []).append(hook)
    return list(groups.values())


def _fits(hook: HookDetail, slot: _Slot) -> bool:
    """Same type; for Lambda the same function (ECS reports the hookTargetArn the spec configured)."""
    return slot.target_type == hook.target_type and (hook.target_type != "AWS_LAMBDA"
                                                     or slot.target_arn == hook.target_arn)


def _rollback_slot(hook: HookDetail, d: ObservedDeployment, hooks: tuple[HookSpec, ...]) -> _Slot | None:
    stage = d.lifecycle_stage
    if d.status not in ROLLBACK_STATUSES or stage is None:
        return None
    for spec in hooks:
        if stage in spec.stages and ecs_type(spec) == hook.target_type and (
                hook.target_type != "AWS_LAMBDA" or spec.function_arn == hook.target_arn):
            return _Slot(-1, hook.target_type, hook.target_arn, stage, None)
    return None
