// Package agentclient calls vcluster-agent from Go: the frontend's
// commands and vclusterd use it. Requests and responses are encoded and
// decoded by kolo/xmlrpc; transport, deadlines and signatures are ours,
// because kolo's client has no context support.
package agentclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
	"github.com/rocksclusters/vcluster/src/internal/auth"
)

// maxResponse bounds what we read from an agent (a status with a few
// hundred guests is well under 1 MiB).
const maxResponse = 16 << 20

// Client talks to one agent. It is safe for concurrent use.
type Client struct {
	url     string
	key     *auth.Key
	http    *http.Client
	timeout time.Duration
	now     func() time.Time

	lease    time.Duration // carried in every signed call once the agent gave a token; 0 none
	leaseArm bool          // arm the agent's lease (vclusterd), or only renew an armed one
	mu       sync.Mutex
	token    string    // the agent's latest lease token, from a host.status answer
	anchor   time.Time // when that answer arrived
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds each call that has no earlier context deadline
// (default 30s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithTLSConfig sets the TLS configuration for https:// agents.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) {
		t, ok := c.http.Transport.(*http.Transport)
		if !ok {
			t = http.DefaultTransport.(*http.Transport).Clone()
		} else {
			t = t.Clone() // keeps New's connection pool settings
		}
		t.TLSClientConfig = cfg
		c.http.Transport = t
	}
}

// WithLease makes every signed call renew the agent's lease for d
// (docs/agent-protocol.md, Leases). arm: grant a lease to an agent that
// holds none (vclusterd); otherwise only extend one it holds (commands).
// Agents that hand out no token (older ones) are called as before.
func WithLease(d time.Duration, arm bool) Option {
	return func(c *Client) { c.lease, c.leaseArm = d, arm }
}

// WithHTTPClient replaces the HTTP client (its Timeout is kept).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New makes a client for the agent at url (http://host:8678/ or https://).
// A nil key gives a read-only client: state-changing calls fail with
// FaultUnauthenticated from the agent.
func New(rawURL string, key *auth.Key, opts ...Option) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent URL %q: want http://host:port/ or https://host:port/", rawURL)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	c := &Client{url: rawURL, key: key, http: &http.Client{Transport: t}, timeout: 30 * time.Second, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL is the agent's address.
func (c *Client) URL() string { return c.url }

// call sends one methodCall and decodes the result into reply (nil to
// ignore it). Faults come back as *agentapi.Fault; anything else is a
// transport error ("unreachable").
func (c *Client) call(ctx context.Context, method string, reply any, args ...any) error {
	body, err := xmlrpc.EncodeMethodCall(method, args...)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", method, err)
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml")
	if c.key != nil {
		c.key.SignLease(body, c.now(), c.leaseHeader()).SetHeaders(req.Header)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.url, err)
	}
	defer resp.Body.Close()
	if method == agentapi.MethodHostStatus {
		c.keepToken(resp.Header.Get(auth.HeaderLeaseToken))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s %s: reading response: %w", method, c.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %s", method, c.url, resp.Status)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%s %s: response over %d bytes", method, c.url, maxResponse)
	}
	r := xmlrpc.Response(data)
	if err := r.Err(); err != nil {
		var fe xmlrpc.FaultError
		if errors.As(err, &fe) {
			return &agentapi.Fault{Code: fe.Code, Message: fe.String}
		}
		return fmt.Errorf("%s %s: bad fault: %w", method, c.url, err)
	}
	if reply == nil {
		return nil
	}
	if err := r.Unmarshal(reply); err != nil {
		return fmt.Errorf("%s %s: bad response: %w", method, c.url, err)
	}
	return nil
}

// Status is the container's load, capacity and guests.
func (c *Client) Status(ctx context.Context) (agentapi.HostStatus, error) {
	var st agentapi.HostStatus
	err := c.call(ctx, agentapi.MethodHostStatus, &st)
	return st, err
}

// List is every guest on the container.
func (c *Client) List(ctx context.Context) ([]agentapi.GuestInfo, error) {
	var gs []agentapi.GuestInfo
	err := c.call(ctx, agentapi.MethodGuestList, &gs)
	return gs, err
}

// Define creates a guest; an identical spec again is a no-op.
func (c *Client) Define(ctx context.Context, spec agentapi.GuestSpec) error {
	if spec.MACs == nil {
		spec.MACs = []string{}
	}
	return c.call(ctx, agentapi.MethodGuestDefine, nil, spec)
}

// Start boots a guest (no-op if running).
func (c *Client) Start(ctx context.Context, name string) error {
	return c.call(ctx, agentapi.MethodGuestStart, nil, name)
}

// Shutdown asks a guest to power off (no-op if stopped).
func (c *Client) Shutdown(ctx context.Context, name string) error {
	return c.call(ctx, agentapi.MethodGuestShutdown, nil, name)
}

// Destroy powers a guest off at once (no-op if stopped).
func (c *Client) Destroy(ctx context.Context, name string) error {
	return c.call(ctx, agentapi.MethodGuestDestroy, nil, name)
}

// Undefine removes a stopped guest's definition (its disk stays).
func (c *Client) Undefine(ctx context.Context, name string) error {
	return c.call(ctx, agentapi.MethodGuestUndefine, nil, name)
}

// Console is the last lines (1 to agentapi.MaxConsoleLines) of a KVM
// guest's serial console, joined by newlines; a signed call.
func (c *Client) Console(ctx context.Context, name string, lines int) (string, error) {
	var text string
	err := c.call(ctx, agentapi.MethodGuestConsole, &text, name, lines)
	return text, err
}

// leaseHeader is the lease this call carries ("" none).
func (c *Client) leaseHeader() string {
	if c.lease <= 0 {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == "" {
		return ""
	}
	v := strconv.FormatInt(c.lease.Milliseconds(), 10) + " " + c.token
	if !c.leaseArm {
		v += " renew"
	}
	return v
}

// keepToken remembers the token of a host.status answer and when it
// arrived. Only status answers count, so that a frontend that stores the
// time of every answered status (vc_health.LastSeen) knows the latest
// moment any lease it sent can be anchored at.
func (c *Client) keepToken(tok string) {
	if tok == "" || len(tok) > 64 {
		return
	}
	c.mu.Lock()
	c.token, c.anchor = tok, time.Now()
	c.mu.Unlock()
}

// LeaseAnchor is when the client last received a lease token (zero:
// never). No lease it sent can run on the agent past LeaseAnchor plus the
// lease length: the token was minted before it arrived here.
func (c *Client) LeaseAnchor() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.anchor
}
