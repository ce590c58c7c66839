package agent

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/kolo/xmlrpc"

	"github.com/rocksclusters/vcluster/src/internal/agentapi"
)

func TestDecodeCall(t *testing.T) {
	in := `<?xml version='1.0'?>
<methodCall>
<methodName>guest.define</methodName>
<params>
<param><value><struct>
<member><name>name</name><value><string>vm-a&amp;b</string></value></member>
<member><name>cpus</name><value><int>2</int></value></member>
<member><name>big</name><value><i8>5000000000</i8></value></member>
<member><name>ok</name><value><boolean>1</boolean></value></member>
<member><name>load</name><value><double>-1.5</double></value></member>
<member><name>raw</name><value><base64>aGk=</base64></value></member>
<member><name>when</name><value><dateTime.iso8601>20260101T00:00:00</dateTime.iso8601></value></member>
<member><name>none</name><value><nil/></value></member>
<member><name>plain</name><value>untyped</value></member>
<member><name>empty</name><value></value></member>
<member><name>macs</name><value><array><data><value>a</value><value><i4>3</i4></value></data></array></value></member>
</struct></value></param>
<param><value><array><data></data></array></value></param>
</params>
</methodCall>
`
	c, err := DecodeCall([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Call{Method: "guest.define", Params: []any{
		map[string]any{"name": "vm-a&b", "cpus": 2, "big": 5000000000, "ok": true, "load": -1.5,
			"raw": []byte("hi"), "when": DateTime("20260101T00:00:00"), "none": nil,
			"plain": "untyped", "empty": "", "macs": []any{"a", 3}},
		[]any{},
	}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %#v\nwant %#v", c, want)
	}
}

func TestDecodeCallRejects(t *testing.T) {
	bad := map[string]string{
		"empty":          "",
		"not a call":     "<methodResponse/>",
		"no name":        "<methodCall><params/></methodCall>",
		"unclosed":       "<methodCall><methodName>a</methodName><params>",
		"trailing":       "<methodCall><methodName>a</methodName></methodCall><x/>",
		"int overflow":   "<methodCall><methodName>a</methodName><params><param><value><int>4294967296</int></value></param></params></methodCall>",
		"bad bool":       "<methodCall><methodName>a</methodName><params><param><value><boolean>yes</boolean></value></param></params></methodCall>",
		"unknown type":   "<methodCall><methodName>a</methodName><params><param><value><float>1</float></value></param></params></methodCall>",
		"mixed":          "<methodCall><methodName>a</methodName><params><param><value>x<int>1</int></value></param></params></methodCall>",
		"dup member":     "<methodCall><methodName>a</methodName><params><param><value><struct><member><name>a</name><value>1</value></member><member><name>a</name><value>2</value></member></struct></value></param></params></methodCall>",
		"entity":         `<!DOCTYPE a [<!ENTITY e "x">]><methodCall><methodName>&e;</methodName></methodCall>`,
		"bad base64":     "<methodCall><methodName>a</methodName><params><param><value><base64>!!</base64></value></param></params></methodCall>",
		"mismatched tag": "<methodCall><methodName>a</methodName><params><param><value><int>1</string></value></param></params></methodCall>",
		"deep":           "<methodCall><methodName>a</methodName><params><param><value>" + strings.Repeat("<array><data><value>", 40) + "x" + strings.Repeat("</value></data></array>", 40) + "</value></param></params></methodCall>",
	}
	for name, in := range bad {
		if _, err := DecodeCall([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: multi-line error %q", name, err)
		}
	}
}

// kolo/xmlrpc (our Go client) must read what we encode, and we must read
// what it encodes.
func TestInteropWithKolo(t *testing.T) {
	st := agentapi.HostStatus{Hostname: "c<0>&", CPUs: 8, Load1: 0.25, MemTotalMB: 16384,
		Guests:   []agentapi.GuestInfo{{Name: "vm-1", State: "running", CPUs: 1, MemMB: 512, MACs: []string{"02:00:00:00:00:01"}}},
		Counters: agentapi.Counters{Replayed: 3}}
	var buf bytes.Buffer
	if err := encodeResponse(&buf, st); err != nil {
		t.Fatal(err)
	}
	var got agentapi.HostStatus
	if err := xmlrpc.Response(buf.Bytes()).Unmarshal(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, st) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, st)
	}
	buf.Reset()
	encodeFault(&buf, agentapi.FaultNoSuchGuest, "no guest <x>")
	err := xmlrpc.Response(buf.Bytes()).Err()
	fe, ok := err.(xmlrpc.FaultError)
	if !ok || fe.Code != agentapi.FaultNoSuchGuest || fe.String != "no guest <x>" {
		t.Fatalf("fault round trip: %#v", err)
	}

	spec := guestSpec("vm-2")
	body, err := xmlrpc.EncodeMethodCall(agentapi.MethodGuestDefine, spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeCall(body)
	if err != nil {
		t.Fatal(err)
	}
	back, err := specFromValue(c.Params[0])
	if err != nil || !reflect.DeepEqual(back, spec) {
		t.Fatalf("spec round trip: %v\n%+v\n%+v", err, back, spec)
	}
}

func FuzzDecodeCall(f *testing.F) {
	for _, s := range []string{
		"<methodCall><methodName>host.status</methodName></methodCall>",
		"<methodCall><methodName>guest.start</methodName><params><param><value><string>vm-1</string></value></param></params></methodCall>",
		"<?xml version='1.0'?><methodCall><methodName>guest.define</methodName><params><param><value><struct><member><name>macs</name><value><array><data><value>02:00:00:00:00:01</value></data></array></value></member><member><name>cpus</name><value><int>1</int></value></member></struct></value></param></params></methodCall>",
		"<methodCall><methodName>a</methodName><params><param><value><base64>aGk=</base64></value></param><param><value><nil/></value></param><param><value><double>1e3</double></value></param></params></methodCall>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := DecodeCall(in)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if c.Method == "" {
			t.Fatal("accepted a call without a method name")
		}
		// Whatever decodes must be safe to hand to the spec reader.
		for _, p := range c.Params {
			specFromValue(p)
		}
	})
}
