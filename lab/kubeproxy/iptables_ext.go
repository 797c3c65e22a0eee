package kubeproxy

// ---- KUBE-EXT era: 1.24+ ---------------------------------------------------
//
// syncProxyRules of 1.24-1.31 cut along its own section comments: each
// function below names the section of pkg/proxy/iptables/proxier.go it
// mirrors. 1.24 and 1.25+ (KEP-3178: dropping in the filter table) share
// the captures and differ in the order they write the per-service chains.

// extPort is one service port in a 1.24+ sync: syncProxyRules' per-port
// locals.
type extPort struct {
	*svcPort
	c                 categorized
	svc, svl, ext, fw string // clusterPolicyChain, localPolicyChain, externalTrafficChain, fwChain
	// internal / external: internalTrafficChain / externalTrafficChain
	// (KUBE-SVL- for a Local policy, else KUBE-SVC-).
	internal, external string
	// hasInternal / hasExternal: hasInternalEndpoints /
	// hasExternalEndpoints. In 1.24 a Local policy without local endpoints
	// drops in KUBE-SVL-, so both are c.hasAny there.
	hasInternal, hasExternal bool
	// internalVerdict / externalVerdict answer in the filter table when
	// hasInternal / hasExternal is false.
	internalVerdict, externalVerdict verdict
	usesEXT, usesFW                  bool   // usesExternalTrafficChain, usesFWChain
	clusterArgs                      string // the clusterIP match, reused by the masquerade
}

// syncEXT is syncProxyRules of 1.24-1.31.
func (r *renderer) syncEXT() {
	r.extChains()
	_, _, r.nodePortsOK = nodePortTargets(r.v, r.m)
	r.gateTerm = r.v.gateOn(r.m.gates, "ProxyTerminatingEndpoints")
	for _, p := range r.m.ports {
		c := categorize1_24(p, r.gateTerm)
		if r.v.hasProxyFirewall() {
			r.service1_25(p, c)
		} else {
			r.service1_24(p, c)
		}
		// "Generate the per-endpoint chains." of every locally reachable
		// endpoint.
		for _, e := range c.reachable {
			r.writeSEP(p, e)
		}
	}
	if r.nodePortsOK {
		r.nodePortDispatch(r.nat.services)
	}
	r.extForward()
	r.commit()
}

// extChains is the start of syncProxyRules: the EnsureChain/EnsureRule
// hooks, then the chains every sync declares, and from 1.27 kube-proxy's
// own KUBE-FIREWALL rule against localnet spoofing.
func (r *renderer) extChains() {
	r.ensureJumps()
	r.declareSyncChains()
	if r.v.ownsKubeFirewall() && r.localhostNodePorts {
		r.f.declare(chainFirewall).add(cmt("block incoming localnet connections") +
			" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
	}
}

// extForward writes KUBE-FORWARD (1.24+): the INVALID drop (counted from
// 1.30), the accept of marked traffic and the conntrack accept.
func (r *renderer) extForward() {
	invalid := "-m conntrack --ctstate INVALID"
	if r.v.nfacctInvalidCounter() && r.m.nfacct {
		invalid += " -m nfacct --nfacct-name " + nfacctInvalid
	}
	ffwd := r.filter.forward
	ffwd.add(invalid + " -j DROP")
	ffwd.add(cmt("kubernetes forwarding rules") + " -m mark --mark " + r.markMask + " -j ACCEPT")
	ffwd.add(cmt("kubernetes forwarding conntrack rule") + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
}

// newExtPort works out a port's chains and policies (the start of the
// loop body of syncProxyRules). From 1.25 a Local policy without local
// endpoints is answered in the filter table: hasInternal/hasExternal
// also need a local endpoint then.
func (r *renderer) newExtPort(p *svcPort, c categorized) extPort {
	x := extPort{svcPort: p, c: c,
		svc: prefixSVC + p.hash, svl: prefixSVL + p.hash, ext: prefixEXT + p.hash, fw: prefixFW + p.hash}
	dropsInFilter := r.v.hasProxyFirewall()
	x.internal, x.hasInternal = x.svc, c.hasAny
	if p.iLocal {
		x.internal = x.svl
		x.hasInternal = x.hasInternal && (len(c.local) > 0 || !dropsInFilter)
	}
	x.external, x.hasExternal = x.svc, c.hasAny
	if p.eLocal {
		x.external = x.svl
		x.hasExternal = x.hasExternal && (len(c.local) > 0 || !dropsInFilter)
	}
	x.usesEXT = c.hasAny && p.externallyAccessible()
	x.usesFW = c.hasAny && len(p.lbIP) > 0 && len(p.srcRanges) > 0
	// A verdict is only read when its hasInternal/hasExternal is false.
	switch {
	case !c.hasAny:
		x.internalVerdict = noEndpoints(p)
		x.externalVerdict = x.internalVerdict
	case !x.hasInternal || !x.hasExternal:
		x.internalVerdict = verdict{cmt(p.name + " has no local endpoints"), "DROP"}
		x.externalVerdict = x.internalVerdict
	}
	return x
}

// service1_24 is one service port in 1.24: KUBE-EXT-/KUBE-SVL- with the
// dropping still done through the kubelet's KUBE-MARK-DROP. 1.24 declares
// the policy chains and KUBE-EXT- before it writes the captures.
func (r *renderer) service1_24(p *svcPort, c categorized) {
	x := r.newExtPort(p, c)
	var svcBuf, svlBuf, fwBuf *chainBuf
	if c.hasAny && p.usesClusterEndpoints() {
		svcBuf = r.n.declare(x.svc)
	}
	if c.hasAny && p.usesLocalEndpoints() {
		svlBuf = r.n.declare(x.svl)
	}
	if x.usesEXT {
		r.externalTrafficChain(&x)
	}
	if x.usesFW {
		fwBuf = r.n.declare(x.fw)
	}
	r.extCaptures(&x)
	r.internalTraffic(&x)
	if fwBuf != nil {
		// "Set up firewall chain": per ingress IP the source ranges and a
		// drop through KUBE-MARK-DROP.
		a := cmt(p.name + " loadbalancer IP")
		for i := range p.lbIP {
			r.sourceRangeRules(fwBuf, p, a, x.ext, p.lbIP[i:i+1])
			fwBuf.add(a + " -j " + chainMarkDrop)
		}
	}
	if svcBuf != nil {
		r.serviceToEndpoints(p, svcBuf, c.cluster, r.endpointComment(p))
	}
	if svlBuf == nil {
		return
	}
	if len(c.local) == 0 {
		svlBuf.add(cmt(p.name+" has no local endpoints") + " -j " + chainMarkDrop)
		return
	}
	r.serviceToEndpoints(p, svlBuf, c.local, r.endpointComment(p))
}

// service1_25 is one service port from 1.25 (KEP-3178): "no (local)
// endpoints" and source ranges are enforced in the filter table, and the
// per-service chains are written after the captures.
func (r *renderer) service1_25(p *svcPort, c categorized) {
	x := r.newExtPort(p, c)
	r.extCaptures(&x)
	r.internalTraffic(&x)
	if x.usesEXT {
		r.externalTrafficChain(&x)
	}
	if x.usesFW {
		// "Set up firewall chain, if needed": the source ranges; what
		// they do not admit KUBE-PROXY-FIREWALL drops.
		fwBuf := r.n.declare(x.fw)
		r.sourceRangeRules(fwBuf, p, cmt(p.name+" loadbalancer IP"), x.ext, p.lbIP)
		if r.v.ownsKubeFirewall() {
			fwBuf.add(cmt("other traffic to " + p.name + " will be dropped by KUBE-PROXY-FIREWALL"))
		}
	}
	// "If Cluster policy is in use, create the chain and create rules
	// jumping from clusterPolicyChain to the clusterEndpoints", and the
	// same for the Local policy.
	if len(c.cluster) > 0 && p.usesClusterEndpoints() {
		r.serviceToEndpoints(p, r.n.declare(x.svc), c.cluster, r.endpointComment(p))
	}
	if len(c.local) > 0 && p.usesLocalEndpoints() {
		r.serviceToEndpoints(p, r.n.declare(x.svl), c.local, r.endpointComment(p))
	}
}

// extCaptures writes the "Capture ..." sections of syncProxyRules (1.24+)
// for the port's addresses, in upstream order.
func (r *renderer) extCaptures(x *extPort) {
	r.extClusterIP(x)
	r.extExternalIPs(x)
	r.extLoadBalancerIPs(x)
	if x.nodePort != 0 && r.nodePortsOK {
		r.extNodePort(x)
	}
	r.healthCheckNodePort(x.svcPort)
}

// extClusterIP is "Capture the clusterIP.": a jump to the internal
// traffic chain, or the filter verdict.
func (r *renderer) extClusterIP(x *extPort) {
	d := r.dest(x.svcPort, x.clusterIP)
	if !x.hasInternal {
		r.filter.services.add(x.internalVerdict.rule(d))
		return
	}
	x.clusterArgs = cmt(x.name+" cluster IP") + " " + d
	r.nat.services.add(x.clusterArgs + " -j " + x.internal)
}

// extExternalIPs is "Capture externalIPs.": a jump to KUBE-EXT- when the
// port has endpoints, the filter verdict when none are usable from
// outside.
func (r *renderer) extExternalIPs(x *extPort) {
	for _, e := range x.externalIP {
		d := r.dest(x.svcPort, e)
		if x.c.hasAny {
			r.nat.services.add(cmt(x.name+" external IP") + " " + d + " -j " + x.ext)
		}
		if !x.hasExternal {
			r.filter.externalServices.add(x.externalVerdict.rule(d))
		}
	}
}

// extLoadBalancerIPs is "Capture load-balancer ingress.": a jump to
// KUBE-FW- (with source ranges) or KUBE-EXT-, from 1.25 the
// KUBE-PROXY-FIREWALL drop of what KUBE-FW- does not admit, and the filter
// verdict.
func (r *renderer) extLoadBalancerIPs(x *extPort) {
	lbChain := x.ext
	if x.usesFW {
		lbChain = x.fw
	}
	pfw := r.filter.proxyFirewall
	for _, l := range x.lbIP {
		d := r.dest(x.svcPort, l)
		if x.c.hasAny {
			r.nat.services.add(cmt(x.name+" loadbalancer IP") + " " + d + " -j " + lbChain)
		}
		if x.usesFW && pfw != nil {
			pfw.add(cmt(x.name+" traffic not accepted by "+x.fw) + " " + d + " -j DROP")
		}
		if !x.hasExternal {
			r.filter.externalServices.add(x.externalVerdict.rule(d))
		}
	}
}

// extNodePort is "Capture nodeports.": the jump to KUBE-EXT- (from 1.31
// first the counted one for localhost), and the filter verdict.
func (r *renderer) extNodePort(x *extPort) {
	np := proto(x.svcPort) + dport(x.nodePort)
	if x.c.hasAny {
		if r.v.nfacctLocalhostNodePorts() && r.localhostNodePorts && r.m.nfacct {
			r.nat.nodePorts.add(cmt(x.name) + " " + proto(x.svcPort) + " -d 127.0.0.0/8" + dport(x.nodePort) +
				" -m nfacct --nfacct-name " + nfacctLocalhost + " -j " + x.ext)
		}
		r.nat.nodePorts.add(cmt(x.name) + " " + np + " -j " + x.ext)
	}
	if !x.hasExternal {
		r.filter.externalServices.add(x.externalVerdict.rule("-m addrtype --dst-type LOCAL " + np))
	}
}

// internalTraffic is "Set up internal traffic handling.": the ClusterIP
// masquerade in the internal traffic chain.
func (r *renderer) internalTraffic(x *extPort) {
	if x.hasInternal {
		r.internalMasquerade(r.n.chain(x.internal), x.clusterArgs)
	}
}

// externalTrafficChain is "Set up external traffic handling (if any
// "external" destinations are enabled).": KUBE-EXT-'s masquerade or
// short-circuit rules, then the jump to the external policy chain.
func (r *renderer) externalTrafficChain(x *extPort) {
	ext := r.n.declare(x.ext)
	if !x.eLocal {
		ext.add(cmt("masquerade traffic for "+x.name+" external destinations") + " -j " + chainMarkMasq)
	} else {
		if r.detector {
			ext.add(cmt("pod traffic for "+x.name+" external destinations") + " -s " + r.m.clusterCIDR + " -j " + x.svc)
		}
		ext.add(cmt("masquerade LOCAL traffic for "+x.name+" external destinations") + " -m addrtype --src-type LOCAL -j " + chainMarkMasq)
		ext.add(cmt("route LOCAL traffic for "+x.name+" external destinations") + " -m addrtype --src-type LOCAL -j " + x.svc)
	}
	if x.hasExternal {
		ext.add("-j " + x.external)
	}
}
