package agentclient

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "vm-container-0-0:8677", "ftp://x/", "http://", "://"} {
		if _, err := New(u, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// An agent nobody listens for is a transport error, never a Fault, so
// callers can tell "unreachable" from "unknown guest".
func TestUnreachableIsNotAFault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New("http://"+addr+"/RPC2", nil, WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if err == nil {
		t.Fatal("status from nowhere succeeded")
	}
	if _, isFault := agentapi.FaultCode(err); isFault {
		t.Fatalf("transport error reported as a fault: %v", err)
	}
}
