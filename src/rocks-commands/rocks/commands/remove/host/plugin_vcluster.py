# vcluster roll: the plugin of `rocks remove host` that forgets a guest's
# vcluster rows (its vc_vms row and its overlay key, a secure attribute no
# base plugin removes), so that vcluster's tables stay consistent with
# Rocks'. It runs `rocks-vcluster remove vcluster host HOST plugin=yes`
# (only vcluster's rows; without plugin=yes the command removes guests
# whole, Rocks rows too), whose SQL is
# parameterised and tested with the rest of the commands, before any of
# Rocks' own plugins (so it waits on no lock of theirs), as the kvm roll's
# plugin_vm.py runs `rocks remove host vm`. A failure aborts the removal
# before Rocks has deleted anything.
#
# Runs under Python 2.6+ and 3.
import os
import subprocess

import rocks.commands

RollName = "vcluster"

BINARY = "/opt/rocks/bin/rocks-vcluster"

# Every plugin of rocks remove host in base 6.x and the kvm and xen rolls.
ROCKS_PLUGINS = ['alias', 'attr', 'boot', 'bootflags', 'interface', 'key',
	'node_rolls', 'partition', 'route', 'vm', 'host']


class Plugin(rocks.commands.Plugin):

	def provides(self):
		return 'vcluster'

	def precedes(self):
		return ROCKS_PLUGINS

	def run(self, host):
		cmd = os.environ.get("VCLUSTER_CMD") or BINARY
		rc = subprocess.call([cmd, 'remove', 'vcluster', 'host', str(host), 'plugin=yes'])
		if rc != 0:
			self.owner.abort('%s remove vcluster host %s plugin=yes failed (exit %d); '
				'nothing was removed' % (cmd, host, rc))
