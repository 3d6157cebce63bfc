-- Reject: every pause hook of the current attempt that is AWAITING_ACTION rolls back
-- (ContinueServiceDeployment ROLLBACK). Sets ecsbg.dev/reject to status.attempt; refuses like the plugin.
local status = obj.status or {}
local name = obj.metadata.name
local attempt = status.attempt
if attempt == nil or attempt == 0 then
  error("cannot reject " .. name .. ": the operator has not started an attempt yet", 0)
end
local awaiting = false
for _, hook in ipairs(status.hooks or {}) do
  if hook.status == "AWAITING_ACTION" then
    awaiting = true
  end
end
if not awaiting then
  error("cannot reject " .. name .. ": no lifecycle hook of attempt " .. attempt .. " is awaiting approval (phase "
    .. (status.phase or "not reconciled yet") .. ")", 0)
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ecsbg.dev/reject"] = "" .. attempt
return obj
