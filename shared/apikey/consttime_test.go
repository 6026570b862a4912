package apikey

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretComparisonsAreConstantTime replaces a timing test that could
// not fail: comparing two 32-byte digests with bytes.Equal takes the same
// few nanoseconds whether they differ in the first byte or the last, so no
// timing test tells the two apart on a noisy machine. Instead, this reads
// the source of every package that compares token-derived bytes and fails
// on any comparison that is not crypto/subtle's: bytes.Equal, bytes.Compare,
// reflect.DeepEqual, or == and != on arrays, slices and strings derived
// from digests, tags, verifiers or secrets.
func TestSecretComparisonsAreConstantTime(t *testing.T) {
	forbiddenCalls := map[string]bool{"bytes.Equal": true, "bytes.Compare": true, "reflect.DeepEqual": true, "strings.Compare": true, "slices.Equal": true}
	secretish := []string{"digest", "tag", "verifier", "secret", "want", "got", "sum", "mac", "material"}
	isSecretish := func(e ast.Expr) bool {
		name := ""
		switch x := e.(type) {
		case *ast.Ident:
			name = x.Name
		case *ast.SliceExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				name = id.Name
			}
		case *ast.SelectorExpr:
			name = x.Sel.Name
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
				name = sel.Sel.Name
			}
		}
		name = strings.ToLower(name)
		if name == "d" || name == "e.digest" {
			return true
		}
		for _, s := range secretish {
			if strings.HasPrefix(name, s) || strings.HasSuffix(name, s) {
				return true
			}
		}
		return false
	}
	var files []string
	for _, dir := range []string{".", "../authorizer"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	if len(files) < 4 {
		t.Fatalf("found only %v: the check would pass vacuously", files)
	}
	fset := token.NewFileSet()
	compares := 0
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
					if pkg, ok := sel.X.(*ast.Ident); ok {
						name := pkg.Name + "." + sel.Sel.Name
						if forbiddenCalls[name] {
							t.Errorf("%s: %s is not constant-time; use crypto/subtle", fset.Position(x.Pos()), name)
						}
						if name == "subtle.ConstantTimeCompare" {
							compares++
						}
					}
				}
			case *ast.BinaryExpr:
				_, litX := x.X.(*ast.BasicLit)
				_, litY := x.Y.(*ast.BasicLit)
				if (x.Op == token.EQL || x.Op == token.NEQ) && !litX && !litY && (isSecretish(x.X) || isSecretish(x.Y)) {
					t.Errorf("%s: == on secret-derived bytes; use crypto/subtle", fset.Position(x.Pos()))
				}
			}
			return true
		})
	}
	// Verify (HMAC and argon2id), Authenticate, and the authorizer's
	// cache-hit comparison.
	if compares < 4 {
		t.Fatalf("found %d subtle.ConstantTimeCompare calls, want at least 4: a comparison was replaced", compares)
	}
}
