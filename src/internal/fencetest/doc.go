// Package fencetest holds the fencing scenarios of docs/controller.md
// (Fencing): real vcluster-agent processes, each in its own network
// namespace over its own private libvirtd, a real vclusterd monitor with
// the default timings, and a sampler that reads every container's libvirt
// locally every 100 ms and fails the test if any sample sees a guest
// running on two containers. It has no non-test code.
package fencetest
