package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadAssembly reads the cloud assembly in dir (the output of `cdk synth`) and returns the
// template of every CloudFormation stack, keyed by stack name. Stacks of nested assemblies
// (CDK stages) are included. An assembly without stacks (an app before its first stack) has
// no cost, not an error.
func LoadAssembly(dir string) (map[string]map[string]any, error) {
	templates := map[string]map[string]any{}
	if err := loadAssembly(dir, templates, 0); err != nil {
		return nil, err
	}
	return templates, nil
}

func loadAssembly(dir string, templates map[string]map[string]any, depth int) error {
	if depth > 10 {
		return fmt.Errorf("cloud assembly %s: nested assemblies deeper than 10 levels", dir)
	}
	manifestFile := filepath.Join(dir, "manifest.json")
	raw, err := os.ReadFile(manifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s not found: %s is not a cloud assembly (run `make synth` first, or pass the directory `cdk synth --output` wrote)", manifestFile, dir)
	}
	if err != nil {
		return err
	}
	var manifest struct {
		Artifacts map[string]struct {
			Type       string `json:"type"`
			Properties struct {
				TemplateFile  string `json:"templateFile"`
				StackName     string `json:"stackName"`
				DirectoryName string `json:"directoryName"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return fmt.Errorf("parse %s: %w", manifestFile, err)
	}
	for _, id := range sortedKeys(manifest.Artifacts) {
		a := manifest.Artifacts[id]
		switch a.Type {
		case "aws:cloudformation:stack":
			name := a.Properties.StackName
			if name == "" {
				name = id
			}
			if a.Properties.TemplateFile == "" {
				return fmt.Errorf("%s: stack %s has no templateFile", manifestFile, name)
			}
			file := filepath.Join(dir, a.Properties.TemplateFile)
			body, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("stack %s: %w", name, err)
			}
			var t map[string]any
			if err := json.Unmarshal(body, &t); err != nil {
				return fmt.Errorf("stack %s: parse %s: %w", name, file, err)
			}
			if _, dup := templates[name]; dup {
				return fmt.Errorf("stack name %s appears twice in %s", name, dir)
			}
			templates[name] = t
		case "cdk:cloud-assembly":
			if a.Properties.DirectoryName == "" {
				continue
			}
			if err := loadAssembly(filepath.Join(dir, a.Properties.DirectoryName), templates, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
