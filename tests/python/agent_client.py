#!/usr/bin/python3
"""Calls a running vcluster-agent the way Rocks' Python tools do: the
standard library's xmlrpc.client, signed with hmac/hashlib exactly as
docs/agent-protocol.md describes. Run by src/cmd/vcluster-agent's tests:

    agent_client.py URL TRUSTED_KEY_FILE UNTRUSTED_KEY_FILE

Prints one line per check and exits non-zero at the first failure."""

import binascii
import hashlib
import hmac
import http.client
import os
import sys
import time
import urllib.parse
import xmlrpc.client as xmlrpclib


class SignedTransport(xmlrpclib.Transport):
    """The recipe from docs/agent-protocol.md, plus two test hooks:
    skew (seconds added to the timestamp) and a record of the last
    signed request so that it can be replayed."""

    def __init__(self, key_file, skew=0):
        xmlrpclib.Transport.__init__(self)
        self.secret = binascii.unhexlify(open(key_file).read().strip())
        self.key_id = hashlib.sha256(self.secret).hexdigest()[:16]
        self.skew = skew
        self.last = None

    def send_content(self, connection, request_body):
        if not isinstance(request_body, bytes):
            request_body = request_body.encode('utf-8')
        ts = str(int(time.time()) + self.skew)
        nonce = binascii.hexlify(os.urandom(16)).decode('ascii')
        signed = '\n'.join(['vcluster-agent-v1', self.key_id, ts, nonce,
                            hashlib.sha256(request_body).hexdigest()])
        mac = hmac.new(self.secret, signed.encode('ascii'), hashlib.sha256).hexdigest()
        headers = {'X-Vcluster-Key-Id': self.key_id, 'X-Vcluster-Timestamp': ts,
                   'X-Vcluster-Nonce': nonce, 'X-Vcluster-Signature': mac}
        for k, v in headers.items():
            connection.putheader(k, v)
        self.last = (request_body, headers)
        xmlrpclib.Transport.send_content(self, connection, request_body)


checks = 0


def check(what, cond, detail=''):
    global checks
    if not cond:
        print('FAIL %s %s' % (what, detail))
        sys.exit(1)
    checks += 1
    print('ok   %s' % what)


def fault_code(fn, *args):
    try:
        fn(*args)
    except xmlrpclib.Fault as f:
        return f.faultCode
    return 0


def main():
    url, key_file, stranger_file = sys.argv[1:4]
    ro = xmlrpclib.ServerProxy(url)
    tr = SignedTransport(key_file)
    rw = xmlrpclib.ServerProxy(url, transport=tr)

    st = ro.host.status()
    for k in ('hostname', 'cpus', 'load1', 'load5', 'load15', 'mem_total_mb',
              'mem_free_mb', 'guests', 'hypervisor', 'version', 'counters'):
        check('host.status has ' + k, k in st, repr(st))
    check('load1 is a float', isinstance(st['load1'], float))
    check('guest.list is a list', isinstance(ro.guest.list(), list))

    spec = {'name': 'vm-py-0', 'cpus': 1, 'mem_mb': 768, 'disk_gb': 2,
            'macs': ['02:5C:00:00:01:00'], 'bridge': 'eth0', 'boot': 'pv'}
    check('unsigned define is fault 9', fault_code(ro.guest.define, spec) == 9)
    check('signed define', rw.guest.define(spec) is True)
    check('define again is a no-op', rw.guest.define(spec) is True)
    check('signed start', rw.guest.start('vm-py-0') is True)
    check('start again is a no-op', rw.guest.start('vm-py-0') is True)
    g = [g for g in ro.guest.list() if g['name'] == 'vm-py-0']
    check('guest listed running', g and g[0]['state'] == 'running' and g[0]['mem_mb'] == 768
          and g[0]['macs'] == ['02:5c:00:00:01:00'], repr(g))
    check('signed shutdown', rw.guest.shutdown('vm-py-0') is True)
    rw.guest.start('vm-py-0')
    check('undefine of a running guest is fault 7', fault_code(rw.guest.undefine, 'vm-py-0') == 7)
    check('signed destroy', rw.guest.destroy('vm-py-0') is True)
    check('signed undefine', rw.guest.undefine('vm-py-0') is True)
    check('unknown guest is fault 5', fault_code(rw.guest.start, 'vm-py-0') == 5)

    bad = dict(spec, name='vm-py-bad', mem_mb=-512)
    check('negative memory is fault 4', fault_code(rw.guest.define, bad) == 4)
    bad = dict(spec, name='vm-py-bad', macs=['02:5c:00:00:01'])
    check('bad MAC is fault 4', fault_code(rw.guest.define, bad) == 4)
    bad = dict(spec, name='vm-py-bad', cpus='two')
    check('wrong member type is fault 3', fault_code(rw.guest.define, bad) == 3)
    check('wrong argument type is fault 3', fault_code(rw.guest.start, 42) == 3)
    check('unknown method is fault 2', fault_code(rw.guest.teleport, 'vm-py-0') == 2)

    forged = xmlrpclib.ServerProxy(url, transport=SignedTransport(stranger_file))
    check('untrusted key is fault 10', fault_code(forged.guest.start, 'test') == 10)
    old = xmlrpclib.ServerProxy(url, transport=SignedTransport(key_file, skew=-3600))
    check('hour-old timestamp is fault 11', fault_code(old.guest.start, 'test') == 11)

    # Replay the last genuine request byte for byte.
    rw.guest.destroy('test')
    body, headers = tr.last
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = dict(headers, **{'Content-Type': 'text/xml'})
    conn.request('POST', u.path or '/', body, headers)
    resp = conn.getresponse().read()
    try:
        xmlrpclib.loads(resp)
        code = 0
    except xmlrpclib.Fault as f:
        code = f.faultCode
    check('replayed request is fault 12', code == 12, resp)

    c = ro.host.status()['counters']
    check('rejections counted', c['unsigned'] >= 1 and c['unknown_key'] >= 1 and
          c['expired'] >= 1 and c['replayed'] >= 1, repr(c))
    print('OK %d checks' % checks)


if __name__ == '__main__':
    main()
