-- Abort: ECS stops the current attempt's deployment and rolls back (StopServiceDeployment ROLLBACK).
-- Sets ecsbg.dev/abort to status.attempt; refuses like the plugin.
local abortable = { Pending = true, Deploying = true, AwaitingApproval = true, Baking = true }
local status = obj.status or {}
local name = obj.metadata.name
local attempt = status.attempt
if attempt == nil or attempt == 0 then
  error("cannot abort " .. name .. ": the operator has not started an attempt yet", 0)
end
if abortable[status.phase] ~= true then
  error("cannot abort " .. name .. ": abort applies while the release is Pending, Deploying, AwaitingApproval, "
    .. "Baking; it is " .. (status.phase or "not reconciled yet"), 0)
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ecsbg.dev/abort"] = "" .. attempt
return obj
