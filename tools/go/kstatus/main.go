// kstatus computes the status of Kubernetes objects with sigs.k8s.io/cli-utils/pkg/kstatus/status, the library
// Flux's health checks call for kinds without special rules. It reads a JSON array of objects on stdin and writes
// a JSON array with one {"status", "message"} (or {"error"}) per object, in order.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func main() {
	var objects []map[string]interface{}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber() // integers stay int64 as in the apiserver's decoding, not float64
	if err := decoder.Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: reading a JSON array of objects on stdin:", err)
		os.Exit(2)
	}
	verdicts := make([]verdict, 0, len(objects))
	for _, object := range objects {
		converted, ok := fromJSON(object).(map[string]interface{})
		if !ok {
			verdicts = append(verdicts, verdict{Error: "not an object"})
			continue
		}
		result, err := status.Compute(&unstructured.Unstructured{Object: converted})
		if err != nil {
			verdicts = append(verdicts, verdict{Error: err.Error()})
			continue
		}
		verdicts = append(verdicts, verdict{Status: result.Status.String(), Message: result.Message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(verdicts); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

// fromJSON turns json.Number into int64 (or float64), the types unstructured's accessors expect.
func fromJSON(value interface{}) interface{} {
	switch typed := value.(type) {
	case json.Number:
		if i, err := typed.Int64(); err == nil {
			return i
		}
		f, _ := typed.Float64()
		return f
	case map[string]interface{}:
		for key, item := range typed {
			typed[key] = fromJSON(item)
		}
		return typed
	case []interface{}:
		for i, item := range typed {
			typed[i] = fromJSON(item)
		}
		return typed
	}
	return value
}
