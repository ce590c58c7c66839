# vcluster roll: the sec_attr plugin of a guest's overlay key.
#
# Installed on the frontend as /opt/rocks/var/plugins/sec_attr/vcluster_key.py
# (mode 0400), next to Rocks' own root_pw and ssh_host_*_key plugins. The key
# is the guest's secure attribute vcluster_key (sec_node_attributes, which
# rocks-db-perms grants to no one; `rocks add vcluster` sets it). `rocks sync
# host sec_attr GUEST` (run by the frontend's sec-channel when a new guest's
# 411-client asks with rqst-sec-attrs at first boot, or by hand) sends this
# file's source with the value to the guest, where `rocks run host sec_attr`
# execs it inside a function and calls plugin().filter(value) as root. So
# everything the plugin needs is inside the class (module-level names of an
# exec'd source are not the methods' globals).
#
# Runs under Python 2.6+ and 3.
import rocks.commands


class plugin(rocks.commands.sec_attr_plugin):
	key_dir = '/etc/vcluster'
	key_file = 'edge.key'

	def get_sec_attr(self):
		return 'vcluster_key'

	def filter(self, value):
		key = (value or '').strip()
		if len(key) != 64 or key.strip('0123456789abcdefABCDEF'):
			# Never echo the value: it is a secret.
			raise ValueError('vcluster_key: want 64 hexadecimal characters')
		self.write_key(key)
		self.restart_edge()

	def write_key(self, key):
		# A temporary file (mkstemp: mode 0600) renamed over the key, so
		# the key is never readable by others, nor half written.
		import os
		import tempfile
		if not os.path.isdir(self.key_dir):
			os.makedirs(self.key_dir)
			os.chmod(self.key_dir, int('755', 8))
		fd, tmp = tempfile.mkstemp(dir=self.key_dir, prefix='.' + self.key_file + '.')
		try:
			os.write(fd, (key + '\n').encode('ascii'))
			os.fsync(fd)
		finally:
			os.close(fd)
		os.chmod(tmp, int('600', 8))
		os.rename(tmp, os.path.join(self.key_dir, self.key_file))

	def restart_edge(self):
		# The edge enabled at boot could not start without its key; with
		# the key it starts (or reloads a new one).
		import os
		import subprocess
		if os.path.exists('/usr/bin/systemctl') or os.path.exists('/bin/systemctl'):
			cmd = ['systemctl', 'restart', 'vcluster-edge.service']
		else:
			cmd = ['/sbin/service', 'vcluster-edge', 'restart']
		devnull = open(os.devnull, 'w')
		try:
			subprocess.call(cmd, stdout=devnull, stderr=devnull)
		finally:
			devnull.close()
