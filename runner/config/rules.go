package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flashcatcloud/flashduty-runner-k8s/runner/permission"
)

// maxRules bounds one rule list; the CRD enforces the same bound.
const maxRules = 512

// Rule is one pattern and what to do when it matches.
type Rule struct {
	Pattern string            `yaml:"pattern" json:"pattern"`
	Action  permission.Action `yaml:"action" json:"action"`
	// Line is where the rule stood in the file, for error messages.
	Line int `yaml:"-" json:"-"`
}

// Rules is an ordered rule list; the last matching rule wins.
//
// In YAML it is written either as a mapping (the seed's form, pattern →
// action, order kept) or as a sequence of {pattern, action} objects (the
// form the operator renders, which also allows a pattern twice).
type Rules []Rule

// UnmarshalYAML reads both forms, keeping the order written.
func (r *Rules) UnmarshalYAML(node *yaml.Node) error {
	out := Rules{} // non-nil: a present but empty list differs from an absent one
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a rule is `\"pattern\": allow|deny`", k.Line)
			}
			out = append(out, Rule{Pattern: k.Value, Action: permission.Action(v.Value), Line: k.Line})
		}
	case yaml.SequenceNode:
		for _, item := range node.Content {
			var rule struct {
				Pattern string            `yaml:"pattern"`
				Action  permission.Action `yaml:"action"`
			}
			if item.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: a rule is {pattern: ..., action: allow|deny}", item.Line)
			}
			if err := checkKeys(item, []string{"pattern", "action"}); err != nil {
				return err
			}
			if err := item.Decode(&rule); err != nil {
				return fmt.Errorf("line %d: %w", item.Line, err)
			}
			out = append(out, Rule{Pattern: rule.Pattern, Action: rule.Action, Line: item.Line})
		}
	case yaml.ScalarNode:
		if node.Tag == "!!null" {
			*r = out
			return nil
		}
		return fmt.Errorf("line %d: rules must be a mapping or a list, got %q", node.Line, node.Value)
	default:
		return fmt.Errorf("line %d: rules must be a mapping or a list", node.Line)
	}
	*r = out
	return nil
}

// Validate checks every rule; field names the list in messages.
func (r Rules) Validate(field string) error {
	var errs []error
	if len(r) > maxRules {
		errs = append(errs, fmt.Errorf("%s: has %d rules, at most %d are allowed", field, len(r), maxRules))
	}
	for i, rule := range r {
		where := fmt.Sprintf("%s[%d]", field, i)
		if rule.Line > 0 {
			where += fmt.Sprintf(" (line %d)", rule.Line)
		}
		if strings.TrimSpace(rule.Pattern) == "" {
			errs = append(errs, fmt.Errorf("%s: pattern is empty", where))
		}
		if !rule.Action.Valid() {
			errs = append(errs, fmt.Errorf("%s: action %q for pattern %q must be allow or deny", where, rule.Action, rule.Pattern))
		}
	}
	return errors.Join(errs...)
}

// Preset returns a fresh copy of a named preset's bash rules. The empty
// name is the empty preset.
func Preset(name string) (Rules, bool) {
	allow := func(patterns ...string) Rules {
		out := make(Rules, 0, len(patterns)+1)
		out = append(out, Rule{Pattern: "*", Action: permission.Deny})
		for _, p := range patterns {
			out = append(out, Rule{Pattern: p, Action: permission.Allow})
		}
		return out
	}
	switch name {
	case "":
		return Rules{}, true
	case "strict":
		return allow("kubectl get *", "kubectl describe *", "kubectl logs *", "cat *", "ls *"), true
	case "readonly":
		// Read-only use as the program knowledge says it (docs/permissions.md).
		return allow("@readonly"), true
	case "kubernetes-readonly":
		return allow("@kubernetes-readonly"), true
	case "trust":
		return Rules{{Pattern: "*", Action: permission.Allow}, {Pattern: "rm -rf /", Action: permission.Deny}}, true
	}
	return nil, false
}

// PresetNames lists the known presets, sorted.
func PresetNames() []string {
	return []string{"kubernetes-readonly", "readonly", "strict", "trust"}
}

// Policy compiles the rules, in order, into a permission.Policy.
func (r Rules) Policy() (*permission.Policy, error) { return r.PolicyWith(permission.Options{}) }

// PolicyWith compiles the rules, in order, into a permission.Policy for a
// runner with these options: the one place configuration rules become a
// policy.
func (r Rules) PolicyWith(o permission.Options) (*permission.Policy, error) {
	out := make([]permission.Rule, len(r))
	for i, rule := range r {
		out[i] = permission.Rule{Pattern: rule.Pattern, Action: rule.Action}
	}
	p, err := permission.CompileWith(out, o)
	if err != nil {
		return nil, fmt.Errorf("compile permission rules: %w", err)
	}
	return p, nil
}
