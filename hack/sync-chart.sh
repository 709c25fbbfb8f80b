#!/usr/bin/env bash
# Copies what controller-gen generates into the Helm chart, so the chart
# installs exactly the CRD and RBAC the code declares. Run by
# `make manifests`; `make verify-generated` fails when the copies drift.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=charts/flashduty-operator
crd=config/crd/bases/flashduty.flashcat.cloud_flashdutyrunners.yaml
{
  echo "{{- if .Values.crds.enabled }}"
  echo "# Generated from $crd by hack/sync-chart.sh; do not edit."
  echo "# In templates/ (not crds/) so that helm upgrade updates it; kept on"
  echo "# uninstall so that users' FlashdutyRunners survive."
  awk '{print} /^  annotations:$/ && !done {print "    helm.sh/resource-policy: keep"; done=1}' "$crd"
  echo "{{- end }}"
} > "$chart/templates/crds.yaml"
{
  echo "# Generated from config/rbac/role.yaml by hack/sync-chart.sh; do not edit."
  sed -n '/^rules:$/,$p' config/rbac/role.yaml | tail -n +2
} > "$chart/files/manager-rules.yaml"
cp config/admission/policy.yaml "$chart/files/admission-policy.yaml"
