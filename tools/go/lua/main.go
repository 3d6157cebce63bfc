// argocd-lua runs an Argo CD resource health script in gopher-lua, set up the way Argo CD's util/lua/lua.go
// does it: no standard libraries but package, base, table and a safe os, a 1-second
// context, and the object as the global `obj`. It reads the script path as the first argument and a JSON array of
// objects on stdin, and writes a JSON array with one {"status", "message"} (or {"error"}) per object.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// The statuses Argo CD accepts; any other is reported as Unknown (isValidHealthStatusCode).
var valid = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true,
	"Missing": true, "Unknown": true}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua HEALTH.lua < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua:", err)
		os.Exit(2)
	}
	var objects []interface{}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber()
	if err := decoder.Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua: reading a JSON array of objects on stdin:", err)
		os.Exit(2)
	}
	verdicts := make([]verdict, 0, len(objects))
	for _, object := range objects {
		verdicts = append(verdicts, health(string(script), object))
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdicts); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-lua:", err)
		os.Exit(1)
	}
}

func health(script string, object interface{}) verdict {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true},
			lua.LString(lib.name)); err != nil {
			return verdict{Error: err.Error()}
		}
	}
	l.PreloadModule(lua.OsLibName, openSafeOs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, object))
	if err := l.DoString(script); err != nil {
		return verdict{Error: err.Error()}
	}
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return verdict{Error: fmt.Sprintf("expect table output from Lua script, not %s", l.Get(-1).Type())}
	}
	status, message := lua.LVAsString(result.RawGetString("status")), lua.LVAsString(result.RawGetString("message"))
	if !valid[status] {
		return verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	return verdict{Status: status, Message: message}
}

// openSafeOs stands for Argo CD's safe os library (os.time and os.date only). The health script reads no clock,
// so only os.time is provided: a script calling os.date fails here, loudly, rather than differing silently.
func openSafeOs(l *lua.LState) int {
	table := l.NewTable()
	l.SetFuncs(table, map[string]lua.LGFunction{
		"time": func(l *lua.LState) int { l.Push(lua.LNumber(time.Now().Unix())); return 1 },
	})
	l.SetGlobal(lua.OsLibName, table)
	l.Push(table)
	return 1
}

// decode converts a JSON value the way Argo CD's decodeValue does (numbers become Lua numbers).
func decode(l *lua.LState, value interface{}) lua.LValue {
	switch typed := value.(type) {
	case bool:
		return lua.LBool(typed)
	case string:
		return lua.LString(typed)
	case json.Number:
		f, _ := typed.Float64()
		return lua.LNumber(f)
	case []interface{}:
		table := l.CreateTable(len(typed), 0)
		for _, item := range typed {
			table.Append(decode(l, item))
		}
		return table
	case map[string]interface{}:
		table := l.CreateTable(0, len(typed))
		for key, item := range typed {
			table.RawSetH(lua.LString(key), decode(l, item))
		}
		return table
	}
	return lua.LNil
}
