-- Argo CD health of an ecsbg.dev/EcsBlueGreenRelease (docs/observability.md, "Argo CD").
-- Lua 5.1 with Argo CD's closed libraries: no string or math library, only `..`, `==` and ipairs.
--
-- While a pause hook waits for a person (phase AwaitingApproval) the release is Suspended by default: Argo CD's
-- "paused, waiting for an external event". A sync with waves or hooks does not finish while a resource is
-- Suspended or Progressing. To show Progressing (or Healthy, letting later sync waves go on) instead, change
-- approvalHealth below, or set the annotation ecsbg.dev/argocd-approval-health on the release.
-- A release with the Drifted condition (ECS changed out of band) is Degraded whatever its phase; one whose next
-- attempt spec.paused holds (the Paused condition) is Suspended.
-- A pause an automated analysis is deciding (its run is Running, or its verdict's call was sent) needs no person:
-- Progressing. An analysis that ended Inconclusive (or in Error) leaves the pause to a person: like an approval.
local approvalHealth = "Suspended"

local byPhase = {
  Pending = "Progressing",
  Deploying = "Progressing",
  Baking = "Progressing",
  RollingBack = "Progressing",
  AwaitingApproval = "Suspended",
  Succeeded = "Healthy",
  RolledBack = "Degraded",
  Failed = "Degraded",
  Invalid = "Degraded",
}
local approvalChoices = { Suspended = true, Progressing = true, Healthy = true }

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(status, fallback)
  local text = status.message
  if text == nil or text == "" then
    return fallback
  end
  return fallback .. ": " .. text
end

local function approvalHealthOf(object)
  local annotations = object.metadata.annotations
  if annotations ~= nil then
    local wanted = annotations["ecsbg.dev/argocd-approval-health"]
    if wanted ~= nil and approvalChoices[wanted] then
      return wanted
    end
  end
  return approvalHealth
end

local function analysisDecides(status)
  if status.analysisRuns == nil or status.hooks == nil then
    return false
  end
  local waiting = {}
  for _, h in ipairs(status.hooks) do
    if h.status == "AWAITING_ACTION" and h.hookId ~= nil then
      waiting[h.hookId] = true
    end
  end
  for _, run in ipairs(status.analysisRuns) do
    if run.attempt == status.attempt and run.hookId ~= nil and waiting[run.hookId] then
      if run.phase == "Running" or run.action ~= nil then
        return true
      end
    end
  end
  return false
end

local hs = {}
local status = obj.status
-- observedGeneration first: until the operator has seen this generation, status describes an older spec.
-- The CRD defaults it to -1, so a release nobody reconciled yet is never judged by an empty status.
if status == nil or status.observedGeneration == nil or status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the ecsbg operator to observe the latest spec"
  return hs
end

-- Drifted first: a Succeeded release whose service was changed out of band (aws ecs update-service) no longer
-- runs what Git says. Its message names each differing field with both values.
local drifted = condition(status, "Drifted")
if drifted ~= nil and drifted.status == "True" then
  hs.status = "Degraded"
  hs.message = "Drifted: " .. (drifted.message or "ECS no longer runs what the release deployed")
  return hs
end

-- spec.paused holds the next attempt (Argo Rollouts' paused Rollout is Suspended too): the status is the last
-- attempt's, and status.plan shows what the held one would deploy.
local paused = condition(status, "Paused")
if paused ~= nil and paused.status == "True" then
  hs.status = "Suspended"
  hs.message = "Paused: " .. (status.message or "spec.paused holds the next attempt")
  return hs
end

local phase = status.phase
local health = byPhase[phase]
if phase == "AwaitingApproval" then
  if analysisDecides(status) then
    health = "Progressing"
  else
    health = approvalHealthOf(obj)
  end
end
-- Reading ECS failing keeps the phase (the last known state); once it has lasted long enough the operator sets
-- Stalled with the same reason as ObservationFailed: the release is then Degraded whatever its phase.
local observation = condition(status, "ObservationFailed")
local stalledNow = condition(status, "Stalled")
if observation ~= nil and observation.status == "True" and stalledNow ~= nil and stalledNow.status == "True"
    and stalledNow.reason == observation.reason then
  health = "Degraded"
end
if health ~= nil then
  hs.status = health
  hs.message = describe(status, phase)
  if health ~= "Degraded" and observation ~= nil and observation.status == "True" then
    hs.message = hs.message .. "; reading ECS fails: " .. (observation.message or observation.reason or "")
  end
  return hs
end

-- No phase this script knows (a newer operator): fall back to the kstatus conditions.
local stalled = condition(status, "Stalled")
local ready = condition(status, "Ready")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
else
  hs.status = "Progressing"
  hs.message = "Waiting for the release to become Ready"
end
return hs
