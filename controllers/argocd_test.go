package controllers

import (
	"os"
	"testing"

	lua "github.com/yuin/gopher-lua"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	fdv1 "github.com/flashcatcloud/flashduty-runner-k8s/api/v1alpha1"
)

// The Argo CD health check (config/argocd/health.lua), run by a Lua
// interpreter on the statuses the operator computes.
func TestArgoCDHealth(t *testing.T) {
	script, err := os.ReadFile("../config/argocd/health.lua")
	if err != nil {
		t.Fatal(err)
	}
	zero := int32(0)
	ready := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, UpdatedReplicas: 1}}
	waiting := &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}}
	cases := []struct {
		name    string
		mutate  func(*fdv1.FlashdutyRunner)
		problem *Problem
		dep     *appsv1.Deployment
		want    string
	}{
		{"connected", nil, nil, ready, "Healthy"},
		{"connecting", nil, nil, waiting, "Progressing"},
		{"no deployment yet", nil, nil, nil, "Progressing"},
		{"missing secret", nil, &Problem{Reason: fdv1.ReasonSecretNotFound, Message: "Secret x/y not found"}, nil, "Degraded"},
		{"not allowed", nil, &Problem{Reason: fdv1.ReasonNotAllowed, Message: "host"}, nil, "Degraded"},
		{"paused", func(f *fdv1.FlashdutyRunner) { f.Spec.Paused = true }, nil, &appsv1.Deployment{}, "Suspended"},
		{"scaled to zero", func(f *fdv1.FlashdutyRunner) { f.Spec.Replicas = &zero }, nil, &appsv1.Deployment{}, "Healthy"},
	}
	for _, c := range cases {
		fdr := runner("ns", "r")
		fdr.Generation = 3
		if c.mutate != nil {
			c.mutate(fdr)
		}
		fdr.Status = ComputeStatus(fdr, c.problem, c.dep, "", SandboxReport{})
		if got, msg := argoHealth(t, string(script), fdr); got != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, got, msg, c.want)
		}
	}
	// A spec change the operator has not seen yet is in progress.
	fdr := runner("ns", "r")
	fdr.Status = ComputeStatus(fdr, nil, ready, "", SandboxReport{})
	fdr.Generation = 9
	if got, _ := argoHealth(t, string(script), fdr); got != "Progressing" {
		t.Errorf("unobserved generation: %s", got)
	}
}

// argoHealth runs the script as Argo CD does: obj is the resource, the
// script returns {status, message}.
func argoHealth(t *testing.T, script string, fdr *fdv1.FlashdutyRunner) (string, string) {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(fdr)
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	lua.OpenBase(L)
	lua.OpenString(L)
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %v", L.Get(-1))
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

// toLua converts decoded JSON into Lua values, as Argo CD does.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, x := range v {
			t.RawSetString(k, toLua(L, x))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, x := range v {
			t.Append(toLua(L, x))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	return lua.LString("")
}
