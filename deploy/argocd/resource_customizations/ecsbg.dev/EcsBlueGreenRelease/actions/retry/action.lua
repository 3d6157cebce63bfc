-- Retry: a new attempt of the same spec after the current one ended RolledBack or Failed, or drifted.
-- Sets ecsbg.dev/retry to status.attempt; refuses like the plugin.
local retryable = { RolledBack = true, Failed = true }
local status = obj.status or {}
local name = obj.metadata.name
local attempt = status.attempt
if attempt == nil or attempt == 0 then
  error("cannot retry " .. name .. ": the operator has not started an attempt yet", 0)
end
if retryable[status.phase] ~= true and status.drift == nil then
  error("cannot retry " .. name .. ": retry applies after the attempt ended RolledBack or Failed, or drifted; it is "
    .. (status.phase or "not reconciled yet"), 0)
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ecsbg.dev/retry"] = "" .. attempt
return obj
