// Package firewall defines the Backend interface that native firewall
// drivers (nftables, ipset, firewalld) implement.
package firewall
