// argocd-lua runs Argo CD resource health scripts the way Argo CD does (util/lua in argo-cd), with the same Lua
// runtime, github.com/yuin/gopher-lua, so that the checks in docs/argocd.md are tested by what will run them
// (operator/test/argocd/health.test.ts). Argo CD's own lua package is not used: it does not build from the module
// proxy here.
//
// Input on stdin: {"cases": [{"script": "<lua>", "obj": {<the resource as JSON>}}, ...]}.
// Output on stdout: one result per case, in order: {"status": "...", "message": "..."} or {"error": "..."}.
//
// What is reproduced from Argo CD: a fresh state per script with only the package, base and table libraries open
// (no string, math, io or os library: a script that calls string.format fails here as it does in Argo CD); the
// object as a global `obj`, decoded from JSON into nested tables (numbers become Lua numbers, null becomes nil);
// a one-second limit; the value the chunk returns read as {status, message}, where a status Argo CD does not know
// becomes Unknown and anything but a table is an error. Not reproduced: Argo CD's reduced `os` library (our scripts do
// not use it, so a script that does fails here with an error rather than passing unnoticed).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type testCase struct {
	Script string         `json:"script"`
	Obj    map[string]any `json:"obj"`
}

type result struct {
	Status  *string `json:"status,omitempty"`
	Message *string `json:"message,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// The health codes Argo CD accepts from a script (gitops-engine pkg/health).
var validStatus = map[string]bool{
	"Unknown": true, "Progressing": true, "Healthy": true, "Suspended": true, "Degraded": true, "Missing": true,
}

func main() {
	var input struct {
		Cases []testCase `json:"cases"`
	}
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&input); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: stdin is not {\"cases\": [...]}: %v\n", err)
		os.Exit(2)
	}
	out := make([]result, 0, len(input.Cases))
	for _, c := range input.Cases {
		status, message, err := health(c.Script, c.Obj)
		if err != nil {
			out = append(out, result{Error: err.Error()})
			continue
		}
		out = append(out, result{Status: &status, Message: &message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "argocd-lua: %v\n", err)
		os.Exit(1)
	}
}

func health(script string, obj map[string]any) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", fmt.Errorf("opening %s: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret := l.Get(-1)
	table, ok := ret.(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("the script returned a %s, not a table", ret.Type())
	}
	status, err := field(table, "status")
	if err != nil {
		return "", "", err
	}
	message, err := field(table, "message")
	if err != nil {
		return "", "", err
	}
	if !validStatus[status] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return status, message, nil
}

// field reads a string field of the returned table; Argo CD decodes the table through JSON into string fields, so a
// number or a table there is an error, and an absent field is empty.
func field(t *lua.LTable, name string) (string, error) {
	v := t.RawGetString(name)
	switch v.Type() {
	case lua.LTNil:
		return "", nil
	case lua.LTString:
		return string(v.(lua.LString)), nil
	default:
		return "", fmt.Errorf("the returned table's %s is a %s, not a string", name, v.Type())
	}
}

// decode turns a JSON value into Lua values as Argo CD does for the live object.
func decode(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decode(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decode(l, item))
		}
		return tbl
	}
	return lua.LNil
}
