// Package registry is the one shape of netlab's registries (kube-proxy
// modes, CNI plugins, and what scenarios know of them): named values that
// implementations add from their init functions and callers look up.
package registry

import (
	"maps"
	"slices"
	"sync"
)

// Of holds values of one kind by name. The zero value is ready to use.
type Of[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Put adds v under name; a name put again replaces the first (tests
// register fakes).
func (r *Of[T]) Put(name string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]T{}
	}
	r.m[name] = v
}

// Get returns the value of a name.
func (r *Of[T]) Get(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names lists the names, sorted.
func (r *Of[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.m))
}

// All lists the values in the order of their names.
func (r *Of[T]) All() []T {
	names := r.Names()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]T, 0, len(names))
	for _, n := range names {
		out = append(out, r.m[n])
	}
	return out
}
