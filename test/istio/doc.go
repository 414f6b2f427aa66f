// Package istiodiff holds differential tests between kubectl-podreach's
// model and Istio's own control-plane code.
//
// TestDifferential and TestNameTable (sidecar mode) run the harness of
// package oracle, which test/istio-1.27 shares. TestAmbient (ambient mode)
// is built here only, against Istio 1.31: on every world with an ambient pod
// or namespace (examples/, worlds/, ../ztunnel/worlds/) it starts the fake
// discovery server with features.EnableAmbient and compares podreach's
// report with
//
//   - istiod's ambient index (what istiod sends ztunnel): each pod's
//     Workload.tunnel_protocol, Workload.waypoint and identity
//     (source/destination.ambient), each Service's waypoint
//     (requests[].ambient.serviceWaypoint on VIP forms);
//   - the source ztunnel's outbound choice, derived from that index the way
//     ztunnel's src/proxy/outbound.rs build_request does (service waypoint,
//     endpoint, workload waypoint, HBONE or TCP, passthrough; host-network
//     workloads are not addresses: src/state/workload.rs):
//     requests[].ambient.path, .waypoint, requests[].tls, and a failing
//     verdict for a Service without endpoints;
//   - a sidecar caller's hop, from its own listeners, routes and EDS
//     (oracle.SidecarSends): HBONE only to an endpoint istiod gives as the
//     connect_originate internal address;
//   - the waypoint's Envoy configuration (SetupProxy Type model.Waypoint):
//     the main_internal chain picked by walking its FilterChainMatcher, the
//     route and cluster simulated from it, and its RBAC decision
//     (requests[].ambient.waypointRoute, .waypointCluster,
//     .waypointAuthorization);
//   - the destination ztunnel's L4 decision on the Authorizations as istiod
//     converted them (istio_converted_static_strict included), evaluated by
//     a Go transcription of ztunnel's src/rbac.rs and src/state.rs
//     assert_rbac (TestZtunnelRBAC: rbac.rs's own test cases), for the
//     connection as it arrives: the caller's identity over HBONE, the
//     waypoint's after a waypoint, none for plaintext
//     (inbound.authorization.decision and .policy).
//
// Not compared: bypassedWaypoint (podreach's own notion), balancing,
// HTTPRoutes/VirtualServices bound to a waypoint (podreach does not model
// them and no world has one; the waypoint's route would show them),
// ztunnel's per-connection endpoint choice (podreach's pick stands when it
// is one of the Service's endpoints), multi-network and E/W gateways,
// weighted waypoints.
package istiodiff
