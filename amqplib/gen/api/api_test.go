package main

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// go doc of each user package reads like its manual: the dial functions,
// Conn and Channel with every method a program calls, no wire structs, and
// no way into the engine.
func TestUserPackagesAPI(t *testing.T) {
	for _, dir := range []string{"../../../client091", "../../../client08"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range pkgs {
			d := doc.New(&ast.Package{Name: name, Files: p.Files}, "example.com/"+name, 0)
			var types []string
			for _, ty := range d.Types {
				types = append(types, ty.Name)
			}
			slices.Sort(types)
			if !slices.Equal(types, []string{"Channel", "Conn", "DialOption"}) {
				t.Errorf("%s exports types %v, want only Channel, Conn and DialOption (the OnConnect hook)", name, types)
			}
			for _, ty := range d.Types {
				var methods []string
				for _, m := range ty.Methods {
					methods = append(methods, m.Name)
					if m.Doc == "" {
						t.Errorf("%s.%s.%s has no doc comment", name, ty.Name, m.Name)
					}
				}
				want := map[string][]string{
					"Channel": {"Wait", "WaitTimeout", "WaitContext", "Close", "CloseWith", "Err", "Done", "IsClosed", "Pending", "OnReturn", "OnCancel", "TxSelect", "TxCommit", "TxRollback", "WithContext", "Publish", "Get", "Consume"},
					"Conn":    {"Channel", "Close", "CloseWith", "Err", "Done", "State", "OnClose", "OnFlow", "RemoteAddr", "LocalAddr", "WithContext"},
				}[ty.Name]
				for _, w := range want {
					if !slices.Contains(methods, w) {
						t.Errorf("go doc %s %s does not list %s", name, ty.Name, w)
					}
				}
				if slices.Contains(methods, "Engine") {
					t.Errorf("%s.%s exports Engine, a way into the engine", name, ty.Name)
				}
			}
		}
	}
}
