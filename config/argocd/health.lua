-- Argo CD health check for FlashdutyRunner (flashduty.flashcat.cloud).
-- Install under resource.customizations.health.flashduty.flashcat.cloud_FlashdutyRunner
-- in argocd-cm (docs/gitops.md). Reads the kstatus conditions the operator
-- writes: Stalled is Degraded, paused is Suspended, Ready is Healthy, and
-- anything else (Reconciling, an unobserved generation) is Progressing.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the change"
  return hs
end
local ready, stalled, reconciling = nil, nil, nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
  if c.type == "Reconciling" then reconciling = c end
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. stalled.message
  return hs
end
if ready ~= nil and ready.status == "True" then
  if obj.spec ~= nil and obj.spec.paused == true then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
if reconciling ~= nil then
  hs.message = reconciling.message
elseif ready ~= nil then
  hs.message = ready.message
end
return hs
