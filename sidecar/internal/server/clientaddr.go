package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the addresses whose forwarded headers the sidecar
// believes: the gateways in front of it. Empty, it believes none.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads --trusted-proxies: CIDRs or single addresses.
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			t = append(t, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR such as 10.0.0.0/8", s)
		}
		t = append(t, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return t, nil
}

func (t TrustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerHost is the connecting address without its port, cut from
// RemoteAddr without allocating.
func peerHost(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.HasSuffix(addr, "]") {
		addr = addr[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// clientAddress is the address a request comes from. It is the connecting
// address, unless that is a trusted proxy: then it is the right-most
// X-Forwarded-For entry that is not itself a trusted proxy, each proxy
// having appended the address it saw. Entries left of that one are the
// client's own claims and are never believed. It also reports whether the
// connecting address is a trusted proxy.
func (t TrustedProxies) clientAddress(r *http.Request) (client string, fromProxy bool) {
	peer := peerHost(r)
	if len(t) == 0 {
		return peer, false
	}
	a, err := netip.ParseAddr(peer)
	if err != nil || !t.contains(a) {
		return peer, false
	}
	client = peer
	xff := r.Header["X-Forwarded-For"]
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				entry, list = list, ""
			}
			a, ok := parseForwardedAddr(strings.TrimSpace(entry))
			if !ok {
				// A proxy we trust passed on something that is not an
				// address: the last address we could believe is the client.
				return client, true
			}
			client = a.String()
			if !t.contains(a) {
				return client, true
			}
		}
	}
	return client, true
}

// parseForwardedAddr reads one X-Forwarded-For entry: an address, possibly
// with a port, IPv6 possibly in brackets.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
