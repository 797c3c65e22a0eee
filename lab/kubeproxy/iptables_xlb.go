package kubeproxy

import (
	"net"
	"strconv"
)

// ---- KUBE-XLB era: 1.5-1.23 ----------------------------------------------
//
// syncProxyRules of 1.5-1.23 cut along its own section comments: each
// function below names the section of pkg/proxy/iptables/proxier.go it
// mirrors.

// xlbPort is one service port in a 1.5-1.23 sync: syncProxyRules' per-port
// locals (chain names, the endpoints in use, the chains written).
type xlbPort struct {
	*svcPort
	svc, xlb, fw string      // KUBE-SVC-, KUBE-XLB-, KUBE-FW-
	ready        []*endpoint // the ready endpoints (KUBE-SVC-)
	local        []*endpoint // eTP=Local: the local ones in use (KUBE-XLB-)
	hasEndpoints bool        // usable endpoints somewhere: no REJECT
	// emit: the capture rules are written (with endpoints, or always
	// before 1.10).
	emit           bool
	svcBuf, xlbBuf *chainBuf
}

// syncXLB is syncProxyRules of 1.5-1.23: KUBE-SVC- per port, KUBE-XLB- for
// eTP=Local (ESIPP), KUBE-FW- per load balancer IP, drops through the
// kubelet's KUBE-MARK-DROP.
func (r *renderer) syncXLB() {
	r.xlbChains()
	_, _, r.nodePortsOK = nodePortTargets(r.v, r.m)
	r.gateTerm = r.m.gates["ProxyTerminatingEndpoints"]
	for _, sp := range r.m.ports {
		r.xlbServicePort(sp)
	}
	if r.nodePortsOK {
		r.nodePortDispatch(r.nat.services)
	}
	r.xlbForward()
	r.commit()
}

// xlbChains is the start of syncProxyRules: the EnsureChain/EnsureRule
// hooks (iptablesJumpChains), then the chains every sync declares.
func (r *renderer) xlbChains() {
	if !r.v.hasExternalServicesChain() {
		r.st.ensureChain("filter", chainServices)
		r.st.ensureChain("nat", chainServices)
	}
	r.ensureJumps()
	r.declareSyncChains()
}

// xlbServicePort is the body of syncProxyRules' loop over the service
// ports, section by section.
func (r *renderer) xlbServicePort(sp *svcPort) {
	p := r.xlbEndpoints(sp)
	if p.emit {
		p.svcBuf = r.n.declare(p.svc)
	}
	if p.eLocal {
		p.xlbBuf = r.n.declare(p.xlb)
	}
	r.xlbClusterIP(&p)
	r.xlbExternalIPs(&p)
	r.xlbLoadBalancer(&p)
	if p.nodePort != 0 && r.nodePortsOK {
		r.xlbNodePort(&p)
	}
	r.healthCheckNodePort(sp)
	if !p.hasEndpoints {
		if !r.v.hasExternalServicesChain() {
			// Written last before 1.10.
			r.filter.services.add(noEndpoints(sp).rule(r.dest(sp, p.clusterIP)))
		}
		return
	}
	// "Now write loadbalancing & DNAT rules."
	r.serviceToEndpoints(sp, p.svcBuf, p.ready, r.portComment(sp))
	if p.eLocal {
		r.xlbLocalChain(&p)
	}
}

// xlbEndpoints picks a port's endpoints as 1.5-1.23 do and writes the
// KUBE-SEP- chains of those in use (syncProxyRules' endpoint loop and
// "Generate the per-endpoint chains"): the ready ones, and for eTP=Local
// the local ready ones, else (ProxyTerminatingEndpoints) the local
// serving+terminating ones.
func (r *renderer) xlbEndpoints(sp *svcPort) xlbPort {
	p := xlbPort{svcPort: sp, svc: prefixSVC + sp.hash, xlb: prefixXLB + sp.hash, fw: prefixFW + sp.hash}
	eps := sp.filteredEndpoints()
	// Terminating endpoints only count for eTP=Local (KUBE-XLB-).
	usable, localReady, localTerm := scanUsable(eps, sp.eLocal && r.gateTerm)
	p.hasEndpoints = usable
	useTerm := !localReady && localTerm
	for _, e := range eps {
		inUse := e.ready
		if e.ready {
			p.ready = append(p.ready, e)
		}
		if sp.eLocal && e.local && (useTerm && e.serving && e.terminating || !useTerm && e.ready) {
			p.local = append(p.local, e)
			inUse = true
		}
		if inUse {
			r.writeSEP(sp, e)
		}
	}
	p.emit = p.hasEndpoints || !r.v.hasExternalServicesChain() // pre-1.10: rules even without endpoints
	return p
}

// xlbClusterIP is "Capture the clusterIP." (1.5-1.23): masquerade (in
// KUBE-SVC- from 1.22), jump to KUBE-SVC-; without endpoints (1.10+) the
// filter REJECT.
func (r *renderer) xlbClusterIP(p *xlbPort) {
	if p.emit {
		a := cmt(p.name+" cluster IP") + " " + r.dest(p.svcPort, p.clusterIP)
		masqTo := r.nat.services
		if r.v.hasMasqueradeInServiceChain() {
			masqTo = p.svcBuf
		}
		r.internalMasquerade(masqTo, a)
		r.nat.services.add(a + " -j " + p.svc)
	}
	if !p.hasEndpoints && r.v.hasExternalServicesChain() {
		r.filter.services.add(noEndpoints(p.svcPort).rule(r.dest(p.svcPort, p.clusterIP)))
	}
}

// xlbExternalIPs is "Capture externalIPs." (1.5-1.23).
func (r *renderer) xlbExternalIPs(p *xlbPort) {
	for _, e := range p.externalIP {
		a := cmt(p.name+" external IP") + " " + r.dest(p.svcPort, e)
		if r.v.hasMasqueradeInServiceChain() {
			r.xlbExternalIP1_22(p, a, e)
			continue
		}
		if p.emit {
			r.externalIPCapture(a, p.svc)
		}
		if !p.hasEndpoints && r.v.rejectsExternalIPsWithoutEndpoints() {
			r.externalRejects().add(noEndpoints(p.svcPort).rule(r.dest(p.svcPort, e)))
		}
	}
}

// xlbExternalIP1_22 is one externalIP from 1.22: a filter REJECT without
// endpoints, else the masquerade in KUBE-SVC- (eTP=Cluster) and one jump,
// to KUBE-XLB- for eTP=Local.
func (r *renderer) xlbExternalIP1_22(p *xlbPort, args string, ip net.IP) {
	if !p.hasEndpoints {
		r.filter.externalServices.add(noEndpoints(p.svcPort).rule(r.dest(p.svcPort, ip)))
		return
	}
	dest := p.xlb
	if !p.eLocal {
		dest = p.svc
		if r.detector {
			p.svcBuf.add(args + " ! -s " + r.m.clusterCIDR + " -j " + chainMarkMasq)
		} else {
			p.svcBuf.add(args + " -j " + chainMarkMasq)
		}
	}
	r.nat.services.add(args + " -j " + dest)
}

// externalRejects is where 1.5-1.23 write the no-endpoint REJECTs of
// externalIPs and NodePorts: filter KUBE-EXTERNAL-SERVICES from 1.10.
func (r *renderer) externalRejects() *chainBuf {
	if r.v.hasExternalServicesChain() {
		return r.filter.externalServices
	}
	return r.filter.services
}

// xlbLoadBalancer is "Capture load-balancer ingress." (1.5-1.23): one
// KUBE-FW- jump per ingress IP, the FW chain masquerading (eTP=Cluster),
// admitting the loadBalancerSourceRanges and dropping the rest; without
// endpoints the REJECT (in KUBE-EXTERNAL-SERVICES from 1.20, which sees
// forwarded traffic).
func (r *renderer) xlbLoadBalancer(p *xlbPort) {
	for i, l := range p.lbIP {
		if !p.emit { // only from 1.10: before, emit is always true
			rej := r.filter.services
			if r.v.externalServicesFromForward() {
				rej = r.filter.externalServices
			}
			rej.add(noEndpoints(p.svcPort).rule(r.dest(p.svcPort, l)))
			continue
		}
		fwBuf := r.n.declare(p.fw)
		r.nat.services.add(cmt(p.name+" loadbalancer IP") + " " + r.dest(p.svcPort, l) + " -j " + p.fw)
		a := cmt(p.name + " loadbalancer IP")
		chosen := p.xlb
		if !p.eLocal {
			fwBuf.add(a + " -j " + chainMarkMasq)
			chosen = p.svc
		}
		if len(p.srcRanges) == 0 {
			fwBuf.add(a + " -j " + chosen)
		} else {
			r.sourceRangeRules(fwBuf, p.svcPort, a, chosen, p.lbIP[i:i+1])
		}
		fwBuf.add(a + " -j " + chainMarkDrop)
	}
}

// xlbNodePort is "Capture nodeports." (1.5-1.23): eTP=Cluster masquerades
// (in KUBE-SVC- from 1.22) and jumps to KUBE-SVC-, eTP=Local masquerades
// only localhost sources (1.10+) and jumps to KUBE-XLB-; without
// endpoints the REJECT (1.6+).
func (r *renderer) xlbNodePort(p *xlbPort) {
	v, nnp := r.v, r.nat.nodePorts
	a := cmt(p.name) + " " + proto(p.svcPort) + dport(p.nodePort)
	switch {
	case !p.emit:
	case !p.eLocal:
		if v.hasMasqueradeInServiceChain() {
			p.svcBuf.add(a + " -j " + chainMarkMasq)
		} else {
			nnp.add(a + " -j " + chainMarkMasq)
		}
		nnp.add(a + " -j " + p.svc)
	default:
		if v.masqueradesLocalhostNodePorts() {
			nnp.add(a + " -s 127.0.0.0/8 -j " + chainMarkMasq)
		}
		nnp.add(a + " -j " + p.xlb)
	}
	if !p.hasEndpoints && v.rejectsNodePortsWithoutEndpoints() {
		r.externalRejects().add(noEndpoints(p.svcPort).rule("-m addrtype --dst-type LOCAL " + proto(p.svcPort) + dport(p.nodePort)))
	}
}

// xlbLocalChain fills KUBE-XLB- ("The logic below this applies only if
// this service is marked as OnlyLocal"): pod traffic short-circuited to
// KUBE-SVC-, node-local traffic masqueraded to it (1.15+), then the local
// endpoints (with affinity), or a drop without any.
func (r *renderer) xlbLocalChain(p *xlbPort) {
	b := p.xlbBuf
	if r.detector {
		b.add(cmt("Redirect pods trying to reach external loadbalancer VIP to clusterIP") + " -s " + r.m.clusterCIDR + " -j " + p.svc)
	}
	if r.v.xlbRoutesLocalTraffic() {
		b.add(cmt("masquerade LOCAL traffic for "+p.name+" LB IP") + " -m addrtype --src-type LOCAL -j " + chainMarkMasq)
		b.add(cmt("route LOCAL traffic for "+p.name+" LB IP to service chain") + " -m addrtype --src-type LOCAL -j " + p.svc)
	}
	if len(p.local) == 0 {
		b.add(cmt(p.name+" has no local endpoints") + " -j " + chainMarkDrop)
		return
	}
	if p.affinity {
		for _, e := range p.local {
			b.add(cmt(p.name) + " -m recent --name " + e.chain + " --rcheck --seconds " +
				strconv.Itoa(p.stickySecs) + " --reap -j " + e.chain)
		}
	}
	for i, e := range p.local {
		stat := ""
		if i < len(p.local)-1 {
			stat = " -m statistic --mode random --probability " + r.probability(len(p.local)-i)
		}
		b.add(cmt("Balancing rule "+strconv.Itoa(i)+" for "+p.name) + stat + " -j " + e.chain)
	}
}

// xlbForward writes KUBE-FORWARD (1.9+): the INVALID drop (1.15+), the
// accept of marked traffic and the conntrack accepts.
func (r *renderer) xlbForward() {
	ffwd := r.filter.forward
	if ffwd == nil {
		return
	}
	if r.v.dropsInvalid() {
		ffwd.add("-m conntrack --ctstate INVALID -j DROP")
	}
	ffwd.add(cmt("kubernetes forwarding rules") + " -m mark --mark " + r.markMask + " -j ACCEPT")
	ffwd.add(forwardConntrackRules(r.v, r.m.clusterCIDR)...)
}
