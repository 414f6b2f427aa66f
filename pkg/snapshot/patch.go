package snapshot

import (
	"encoding/json"
	"fmt"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

// ObjectPatch is a change to one object: an RFC 7386 JSON merge patch of
// the object (kubectl patch --type merge), or, with Create, the whole new
// object (kubectl apply -f).
type ObjectPatch struct {
	ObjectKey
	Create     bool
	MergePatch []byte
}

// Identity is a key for caches: two patches with the same identity change
// the snapshot the same way.
func (p ObjectPatch) Identity() string {
	return fmt.Sprintf("%s|%t|%s", p.ObjectKey, p.Create, p.MergePatch)
}

// PatchOverlay turns patches into an overlay on s: each patch is applied to
// the object of s it names (created from nothing when Create, or when s
// has no such object). Patches of the same object apply in order.
func (s *Snapshot) PatchOverlay(patches ...ObjectPatch) (*Overlay, error) {
	o := &Overlay{}
	done := map[ObjectKey][]byte{}
	for _, p := range patches {
		base := done[p.ObjectKey]
		if base == nil && !p.Create {
			b, err := s.objectJSON(p.ObjectKey)
			if err != nil {
				return nil, err
			}
			base = b
		}
		if base == nil {
			base = []byte("{}")
		}
		out, err := MergePatch(base, p.MergePatch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.ObjectKey, err)
		}
		done[p.ObjectKey] = out
	}
	for _, p := range patches {
		b, ok := done[p.ObjectKey]
		if !ok {
			continue
		}
		delete(done, p.ObjectKey)
		if err := o.put(p.Kind, b); err != nil {
			return nil, fmt.Errorf("%s: %w", p.ObjectKey, err)
		}
	}
	return o, nil
}

// objectJSON is the object of s that k names, as JSON; nil when s has none.
func (s *Snapshot) objectJSON(k ObjectKey) ([]byte, error) {
	var found any
	find := func(ns, name string, o any) {
		if found == nil && ns == k.Namespace && name == k.Name {
			found = o
		}
	}
	switch k.Kind {
	case "Namespace":
		for i := range s.Namespaces {
			find("", s.Namespaces[i].Name, &s.Namespaces[i])
		}
	case "Pod":
		for i := range s.Pods {
			find(s.Pods[i].Namespace, s.Pods[i].Name, &s.Pods[i])
		}
	case "Service":
		for i := range s.Services {
			find(s.Services[i].Namespace, s.Services[i].Name, &s.Services[i])
		}
	case "EndpointSlice":
		for i := range s.EndpointSlices {
			find(s.EndpointSlices[i].Namespace, s.EndpointSlices[i].Name, &s.EndpointSlices[i])
		}
	case "PeerAuthentication":
		for _, o := range s.PeerAuthentications {
			find(o.Namespace, o.Name, o)
		}
	case "AuthorizationPolicy":
		for _, o := range s.AuthorizationPolicies {
			find(o.Namespace, o.Name, o)
		}
	case "DestinationRule":
		for _, o := range s.DestinationRules {
			find(o.Namespace, o.Name, o)
		}
	case "VirtualService":
		for _, o := range s.VirtualServices {
			find(o.Namespace, o.Name, o)
		}
	case "Sidecar":
		for _, o := range s.Sidecars {
			find(o.Namespace, o.Name, o)
		}
	case "ServiceEntry":
		for _, o := range s.ServiceEntries {
			find(o.Namespace, o.Name, o)
		}
	default:
		return nil, fmt.Errorf("kind %s cannot be patched in a snapshot", k.Kind)
	}
	if found == nil {
		return nil, nil
	}
	return json.Marshal(found)
}

// put decodes one object of kind into the overlay.
func (o *Overlay) put(kind string, b []byte) error {
	x := &o.Objects
	switch kind {
	case "Namespace":
		return decodeInto(b, &x.Namespaces)
	case "Pod":
		return decodeInto(b, &x.Pods)
	case "Service":
		return decodeInto(b, &x.Services)
	case "EndpointSlice":
		return decodeInto(b, &x.EndpointSlices)
	case "PeerAuthentication":
		return decodePtr[securityv1.PeerAuthentication](b, &x.PeerAuthentications)
	case "AuthorizationPolicy":
		return decodePtr[securityv1.AuthorizationPolicy](b, &x.AuthorizationPolicies)
	case "DestinationRule":
		return decodePtr[networkingv1.DestinationRule](b, &x.DestinationRules)
	case "VirtualService":
		return decodePtr[networkingv1.VirtualService](b, &x.VirtualServices)
	case "Sidecar":
		return decodePtr[networkingv1.Sidecar](b, &x.Sidecars)
	case "ServiceEntry":
		return decodePtr[networkingv1.ServiceEntry](b, &x.ServiceEntries)
	}
	return fmt.Errorf("kind %s cannot be put in a snapshot", kind)
}

func decodeInto[T any](b []byte, list *[]T) error {
	var o T
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*list = append(*list, o)
	return nil
}

func decodePtr[T any](b []byte, list *[]*T) error {
	o := new(T)
	if err := json.Unmarshal(b, o); err != nil {
		return err
	}
	*list = append(*list, o)
	return nil
}

// MergePatch applies an RFC 7386 JSON merge patch to doc: objects merge
// key by key, null removes a key, anything else (lists included) replaces.
func MergePatch(doc, patch []byte) ([]byte, error) {
	var d, p any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("the object is not JSON: %w", err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("the merge patch is not JSON: %w", err)
	}
	return json.Marshal(mergeValue(d, p))
}

func mergeValue(d, p any) any {
	pm, ok := p.(map[string]any)
	if !ok {
		return p
	}
	dm, ok := d.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	out := make(map[string]any, len(dm)+len(pm))
	for k, v := range dm {
		out[k] = v
	}
	for k, v := range pm {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergeValue(out[k], v)
	}
	return out
}
