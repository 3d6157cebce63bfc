-- Argo CD health of an ecsbg.dev/EcsReleaseWave (docs/api.md, "Release waves").
-- Lua 5.1 with Argo CD's closed libraries: no string or math library, only `..`, `==` and ipairs.
-- A gate waiting for its approval is Suspended (like a release's pause); each child EcsBlueGreenRelease has its
-- own health (EcsBlueGreenRelease/health.lua), so the tree shows which target a wave waits for.
local byPhase = {
  Pending = "Progressing",
  Progressing = "Progressing",
  RollingBack = "Progressing",
  AwaitingApproval = "Suspended",
  Succeeded = "Healthy",
  Failed = "Degraded",
  RolledBack = "Degraded",
  Invalid = "Degraded",
}

local hs = {}
local status = obj.status
if status == nil or status.observedGeneration == nil or status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the ecsbg operator to observe the latest spec"
  return hs
end
local health = byPhase[status.phase]
if health == nil then
  -- a phase this script does not know (a newer operator): the kstatus conditions decide
  health = "Progressing"
  if status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type == "Stalled" and c.status == "True" then
        health = "Degraded"
      elseif c.type == "Ready" and c.status == "True" and health ~= "Degraded" then
        health = "Healthy"
      end
    end
  end
end
hs.status = health
hs.message = (status.phase or "Unknown") .. ": " .. (status.message or "")
if status.progress ~= nil then
  hs.message = hs.message .. " (" .. status.progress .. " targets)"
end
return hs
