-- Argo CD resource actions of an ecsbg.dev/EcsBlueGreenRelease (deploy/argocd/README.md, "Actions").
-- Lua 5.1 with Argo CD's closed libraries (no string or math). Each action sets the request annotation
-- ecsbg.dev/<action> to the current status.attempt, exactly as `kubectl ecsrelease <action>` does, so the operator
-- acts once and a stale button press never acts on a later attempt. The rules below are the plugin's
-- (ecsbg.plugin.operations): an action that would be ignored is disabled.
local abortable = { Pending = true, Deploying = true, AwaitingApproval = true, Baking = true }
local retryable = { RolledBack = true, Failed = true }

local status = obj.status or {}
local started = status.attempt ~= nil and status.attempt ~= 0

local awaiting = false
if status.hooks ~= nil then
  for _, hook in ipairs(status.hooks) do
    if hook.status == "AWAITING_ACTION" then
      awaiting = true
    end
  end
end

local actions = {}
actions["approve"] = { disabled = not (started and awaiting), displayName = "Approve (continue the paused deployment)",
  iconClass = "fa fa-fw fa-check" }
actions["reject"] = { disabled = not (started and awaiting), displayName = "Reject (ECS rolls back)",
  iconClass = "fa fa-fw fa-times" }
actions["abort"] = { disabled = not (started and abortable[status.phase] == true),
  displayName = "Abort (ECS rolls back)", iconClass = "fa fa-fw fa-stop" }
actions["retry"] = { disabled = not (started and (retryable[status.phase] == true or status.drift ~= nil)),
  displayName = "Retry (a new attempt of the same spec)", iconClass = "fa fa-fw fa-redo-alt" }
return actions
